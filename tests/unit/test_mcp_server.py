"""`commentslab mcp`: the exporter's export_comments tool over MCP stdio, driven by the SDK's own client."""
import json
import os
import sys

import anyio
import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed")

from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402


async def _session_calls(calls: list[tuple[str, dict]]) -> tuple[list[str], list]:
    server = StdioServerParameters(command=sys.executable, args=["-m", "commentslab.services.cli", "mcp"],
                                   env={**os.environ, "COMMENTSLAB_LOG": "WARNING"})
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = [tool.name for tool in (await session.list_tools()).tools]
        results = [await session.call_tool(name, arguments) for name, arguments in calls]
    return tools, results


def _answer(result) -> dict:
    return result.structured_content or json.loads(result.content[0].text)


def test_export_comments_returns_records_and_a_bad_path_is_a_tool_error_while_the_server_keeps_serving(
        humaneval_repo, tmp_path):
    written = tmp_path / "records.jsonl"
    tools, (inline, bad, again, to_file) = anyio.run(_session_calls, [
        ("export_comments", {"repository": str(humaneval_repo), "format": "jsonl", "includeSourceContext": True}),
        ("export_comments", {"repository": str(tmp_path / "not-a-repo")}),
        ("export_comments", {"repository": str(humaneval_repo), "includeSourceContext": False}),
        ("export_comments", {"repository": str(humaneval_repo), "out": str(written)}),
    ])
    assert tools == ["export_comments"]
    assert not inline.is_error
    answer = _answer(inline)
    assert answer["count"] == len(answer["records"]) > 0 and answer["rejects"] == []
    assert bad.is_error and str(tmp_path / "not-a-repo") in bad.content[0].text
    assert not again.is_error and _answer(again)["count"] == answer["count"]
    assert _answer(to_file)["written"] == str(written)
    assert sum(1 for _ in written.open()) == answer["count"]
