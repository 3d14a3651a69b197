"""ModelServer gRPC shell: protobuf in and out of `Generator`, errors to status codes, cancellation to the loop."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc

from commentslab.services.common.errors import CommentslabError
from commentslab.services.serving.checkpoints import CheckpointNotFound
from commentslab.services.serving.generate import Generator, Sampling, UnknownModel
from commentslab.v1 import model_server_pb2, model_server_pb2_grpc

DEFAULT_MAX_NEW_TOKENS = 128


def sampling_of(request) -> Sampling:
    """The request's settings, with the proto's zero values meaning their defaults."""
    return Sampling(
        n=request.n or 1,
        temperature=request.temperature,
        top_p=request.top_p or 1.0,
        max_new_tokens=request.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
        stop=tuple(request.stop),
        seed=request.seed,
    )


def _abort(context, exc: Exception, what: str):
    code = grpc.StatusCode.NOT_FOUND if isinstance(exc, (UnknownModel, CheckpointNotFound)) else \
        grpc.StatusCode.INVALID_ARGUMENT
    context.abort(code, f"{what}: {exc}")


class ModelServerServicer(model_server_pb2_grpc.ModelServerServicer):
    """Holds one Generator (one decode loop) for all arms."""

    def __init__(self, generator: Generator | None = None):
        self.generator = generator or Generator()

    def Load(self, request, context):
        start = time.perf_counter()
        try:
            count = self.generator.load(request.name, request.checkpoint_uri)
        except (CommentslabError, OSError, ValueError) as exc:
            _abort(context, exc, f"cannot load {request.checkpoint_uri or '(no checkpoint_uri)'}")
        return model_server_pb2.LoadReply(name=request.name, parameters=count,
                                          load_seconds=time.perf_counter() - start)

    def _submit(self, request, context):
        try:
            job = self.generator.submit(request.model, list(request.prompts), sampling_of(request))
        except CommentslabError as exc:
            _abort(context, exc, "cannot generate")
        # Fires when the call ends for any reason; after a normal end the request is finished and this is a no-op.
        context.add_callback(lambda: self._cancel(job, context))
        return job

    def _cancel(self, job, context) -> None:
        if job.finished:
            return
        remaining = context.time_remaining()
        job.cancel("deadline" if remaining is not None and remaining <= 0 else "cancelled")
        self.generator.scheduler.wake()

    def Generate(self, request, context):
        start = time.perf_counter()
        job = self._submit(request, context)
        try:
            texts, reasons = self.generator.collect(job)
        except RuntimeError as exc:
            context.abort(grpc.StatusCode.INTERNAL, str(exc))
        return model_server_pb2.GenerateReply(
            results=[model_server_pb2.Samples(texts=t, finish_reasons=r) for t, r in zip(texts, reasons, strict=True)],
            generated_tokens=job.tokens,
            seconds=time.perf_counter() - start,
        )

    def GenerateStream(self, request, context):
        job = self._submit(request, context)
        try:
            for chunk in self.generator.stream(job):
                yield model_server_pb2.GenerateChunk(
                    prompt_index=chunk.prompt_index, sample_index=chunk.sample_index, text=chunk.text,
                    done=chunk.done, finish_reason=chunk.finish_reason, generated_tokens=chunk.generated_tokens)
        except RuntimeError as exc:
            context.abort(grpc.StatusCode.INTERNAL, str(exc))


def registrar(generator: Generator | None = None) -> Callable[[grpc.Server], None]:
    """A `register` for serve_main/start_server that serves `generator` (a default one if None)."""

    def register(server: grpc.Server) -> None:
        model_server_pb2_grpc.add_ModelServerServicer_to_server(ModelServerServicer(generator), server)

    return register


def register(server: grpc.Server) -> None:
    """Add the ModelServer service with default settings to a server."""
    registrar()(server)
