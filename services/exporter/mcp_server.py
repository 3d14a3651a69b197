"""`commentslab mcp`: the exporter as an MCP server over stdio, with the Paired Comments server's
`export_comments` tool, so an assistant that already calls that tool reaches this exporter.

The tool is a thin shell over `run_export` (the core): arguments in, the records (or where they were
written) and the rejects out. A call that fails (a path that is not a repository, a format other than
JSONL) returns a tool error naming the argument; the server keeps serving.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from commentslab.services.common.errors import CommentslabError

FORMATS = ("jsonl",)


def export_comments(repository: str, format: str = "jsonl", includeSourceContext: bool = True,  # noqa: A002, N803
                    out: str | None = None) -> dict:
    """Export a repository's `.comments` sidecars with their source as training records.

    repository: the folder of a repository with `.comments` sidecars. format: "jsonl" (the only one).
    includeSourceContext: records carry the lines around each anchor. out: a file to write the records
    to; without it they come back in the answer. Returns the records (or `written` and the count),
    the rejects with their reasons, and the export's counts.
    """
    from commentslab.services.exporter.export import ExportOptions, run_export

    if format not in FORMATS:
        raise ToolError(f"format {format!r}: only {', '.join(FORMATS)} is supported")
    repo = Path(repository).expanduser()
    if not repo.is_dir():
        raise ToolError(f"repository {repository}: not a folder (give the path of a repository with .comments files)")
    options = ExportOptions(context_lines=5 if includeSourceContext else 0)
    with tempfile.TemporaryDirectory(prefix="commentslab-mcp-") as scratch:
        records = Path(out).expanduser() if out else Path(scratch) / "records.jsonl"
        try:
            report = run_export(repo, records, options=options, review_queue=Path(scratch) / "review.sqlite").to_dict()
        except CommentslabError as exc:
            raise ToolError(str(exc)) from exc
        answer = {"repository": str(repo), "count": report["records"], "rejects": report["rejects"],
                  "excludedRepositories": report.get("excludedRepositories", []), "sidecars": report["sidecars"]}
        if out:
            answer["written"] = str(records)
        else:
            with records.open(encoding="utf-8") as handle:
                answer["records"] = [json.loads(line) for line in handle if line.strip()]
    return answer


def build_server() -> MCPServer:
    """The MCP server with its one tool."""
    server = MCPServer("commentslab", instructions="Export .comments sidecars and their source as JSONL "
                       "training records (the Paired Comments export_comments tool).")
    server.add_tool(export_comments, name="export_comments")
    return server


def serve_stdio() -> None:
    """Serve over stdin/stdout until the client closes them."""
    build_server().run("stdio")
