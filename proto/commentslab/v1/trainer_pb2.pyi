from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message

from commentslab.v1 import common_pb2 as _common_pb2

DESCRIPTOR: _descriptor.FileDescriptor

class TrainRequest(_message.Message):
    __slots__ = ("dataset_uri", "arm", "out_uri", "config_json", "tracking_uri")
    DATASET_URI_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    OUT_URI_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    TRACKING_URI_FIELD_NUMBER: _ClassVar[int]
    dataset_uri: str
    arm: str
    out_uri: str
    config_json: str
    tracking_uri: str
    def __init__(self, dataset_uri: str | None = ..., arm: str | None = ..., out_uri: str | None = ..., config_json: str | None = ..., tracking_uri: str | None = ...) -> None: ...

class TrainProgress(_message.Message):
    __slots__ = ("step", "total_steps", "loss", "learning_rate", "tokens_per_second", "seconds_left")
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    SECONDS_LEFT_FIELD_NUMBER: _ClassVar[int]
    step: int
    total_steps: int
    loss: float
    learning_rate: float
    tokens_per_second: float
    seconds_left: float
    def __init__(self, step: int | None = ..., total_steps: int | None = ..., loss: float | None = ..., learning_rate: float | None = ..., tokens_per_second: float | None = ..., seconds_left: float | None = ...) -> None: ...

class TrainResult(_message.Message):
    __slots__ = ("checkpoint_uri", "mlflow_run_id", "steps", "final_loss", "wall_seconds", "history_uri")
    CHECKPOINT_URI_FIELD_NUMBER: _ClassVar[int]
    MLFLOW_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    FINAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_URI_FIELD_NUMBER: _ClassVar[int]
    checkpoint_uri: str
    mlflow_run_id: str
    steps: int
    final_loss: float
    wall_seconds: float
    history_uri: str
    def __init__(self, checkpoint_uri: str | None = ..., mlflow_run_id: str | None = ..., steps: int | None = ..., final_loss: float | None = ..., wall_seconds: float | None = ..., history_uri: str | None = ...) -> None: ...

class TrainEvent(_message.Message):
    __slots__ = ("progress", "result", "status")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    progress: TrainProgress
    result: TrainResult
    status: _common_pb2.Progress
    def __init__(self, progress: TrainProgress | _Mapping | None = ..., result: TrainResult | _Mapping | None = ..., status: _common_pb2.Progress | _Mapping | None = ...) -> None: ...
