"""Splitter gRPC shell: translates SplitRequest to the core's `run_split` and streams progress."""

from __future__ import annotations

import grpc
from prometheus_client import Counter

from commentslab.services.common.artifacts import join_uri, to_location, to_uri
from commentslab.services.common.config import SplitOptions
from commentslab.services.common.grpc_server import stream_worker
from commentslab.services.common.layout import split_datasets, split_report
from commentslab.services.splitter.split import run_split
from commentslab.v1 import common_pb2, splitter_pb2, splitter_pb2_grpc

# The service's own figures, beside the request counts and latencies of grpc_server's interceptor.
ROWS_WRITTEN = Counter("commentslab_splitter_rows_total", "Dataset rows written", ["arm", "split"])
ROWS_REJECTED = Counter("commentslab_splitter_rejects_total", "Records rejected by validation or de-duplication")


class SplitterServicer(splitter_pb2_grpc.SplitterServicer):
    """Validates, splits and builds the arms' datasets, streaming Progress then the SplitResult."""

    def Split(self, request, context):
        out = to_location(request.out_uri)

        defaults = SplitOptions()
        options = SplitOptions(
            ratios=list(request.ratios) or defaults.ratios, arms=list(request.arms) or defaults.arms,
            arms_file=request.arms_file or None, test_metadata=request.test_metadata or defaults.test_metadata,
            folds=max(1, request.folds), group_by=request.group_by or defaults.group_by,
            near_duplicate_threshold=request.near_duplicate_threshold or defaults.near_duplicate_threshold,
            review_queue=request.review_queue or None,
        )

        def work(emit):
            return run_split(to_location(request.records_uri), out, request.seed, options,
                             progress=lambda stage, done, total: emit(splitter_pb2.SplitEvent(
                                 progress=common_pb2.Progress(stage=stage, done=done, total=total))))

        def result(report):
            folds = report.get("folds", 0) if report.get("mode") == "folds" else 0
            counts = report.get("counts") or [dict(c, arm=f"{f['fold']}/{c['arm']}") for f in
                                              report.get("foldReports", []) for c in f["counts"]]
            for count in counts:
                ROWS_WRITTEN.labels(count["arm"], count["split"]).inc(count["rows"])
            ROWS_REJECTED.inc(len(report["rejects"]))
            yield splitter_pb2.SplitEvent(result=splitter_pb2.SplitResult(
                datasets_uri=to_uri(split_datasets(out, None) if not folds else join_uri(out, "folds")),
                counts=[splitter_pb2.SplitCount(**c) for c in counts],
                rejects=[common_pb2.Reject(path=request.records_uri, reason=r["reason"], item=str(r["item"]))
                         for r in report["rejects"]],
                report_uri=to_uri(split_report(out)),
                leakage_checks_passed=report["leakageChecksPassed"],
                near_duplicates_removed=report.get("duplicatesRemoved", {}).get("nearAcrossSplits", 0),
                folds=folds,
            ))

        yield from stream_worker(work, context, result)


def register(server: grpc.Server) -> None:
    """Add the Splitter service to a server."""
    splitter_pb2_grpc.add_SplitterServicer_to_server(SplitterServicer(), server)
