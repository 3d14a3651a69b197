"""Stats gRPC shell: translates CompareRequest to `paired.compare`."""

from __future__ import annotations

import grpc

from commentslab.v1 import stats_pb2, stats_pb2_grpc
from services.stats.paired import compare


class StatsServicer(stats_pb2_grpc.StatsServicer):
    """Paired tests over two score vectors."""

    def Compare(self, request, context):
        try:
            result = compare(list(request.control), list(request.experiment), binary=request.binary,
                             alpha=request.alpha or 0.05)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        reply = stats_pb2.CompareResult(
            metric=request.metric,
            n=result["n"],
            mean_control=result["meanControl"],
            mean_experiment=result["meanExperiment"],
            difference=result["difference"],
            t_test=stats_pb2.TestResult(statistic=result["tTest"]["statistic"], p_value=result["tTest"]["pValue"]),
            significant=result["significant"],
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
