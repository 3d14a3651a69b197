from commentslab.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExportRequest(_message.Message):
    __slots__ = ("repository", "out_uri", "context_lines")
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    OUT_URI_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_LINES_FIELD_NUMBER: _ClassVar[int]
    repository: str
    out_uri: str
    context_lines: int
    def __init__(self, repository: _Optional[str] = ..., out_uri: _Optional[str] = ..., context_lines: _Optional[int] = ...) -> None: ...

class ExportResult(_message.Message):
    __slots__ = ("records_uri", "records", "rejects", "report_uri")
    RECORDS_URI_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    REJECTS_FIELD_NUMBER: _ClassVar[int]
    REPORT_URI_FIELD_NUMBER: _ClassVar[int]
    records_uri: str
    records: int
    rejects: _containers.RepeatedCompositeFieldContainer[_common_pb2.Reject]
    report_uri: str
    def __init__(self, records_uri: _Optional[str] = ..., records: _Optional[int] = ..., rejects: _Optional[_Iterable[_Union[_common_pb2.Reject, _Mapping]]] = ..., report_uri: _Optional[str] = ...) -> None: ...

class ExportEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    result: ExportResult
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[ExportResult, _Mapping]] = ...) -> None: ...
