"""Trainer gRPC shell: runs `train_arm` and streams each step to the caller."""

from __future__ import annotations

import json
import threading

import grpc

from commentslab.v1 import trainer_pb2, trainer_pb2_grpc
from services.common.artifacts import to_path, to_uri
from services.common.config import config_from_dict
from services.common.grpc_server import stream_worker
from services.trainer.train import train_arm


class TrainerServicer(trainer_pb2_grpc.TrainerServicer):
    """One training at a time: the machine has no room for two."""

    def __init__(self):
        self._busy = threading.Lock()

    def Train(self, request, context):
        if not self._busy.acquire(blocking=False):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "a training run is already in progress")
        try:
            yield from self._train(request, context)
        finally:
            self._busy.release()

    def _train(self, request, context):
        def work(emit):
            cfg = config_from_dict(json.loads(request.config_json or "{}"), source="TrainRequest.config_json")
            return train_arm(
                to_path(request.dataset_uri), request.arm, to_path(request.out_uri), cfg, request.tracking_uri,
                on_step=lambda r: emit(trainer_pb2.TrainEvent(progress=trainer_pb2.TrainProgress(**r.__dict__))),
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
                )
            )

        yield from stream_worker(work, context, result)


def register(server: grpc.Server) -> None:
    """Add the Trainer service to a server."""
    trainer_pb2_grpc.add_TrainerServicer_to_server(TrainerServicer(), server)
