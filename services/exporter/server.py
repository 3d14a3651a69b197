"""Exporter gRPC shell: translates ExportRequest to `run_export` and streams progress."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import grpc
from prometheus_client import Counter

from commentslab.v1 import common_pb2, exporter_pb2, exporter_pb2_grpc
from services.common.artifacts import Location, is_blob, to_location, to_path, to_uri, write_json, write_jsonl
from services.common.grpc_server import stream_worker
from services.exporter.export import ExportOptions, ExportReport, ProgressFn, export_repositories
from services.exporter.licence import DEFAULT_ALLOWED
from services.review.queue import ReviewQueue

# The service's own figures, beside the request counts and latencies of grpc_server's interceptor.
RECORDS_EXPORTED = Counter("commentslab_exporter_records_total", "Records the exporter wrote to JSONL")
RECORDS_REJECTED = Counter("commentslab_exporter_rejects_total", "Files, comments or records rejected with a reason")


def report_path(records: Location) -> Location:
    """Where an export's report goes: beside its records, `<name>.report.json`."""
    if is_blob(records):
        text = str(records)
        return (text[: -len(".jsonl")] if text.endswith(".jsonl") else text) + ".report.json"
    records = to_path(records)
    return records.with_name(records.stem + ".report.json")


def default_review_queue(records: Location) -> Path | None:
    """The review queue beside local records (`<name>.review.sqlite`); None for blob records."""
    if is_blob(records):
        return None
    records = to_path(records)
    return records.with_name(records.stem + ".review.sqlite")


def run_export(repository: Path, records: Location, context_lines: int = 5, progress: ProgressFn | None = None,
               show_progress: bool = False, options: ExportOptions | None = None,
               more_repositories: Iterable[Path] = (), review_queue: Path | None = None) -> ExportReport:
    """Export the repositories into the JSONL `records` (local or az://), its report beside it; flagged
    records go to the review queue."""
    options = options or ExportOptions(context_lines=context_lines or 5)
    repos = [Path(repository), *(Path(r) for r in more_repositories)]
    report = ExportReport(repository=", ".join(str(r) for r in repos))
    write_jsonl(records, export_repositories(repos, report, options, progress, show_progress, encoded=True))
    queue_path = review_queue or default_review_queue(records)
    if report.flagged and queue_path is not None:
        ReviewQueue(queue_path).flag((f["recordId"], f["path"], f["reasons"]) for f in report.flagged)
    summary = report.to_dict()
    summary["reviewQueue"] = str(queue_path) if report.flagged and queue_path is not None else None
    write_json(report_path(records), summary)
    return report


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
