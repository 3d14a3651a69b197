from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CompareRequest(_message.Message):
    __slots__ = ("metric", "control", "experiment", "binary", "alpha", "seeds", "bootstrap_seed")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    SEEDS_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_SEED_FIELD_NUMBER: _ClassVar[int]
    metric: str
    control: _containers.RepeatedScalarFieldContainer[float]
    experiment: _containers.RepeatedScalarFieldContainer[float]
    binary: bool
    alpha: float
    seeds: int
    bootstrap_seed: int
    def __init__(self, metric: _Optional[str] = ..., control: _Optional[_Iterable[float]] = ..., experiment: _Optional[_Iterable[float]] = ..., binary: _Optional[bool] = ..., alpha: _Optional[float] = ..., seeds: _Optional[int] = ..., bootstrap_seed: _Optional[int] = ...) -> None: ...

class TestResult(_message.Message):
    __slots__ = ("statistic", "p_value")
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    statistic: float
    p_value: float
    def __init__(self, statistic: _Optional[float] = ..., p_value: _Optional[float] = ...) -> None: ...

class McNemarResult(_message.Message):
    __slots__ = ("b", "c", "p_value")
    B_FIELD_NUMBER: _ClassVar[int]
    C_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    b: int
    c: int
    p_value: float
    def __init__(self, b: _Optional[int] = ..., c: _Optional[int] = ..., p_value: _Optional[float] = ...) -> None: ...

class CompareResult(_message.Message):
    __slots__ = ("metric", "n", "mean_control", "mean_experiment", "difference", "t_test", "cohens_d", "mcnemar", "significant", "comparison_json")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    MEAN_CONTROL_FIELD_NUMBER: _ClassVar[int]
    MEAN_EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    T_TEST_FIELD_NUMBER: _ClassVar[int]
    COHENS_D_FIELD_NUMBER: _ClassVar[int]
    MCNEMAR_FIELD_NUMBER: _ClassVar[int]
    SIGNIFICANT_FIELD_NUMBER: _ClassVar[int]
    COMPARISON_JSON_FIELD_NUMBER: _ClassVar[int]
    metric: str
    n: int
    mean_control: float
    mean_experiment: float
    difference: float
    t_test: TestResult
    cohens_d: float
    mcnemar: McNemarResult
    significant: bool
    comparison_json: str
    def __init__(self, metric: _Optional[str] = ..., n: _Optional[int] = ..., mean_control: _Optional[float] = ..., mean_experiment: _Optional[float] = ..., difference: _Optional[float] = ..., t_test: _Optional[_Union[TestResult, _Mapping]] = ..., cohens_d: _Optional[float] = ..., mcnemar: _Optional[_Union[McNemarResult, _Mapping]] = ..., significant: _Optional[bool] = ..., comparison_json: _Optional[str] = ...) -> None: ...
