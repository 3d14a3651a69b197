from commentslab.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SplitRequest(_message.Message):
    __slots__ = ("records_uri", "out_uri", "seed", "ratios", "arms", "test_metadata", "folds", "group_by", "near_duplicate_threshold", "review_queue", "arms_file")
    RECORDS_URI_FIELD_NUMBER: _ClassVar[int]
    OUT_URI_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    RATIOS_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    TEST_METADATA_FIELD_NUMBER: _ClassVar[int]
    FOLDS_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    NEAR_DUPLICATE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    REVIEW_QUEUE_FIELD_NUMBER: _ClassVar[int]
    ARMS_FILE_FIELD_NUMBER: _ClassVar[int]
    records_uri: str
    out_uri: str
    seed: int
    ratios: _containers.RepeatedScalarFieldContainer[float]
    arms: _containers.RepeatedScalarFieldContainer[str]
    test_metadata: str
    folds: int
    group_by: str
    near_duplicate_threshold: float
    review_queue: str
    arms_file: str
    def __init__(self, records_uri: _Optional[str] = ..., out_uri: _Optional[str] = ..., seed: _Optional[int] = ..., ratios: _Optional[_Iterable[float]] = ..., arms: _Optional[_Iterable[str]] = ..., test_metadata: _Optional[str] = ..., folds: _Optional[int] = ..., group_by: _Optional[str] = ..., near_duplicate_threshold: _Optional[float] = ..., review_queue: _Optional[str] = ..., arms_file: _Optional[str] = ...) -> None: ...

class SplitCount(_message.Message):
    __slots__ = ("arm", "split", "rows")
    ARM_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    arm: str
    split: str
    rows: int
    def __init__(self, arm: _Optional[str] = ..., split: _Optional[str] = ..., rows: _Optional[int] = ...) -> None: ...

class SplitResult(_message.Message):
    __slots__ = ("datasets_uri", "counts", "rejects", "report_uri", "leakage_checks_passed", "near_duplicates_removed", "folds")
    DATASETS_URI_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    REJECTS_FIELD_NUMBER: _ClassVar[int]
    REPORT_URI_FIELD_NUMBER: _ClassVar[int]
    LEAKAGE_CHECKS_PASSED_FIELD_NUMBER: _ClassVar[int]
    NEAR_DUPLICATES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    FOLDS_FIELD_NUMBER: _ClassVar[int]
    datasets_uri: str
    counts: _containers.RepeatedCompositeFieldContainer[SplitCount]
    rejects: _containers.RepeatedCompositeFieldContainer[_common_pb2.Reject]
    report_uri: str
    leakage_checks_passed: bool
    near_duplicates_removed: int
    folds: int
    def __init__(self, datasets_uri: _Optional[str] = ..., counts: _Optional[_Iterable[_Union[SplitCount, _Mapping]]] = ..., rejects: _Optional[_Iterable[_Union[_common_pb2.Reject, _Mapping]]] = ..., report_uri: _Optional[str] = ..., leakage_checks_passed: _Optional[bool] = ..., near_duplicates_removed: _Optional[int] = ..., folds: _Optional[int] = ...) -> None: ...

class SplitEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    result: SplitResult
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[SplitResult, _Mapping]] = ...) -> None: ...
