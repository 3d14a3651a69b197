from commentslab.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExportRequest(_message.Message):
    __slots__ = ("repository", "out_uri", "context_lines", "more_repositories", "allowed_licences", "no_licence_gate", "lint", "min_completeness", "review_queue", "scenario", "test_conventions")
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    OUT_URI_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_LINES_FIELD_NUMBER: _ClassVar[int]
    MORE_REPOSITORIES_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_LICENCES_FIELD_NUMBER: _ClassVar[int]
    NO_LICENCE_GATE_FIELD_NUMBER: _ClassVar[int]
    LINT_FIELD_NUMBER: _ClassVar[int]
    MIN_COMPLETENESS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_QUEUE_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_FIELD_NUMBER: _ClassVar[int]
    TEST_CONVENTIONS_FIELD_NUMBER: _ClassVar[int]
    repository: str
    out_uri: str
    context_lines: int
    more_repositories: _containers.RepeatedScalarFieldContainer[str]
    allowed_licences: _containers.RepeatedScalarFieldContainer[str]
    no_licence_gate: bool
    lint: bool
    min_completeness: float
    review_queue: str
    scenario: str
    test_conventions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, repository: _Optional[str] = ..., out_uri: _Optional[str] = ..., context_lines: _Optional[int] = ..., more_repositories: _Optional[_Iterable[str]] = ..., allowed_licences: _Optional[_Iterable[str]] = ..., no_licence_gate: _Optional[bool] = ..., lint: _Optional[bool] = ..., min_completeness: _Optional[float] = ..., review_queue: _Optional[str] = ..., scenario: _Optional[str] = ..., test_conventions: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportResult(_message.Message):
    __slots__ = ("records_uri", "records", "rejects", "report_uri", "excluded_repositories", "removals", "flagged")
    class RemovalsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    RECORDS_URI_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    REJECTS_FIELD_NUMBER: _ClassVar[int]
    REPORT_URI_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_REPOSITORIES_FIELD_NUMBER: _ClassVar[int]
    REMOVALS_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    records_uri: str
    records: int
    rejects: _containers.RepeatedCompositeFieldContainer[_common_pb2.Reject]
    report_uri: str
    excluded_repositories: int
    removals: _containers.ScalarMap[str, int]
    flagged: int
    def __init__(self, records_uri: _Optional[str] = ..., records: _Optional[int] = ..., rejects: _Optional[_Iterable[_Union[_common_pb2.Reject, _Mapping]]] = ..., report_uri: _Optional[str] = ..., excluded_repositories: _Optional[int] = ..., removals: _Optional[_Mapping[str, int]] = ..., flagged: _Optional[int] = ...) -> None: ...

class ExportEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    result: ExportResult
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[ExportResult, _Mapping]] = ...) -> None: ...
