"""ModelServer gRPC shell: loads checkpoints by name and generates through `Generator`."""

from __future__ import annotations

import time

import grpc
from prometheus_client import Counter, Gauge

from commentslab.v1 import model_server_pb2, model_server_pb2_grpc
from services.common.artifacts import to_path
from services.common.errors import CommentslabError
from services.serving.generate import Generator, Sampling

# The service's own figures, beside the request counts and latencies of grpc_server's interceptor.
IN_FLIGHT = Gauge("commentslab_model_server_requests_in_flight", "Generate requests waiting or running")
GENERATED_TOKENS = Counter("commentslab_model_server_generated_tokens_total", "Tokens generated", ["model"])
SAMPLES = Counter("commentslab_model_server_samples_total", "Completions generated", ["model"])
TOKENS_PER_SECOND = Gauge("commentslab_model_server_tokens_per_second", "Tokens/s of the last request", ["model"])
LOADED_MODELS = Gauge("commentslab_model_server_loaded_models", "Models held in memory")


class ModelServerServicer(model_server_pb2_grpc.ModelServerServicer):
    """Holds one Generator for all arms."""

    def __init__(self, generator: Generator | None = None):
        self.generator = generator or Generator()

    def Load(self, request, context):
        start = time.perf_counter()
        try:
            count = self.generator.load(request.name, to_path(request.checkpoint_uri))
        except (CommentslabError, OSError, ValueError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cannot load {request.checkpoint_uri}: {exc}")
        LOADED_MODELS.set(len(self.generator.names()))
        return model_server_pb2.LoadReply(name=request.name, parameters=count,
                                          load_seconds=time.perf_counter() - start)

    def Generate(self, request, context):
        sampling = Sampling(
            n=request.n or 1,
            temperature=request.temperature,
            top_p=request.top_p or 1.0,
            max_new_tokens=request.max_new_tokens or 128,
            stop=tuple(request.stop),
            seed=request.seed,
        )
        start = time.perf_counter()
        IN_FLIGHT.inc()
        try:
            completions, tokens = self.generator.generate(request.model, list(request.prompts), sampling)
        except CommentslabError as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        finally:
            IN_FLIGHT.dec()
        GENERATED_TOKENS.labels(request.model).inc(tokens)
        SAMPLES.labels(request.model).inc(sum(len(c) for c in completions))
        TOKENS_PER_SECOND.labels(request.model).set(tokens / max(time.perf_counter() - start, 1e-9))
        return model_server_pb2.GenerateReply(
            results=[model_server_pb2.Samples(texts=c) for c in completions],
            generated_tokens=tokens,
            seconds=time.perf_counter() - start,
        )


def register(server: grpc.Server) -> None:
    """Add the ModelServer service to a server."""
    model_server_pb2_grpc.add_ModelServerServicer_to_server(ModelServerServicer(), server)
