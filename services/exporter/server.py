"""Exporter gRPC shell: translates ExportRequest to the core's `run_export` and streams progress."""

from __future__ import annotations

from pathlib import Path

import grpc
from prometheus_client import Counter

from commentslab.services.common.artifacts import to_location, to_path, to_uri
from commentslab.services.common.grpc_server import stream_worker
from commentslab.services.exporter.export import SCENARIO, ExportOptions, report_path, run_export
from commentslab.services.exporter.licence import DEFAULT_ALLOWED
from commentslab.v1 import common_pb2, exporter_pb2, exporter_pb2_grpc

# The service's own figures, beside the request counts and latencies of grpc_server's interceptor.
RECORDS_EXPORTED = Counter("commentslab_exporter_records_total", "Records the exporter wrote to JSONL")
RECORDS_REJECTED = Counter("commentslab_exporter_rejects_total", "Files, comments or records rejected with a reason")


class ExporterServicer(exporter_pb2_grpc.ExporterServicer):
    """Streams Progress while exporting, then the ExportResult."""

    def Export(self, request, context):
        out = to_location(request.out_uri)
        options = ExportOptions(
            context_lines=request.context_lines or 5,
            allowed_licences=tuple(request.allowed_licences) or DEFAULT_ALLOWED,
            licence_gate=not request.no_licence_gate,
            lint=request.lint,
            min_completeness=request.min_completeness,
            scenario=request.scenario or SCENARIO,
            test_conventions=tuple(request.test_conventions),
        )

        def work(emit):
            return run_export(
                to_path(request.repository), out, options.context_lines,
                lambda done, total: emit(exporter_pb2.ExportEvent(
                    progress=common_pb2.Progress(stage="export", done=done, total=total))),
                options=options, more_repositories=[to_path(r) for r in request.more_repositories],
                review_queue=Path(request.review_queue) if request.review_queue else None,
            )

        def result(report):
            RECORDS_EXPORTED.inc(report.records)
            RECORDS_REJECTED.inc(len(report.rejects))
            yield exporter_pb2.ExportEvent(
                result=exporter_pb2.ExportResult(
                    records_uri=request.out_uri,
                    records=report.records,
                    rejects=[common_pb2.Reject(path=r["path"], reason=r["reason"], item=r["item"])
                             for r in report.rejects],
                    report_uri=to_uri(report_path(out)),
                    excluded_repositories=len(report.excluded),
                    removals=dict(report.removals),
                    flagged=len(report.flagged),
                )
            )

        yield from stream_worker(work, context, result)


def register(server: grpc.Server) -> None:
    """Add the Exporter service to a server."""
    exporter_pb2_grpc.add_ExporterServicer_to_server(ExporterServicer(), server)
