"""Splitter gRPC shell: translates SplitRequest to `run_split` and streams progress."""

from __future__ import annotations

from pathlib import Path

import grpc
from prometheus_client import Counter

from commentslab.v1 import common_pb2, splitter_pb2, splitter_pb2_grpc
from services.common.artifacts import Location, join_uri, read_jsonl, to_location, to_uri
from services.common.grpc_server import stream_worker
from services.review.queue import ReviewQueue
from services.splitter.split import DEFAULT_NEAR_DUP, ProgressFn, load_arms, split_folds, split_records

# The service's own figures, beside the request counts and latencies of grpc_server's interceptor.
ROWS_WRITTEN = Counter("commentslab_splitter_rows_total", "Dataset rows written", ["arm", "split"])
ROWS_REJECTED = Counter("commentslab_splitter_rejects_total", "Records rejected by validation or de-duplication")


def run_split(records: Location, out: Location, seed: int, ratios: tuple[float, float, float],
              arms: list[str], test_metadata: str, folds: int = 0, group_by: str = "file",
              near_duplicate_threshold: float = DEFAULT_NEAR_DUP, review_queue: Path | None = None,
              arms_file: Path | None = None, progress: ProgressFn | None = None) -> dict:
    """Split the JSONL `records` (local or az://) into `out`: one split, or K folds when folds >= 2."""
    review = ReviewQueue(review_queue).decisions() if review_queue else None
    specs = load_arms(arms_file) if arms_file else None
    common = {"ratios": ratios, "group_by": group_by, "near_duplicate_threshold": near_duplicate_threshold,
              "review": review, "arm_specs": specs, "progress": progress}
    if folds:
        return split_folds(read_jsonl(records), out, folds, seed, arms, test_metadata, **common)
    ratios = common.pop("ratios")
    return split_records(read_jsonl(records), out, seed, ratios, arms, test_metadata, **common)


class SplitterServicer(splitter_pb2_grpc.SplitterServicer):
    """Validates, splits and builds the arms' datasets, streaming Progress then the SplitResult."""

    def Split(self, request, context):
        out = to_location(request.out_uri)

        def work(emit):
            return run_split(
                to_location(request.records_uri), out, request.seed,
                tuple(request.ratios) if request.ratios else (0.70, 0.15, 0.15),
                list(request.arms) or ["control", "experiment"], request.test_metadata or "none",
                folds=request.folds, group_by=request.group_by or "file",
                near_duplicate_threshold=request.near_duplicate_threshold or DEFAULT_NEAR_DUP,
                review_queue=Path(request.review_queue) if request.review_queue else None,
                arms_file=Path(request.arms_file) if request.arms_file else None,
                progress=lambda stage, done, total: emit(splitter_pb2.SplitEvent(
                    progress=common_pb2.Progress(stage=stage, done=done, total=total))),
            )

        def result(report):
            folds = report.get("folds", 0) if report.get("mode") == "folds" else 0
            counts = report.get("counts") or [dict(c, arm=f"{f['fold']}/{c['arm']}") for f in
                                              report.get("foldReports", []) for c in f["counts"]]
            for count in counts:
                ROWS_WRITTEN.labels(count["arm"], count["split"]).inc(count["rows"])
            ROWS_REJECTED.inc(len(report["rejects"]))
            yield splitter_pb2.SplitEvent(result=splitter_pb2.SplitResult(
                datasets_uri=to_uri(join_uri(out, "folds" if folds else "datasets")),
                counts=[splitter_pb2.SplitCount(**c) for c in counts],
                rejects=[common_pb2.Reject(path=request.records_uri, reason=r["reason"], item=str(r["item"]))
                         for r in report["rejects"]],
                report_uri=to_uri(join_uri(out, "folds_report.json" if folds else "split_report.json")),
                leakage_checks_passed=report["leakageChecksPassed"],
                near_duplicates_removed=report.get("duplicatesRemoved", {}).get("nearAcrossSplits", 0),
                folds=folds,
            ))

        yield from stream_worker(work, context, result)


def register(server: grpc.Server) -> None:
    """Add the Splitter service to a server."""
    splitter_pb2_grpc.add_SplitterServicer_to_server(SplitterServicer(), server)
