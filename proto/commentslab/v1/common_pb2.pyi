from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message

DESCRIPTOR: _descriptor.FileDescriptor

class Progress(_message.Message):
    __slots__ = ("stage", "done", "total", "detail")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    stage: str
    done: int
    total: int
    detail: str
    def __init__(self, stage: str | None = ..., done: int | None = ..., total: int | None = ..., detail: str | None = ...) -> None: ...

class Reject(_message.Message):
    __slots__ = ("path", "reason", "item")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    path: str
    reason: str
    item: str
    def __init__(self, path: str | None = ..., reason: str | None = ..., item: str | None = ...) -> None: ...
