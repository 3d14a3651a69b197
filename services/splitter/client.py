"""Calling a running Splitter service with every split option, a progress bar, and the report back."""

from __future__ import annotations

from commentslab.v1 import splitter_pb2, splitter_pb2_grpc
from services.common.artifacts import Location, read_json, to_location, to_uri
from services.common.grpc_client import follow_progress, open_channel

DEADLINE = 600


def split_remote(address: str, records: Location, out: Location, seed: int, ratios: list[float], arms: list[str],
                 test_metadata: str, folds: int = 0, group_by: str = "file", near_duplicate_threshold: float = 0.0,
                 review_queue: str | None = None, arms_file: str | None = None) -> dict:
    """Split through the service at `address`; returns the report it wrote."""
    request = splitter_pb2.SplitRequest(
        records_uri=to_uri(records), out_uri=to_uri(out), seed=seed, ratios=ratios, arms=arms,
        test_metadata=test_metadata, folds=folds, group_by=group_by,
        near_duplicate_threshold=near_duplicate_threshold, review_queue=review_queue or "",
        arms_file=arms_file or "",
    )
    channel = open_channel(address)
    try:
        result = follow_progress(splitter_pb2_grpc.SplitterStub(channel).Split(request, timeout=DEADLINE),
                                 "splitter", "split")
    finally:
        channel.close()
    return read_json(to_location(result.report_uri))
