from commentslab.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrainRequest(_message.Message):
    __slots__ = ("dataset_uri", "arm", "out_uri", "config_json", "tracking_uri", "restart", "fold")
    DATASET_URI_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    OUT_URI_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    TRACKING_URI_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    FOLD_FIELD_NUMBER: _ClassVar[int]
    dataset_uri: str
    arm: str
    out_uri: str
    config_json: str
    tracking_uri: str
    restart: bool
    fold: int
    def __init__(self, dataset_uri: _Optional[str] = ..., arm: _Optional[str] = ..., out_uri: _Optional[str] = ..., config_json: _Optional[str] = ..., tracking_uri: _Optional[str] = ..., restart: _Optional[bool] = ..., fold: _Optional[int] = ...) -> None: ...

class TrainProgress(_message.Message):
    __slots__ = ("step", "total_steps", "loss", "learning_rate", "tokens_per_second", "seconds_left", "resumed_from_step")
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    SECONDS_LEFT_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FROM_STEP_FIELD_NUMBER: _ClassVar[int]
    step: int
    total_steps: int
    loss: float
    learning_rate: float
    tokens_per_second: float
    seconds_left: float
    resumed_from_step: int
    def __init__(self, step: _Optional[int] = ..., total_steps: _Optional[int] = ..., loss: _Optional[float] = ..., learning_rate: _Optional[float] = ..., tokens_per_second: _Optional[float] = ..., seconds_left: _Optional[float] = ..., resumed_from_step: _Optional[int] = ...) -> None: ...

class TrainResult(_message.Message):
    __slots__ = ("checkpoint_uri", "mlflow_run_id", "steps", "final_loss", "wall_seconds", "history_uri", "validation_loss", "stop_reason", "best_step", "resumed_from_step", "registered_model", "registered_version", "plan_json")
    CHECKPOINT_URI_FIELD_NUMBER: _ClassVar[int]
    MLFLOW_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    FINAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_URI_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_LOSS_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    BEST_STEP_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FROM_STEP_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_MODEL_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_VERSION_FIELD_NUMBER: _ClassVar[int]
    PLAN_JSON_FIELD_NUMBER: _ClassVar[int]
    checkpoint_uri: str
    mlflow_run_id: str
    steps: int
    final_loss: float
    wall_seconds: float
    history_uri: str
    validation_loss: float
    stop_reason: str
    best_step: int
    resumed_from_step: int
    registered_model: str
    registered_version: str
    plan_json: str
    def __init__(self, checkpoint_uri: _Optional[str] = ..., mlflow_run_id: _Optional[str] = ..., steps: _Optional[int] = ..., final_loss: _Optional[float] = ..., wall_seconds: _Optional[float] = ..., history_uri: _Optional[str] = ..., validation_loss: _Optional[float] = ..., stop_reason: _Optional[str] = ..., best_step: _Optional[int] = ..., resumed_from_step: _Optional[int] = ..., registered_model: _Optional[str] = ..., registered_version: _Optional[str] = ..., plan_json: _Optional[str] = ...) -> None: ...

class TrainEvent(_message.Message):
    __slots__ = ("progress", "result", "status")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    progress: TrainProgress
    result: TrainResult
    status: _common_pb2.Progress
    def __init__(self, progress: _Optional[_Union[TrainProgress, _Mapping]] = ..., result: _Optional[_Union[TrainResult, _Mapping]] = ..., status: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ...) -> None: ...
