from collections.abc import Iterable as _Iterable
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf.internal import containers as _containers

DESCRIPTOR: _descriptor.FileDescriptor

class CompareRequest(_message.Message):
    __slots__ = ("metric", "control", "experiment", "binary", "alpha")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    metric: str
    control: _containers.RepeatedScalarFieldContainer[float]
    experiment: _containers.RepeatedScalarFieldContainer[float]
    binary: bool
    alpha: float
    def __init__(self, metric: str | None = ..., control: _Iterable[float] | None = ..., experiment: _Iterable[float] | None = ..., binary: bool | None = ..., alpha: float | None = ...) -> None: ...

class TestResult(_message.Message):
    __slots__ = ("statistic", "p_value")
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    statistic: float
    p_value: float
    def __init__(self, statistic: float | None = ..., p_value: float | None = ...) -> None: ...

class McNemarResult(_message.Message):
    __slots__ = ("b", "c", "p_value")
    B_FIELD_NUMBER: _ClassVar[int]
    C_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    b: int
    c: int
    p_value: float
    def __init__(self, b: int | None = ..., c: int | None = ..., p_value: float | None = ...) -> None: ...

class CompareResult(_message.Message):
    __slots__ = ("metric", "n", "mean_control", "mean_experiment", "difference", "t_test", "cohens_d", "mcnemar", "significant")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    MEAN_CONTROL_FIELD_NUMBER: _ClassVar[int]
    MEAN_EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    T_TEST_FIELD_NUMBER: _ClassVar[int]
    COHENS_D_FIELD_NUMBER: _ClassVar[int]
    MCNEMAR_FIELD_NUMBER: _ClassVar[int]
    SIGNIFICANT_FIELD_NUMBER: _ClassVar[int]
    metric: str
    n: int
    mean_control: float
    mean_experiment: float
    difference: float
    t_test: TestResult
    cohens_d: float
    mcnemar: McNemarResult
    significant: bool
    def __init__(self, metric: str | None = ..., n: int | None = ..., mean_control: float | None = ..., mean_experiment: float | None = ..., difference: float | None = ..., t_test: TestResult | _Mapping | None = ..., cohens_d: float | None = ..., mcnemar: McNemarResult | _Mapping | None = ..., significant: bool | None = ...) -> None: ...
