"""Stats gRPC shell: translates CompareRequest to `compare.compare`."""

from __future__ import annotations

import json

import grpc
from prometheus_client import Counter

from commentslab.services.stats.compare import compare
from commentslab.v1 import stats_pb2, stats_pb2_grpc

# The service's own figures, beside the request counts and latencies of grpc_server's interceptor.
COMPARISONS = Counter("commentslab_stats_comparisons_total", "Paired comparisons made", ["metric", "significant"])


def _rows(values, seeds: int) -> list[list[float]]:
    values = list(values)
    if seeds < 1 or len(values) % seeds:
        raise ValueError(f"{len(values)} scores cannot be {seeds} rows of per-problem scores")
    width = len(values) // seeds
    return [values[i * width : (i + 1) * width] for i in range(seeds)]


class StatsServicer(stats_pb2_grpc.StatsServicer):
    """Paired tests over two score vectors (or seeds x problems matrices)."""

    def Compare(self, request, context):
        seeds = request.seeds or 1
        try:
            result = compare(_rows(request.control, seeds), _rows(request.experiment, seeds), binary=request.binary,
                             alpha=request.alpha or 0.05, seed=request.bootstrap_seed)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        COMPARISONS.labels(request.metric, str(bool(result["significant"])).lower()).inc()
        reply = stats_pb2.CompareResult(
            metric=request.metric,
            n=result["n"],
            mean_control=result["meanControl"],
            mean_experiment=result["meanExperiment"],
            difference=result["difference"],
            t_test=stats_pb2.TestResult(statistic=result["tTest"]["statistic"] or 0.0,
                                        p_value=result["tTest"]["pValue"]),
            significant=result["significant"],
            comparison_json=json.dumps(result, allow_nan=False),
        )
        if result["cohensD"] is not None:
            reply.cohens_d = result["cohensD"]
        if "mcnemar" in result:
            m = result["mcnemar"]
            reply.mcnemar.CopyFrom(stats_pb2.McNemarResult(b=m["b"], c=m["c"], p_value=m["pValue"]))
        return reply


def register(server: grpc.Server) -> None:
    """Add the Stats service to a server."""
    stats_pb2_grpc.add_StatsServicer_to_server(StatsServicer(), server)
