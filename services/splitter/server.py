"""Splitter gRPC shell: translates SplitRequest to `split_records`."""

from __future__ import annotations

import grpc

from commentslab.v1 import common_pb2, splitter_pb2, splitter_pb2_grpc
from services.common.artifacts import read_jsonl, to_path, to_uri
from services.common.errors import CommentslabError
from services.splitter.split import split_records


class SplitterServicer(splitter_pb2_grpc.SplitterServicer):
    """Validates, splits and builds the arms' datasets."""

    def Split(self, request, context):
        out = to_path(request.out_uri)
        try:
            report = split_records(
                read_jsonl(to_path(request.records_uri)),
                out,
                seed=request.seed,
                ratios=tuple(request.ratios) if request.ratios else (0.70, 0.15, 0.15),
                arms=list(request.arms) or ["control", "experiment"],
                test_metadata=request.test_metadata or "none",
            )
        except (CommentslabError, ValueError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return splitter_pb2.SplitResult(
            datasets_uri=to_uri(out / "datasets"),
            counts=[splitter_pb2.SplitCount(**c) for c in report["counts"]],
            rejects=[common_pb2.Reject(path=request.records_uri, reason=r["reason"], item=str(r["item"]))
                     for r in report["rejects"]],
            report_uri=to_uri(out / "split_report.json"),
        )


def register(server: grpc.Server) -> None:
    """Add the Splitter service to a server."""
    splitter_pb2_grpc.add_SplitterServicer_to_server(SplitterServicer(), server)
