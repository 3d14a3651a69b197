"""Exporter gRPC shell: translates ExportRequest to `export_repository` and streams progress."""

from __future__ import annotations

from pathlib import Path

import grpc

from commentslab.v1 import common_pb2, exporter_pb2, exporter_pb2_grpc
from services.common.artifacts import to_path, to_uri, write_json, write_jsonl
from services.common.grpc_server import stream_worker
from services.exporter.export import ExportReport, export_repository


def report_path(records: Path) -> Path:
    """Where an export's report goes: beside its records, `<name>.report.json`."""
    return records.with_name(records.stem + ".report.json")


def run_export(repository: Path, records: Path, context_lines: int = 5, progress=None, show_progress=False) -> ExportReport:
    """Export `repository` into the JSONL file `records` and its report beside it."""
    report = ExportReport(repository=str(repository))
    write_jsonl(records, export_repository(repository, context_lines or 5, report, progress, show_progress))
    write_json(report_path(records), report.to_dict())
    return report


class ExporterServicer(exporter_pb2_grpc.ExporterServicer):
    """Streams Progress while exporting, then the ExportResult."""

    def Export(self, request, context):
        def work(emit):
            return run_export(
                to_path(request.repository), to_path(request.out_uri), request.context_lines,
                lambda done, total: emit(exporter_pb2.ExportEvent(
                    progress=common_pb2.Progress(stage="export", done=done, total=total))),
            )

        def result(report):
            yield exporter_pb2.ExportEvent(
                result=exporter_pb2.ExportResult(
                    records_uri=request.out_uri,
                    records=report.records,
                    rejects=[common_pb2.Reject(**r) for r in report.rejects],
                    report_uri=to_uri(report_path(to_path(request.out_uri))),
                )
            )

        yield from stream_worker(work, context, result)


def register(server: grpc.Server) -> None:
    """Add the Exporter service to a server."""
    exporter_pb2_grpc.add_ExporterServicer_to_server(ExporterServicer(), server)
