"""Trainer gRPC shell: runs `train_arm` and streams each step to the caller.

A request whose out_uri holds a checkpoint of the same config and data resumes from it: the stream then
starts with a status event (stage "resume") saying from which step, and each progress event carries
`resumed_from_step`."""

from __future__ import annotations

import json
import threading

import grpc
from prometheus_client import Counter, Gauge

from commentslab.services.common.artifacts import to_path, to_uri
from commentslab.services.common.config import config_from_dict
from commentslab.services.common.grpc_server import stream_worker
from commentslab.services.trainer.train import train_arm
from commentslab.v1 import common_pb2, trainer_pb2, trainer_pb2_grpc

# The service's own figures, beside the request counts and latencies of grpc_server's interceptor.
RUNNING = Gauge("commentslab_trainer_runs_in_progress", "Training runs in progress")
STEP = Gauge("commentslab_trainer_step", "Current optimisation step", ["arm"])
TOTAL_STEPS = Gauge("commentslab_trainer_total_steps", "Steps the current run will take", ["arm"])
LOSS = Gauge("commentslab_trainer_loss", "Training loss of the last step", ["arm"])
TOKENS_PER_SECOND = Gauge("commentslab_trainer_tokens_per_second", "Tokens/s of the last step", ["arm"])
STEPS_DONE = Counter("commentslab_trainer_steps_total", "Optimisation steps done", ["arm"])


def recording_steps(emit, arm: str):
    """`emit`, with each progress event's figures recorded as Prometheus metrics on the way."""

    def record(event):
        if not event.HasField("progress"):
            emit(event)
            return
        p = event.progress
        STEP.labels(arm).set(p.step)
        TOTAL_STEPS.labels(arm).set(p.total_steps)
        LOSS.labels(arm).set(p.loss)
        TOKENS_PER_SECOND.labels(arm).set(p.tokens_per_second)
        STEPS_DONE.labels(arm).inc()
        emit(event)

    return record


class TrainerServicer(trainer_pb2_grpc.TrainerServicer):
    """One training at a time: the machine has no room for two."""

    def __init__(self):
        self._busy = threading.Lock()

    def Train(self, request, context):
        if not self._busy.acquire(blocking=False):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "a training run is already in progress")
        RUNNING.inc()
        try:
            yield from self._train(request, context)
        finally:
            RUNNING.dec()
            self._busy.release()

    def _train(self, request, context):
        def work(emit):
            emit = recording_steps(emit, request.arm)
            cfg = config_from_dict(json.loads(request.config_json or "{}"), source="TrainRequest.config_json")
            return train_arm(
                to_path(request.dataset_uri), request.arm, to_path(request.out_uri), cfg, request.tracking_uri,
                on_step=lambda r: emit(trainer_pb2.TrainEvent(progress=trainer_pb2.TrainProgress(**r.__dict__))),
                on_status=lambda text: emit(trainer_pb2.TrainEvent(status=common_pb2.Progress(
                    stage="resume" if text.startswith("resuming") else "train", detail=text))),
                resume=not request.restart,
                job={"fold": request.fold, "seed": cfg.seed} if request.HasField("fold") else None,
            )

        def result(outcome):
            yield trainer_pb2.TrainEvent(
                result=trainer_pb2.TrainResult(
                    checkpoint_uri=to_uri(outcome.checkpoint),
                    mlflow_run_id=outcome.mlflow_run_id,
                    steps=outcome.steps,
                    final_loss=outcome.final_loss,
                    wall_seconds=outcome.wall_seconds,
                    history_uri=to_uri(to_path(request.out_uri) / "history.json"),
                    validation_loss=outcome.validation_loss,
                    stop_reason=outcome.stop_reason,
                    best_step=outcome.best_step or 0,
                    resumed_from_step=outcome.resumed_from_step,
                    registered_model=outcome.registered_model or "",
                    registered_version=outcome.registered_version or "",
                    plan_json=json.dumps(outcome.plan),
                )
            )

        yield from stream_worker(work, context, result)


def register(server: grpc.Server) -> None:
    """Add the Trainer service to a server."""
    trainer_pb2_grpc.add_TrainerServicer_to_server(TrainerServicer(), server)
