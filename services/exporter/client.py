"""Calling a running Exporter service with every export option, a progress bar, and the report back."""

from __future__ import annotations

from collections.abc import Iterable

from commentslab.v1 import exporter_pb2, exporter_pb2_grpc
from services.common.artifacts import Location, read_json, to_location, to_uri
from services.common.grpc_client import follow_progress, open_channel
from services.exporter.export import ExportOptions

DEADLINE = 3600


def export_remote(address: str, repositories: Iterable[Location], out: Location, options: ExportOptions,
                  review_queue: str | None = None) -> dict:
    """Export through the service at `address`; returns the report it wrote."""
    repos = [to_uri(r) for r in repositories]
    request = exporter_pb2.ExportRequest(
        repository=repos[0], more_repositories=repos[1:], out_uri=to_uri(out), context_lines=options.context_lines,
        allowed_licences=list(options.allowed_licences), no_licence_gate=not options.licence_gate,
        lint=options.lint, min_completeness=options.min_completeness, review_queue=review_queue or "",
    )
    channel = open_channel(address)
    try:
        events = exporter_pb2_grpc.ExporterStub(channel).Export(request, timeout=DEADLINE)
        result = follow_progress(events, "exporter", "export", "file")
    finally:
        channel.close()
    return read_json(to_location(result.report_uri))
