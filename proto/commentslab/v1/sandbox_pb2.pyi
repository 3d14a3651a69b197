from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Limits(_message.Message):
    __slots__ = ("cpu_seconds", "wall_seconds", "memory_mb", "max_processes", "max_output_bytes", "max_file_bytes")
    CPU_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    MAX_PROCESSES_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_FILE_BYTES_FIELD_NUMBER: _ClassVar[int]
    cpu_seconds: float
    wall_seconds: float
    memory_mb: int
    max_processes: int
    max_output_bytes: int
    max_file_bytes: int
    def __init__(self, cpu_seconds: _Optional[float] = ..., wall_seconds: _Optional[float] = ..., memory_mb: _Optional[int] = ..., max_processes: _Optional[int] = ..., max_output_bytes: _Optional[int] = ..., max_file_bytes: _Optional[int] = ...) -> None: ...

class ExecuteRequest(_message.Message):
    __slots__ = ("program", "language", "limits", "timeout_retries")
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_RETRIES_FIELD_NUMBER: _ClassVar[int]
    program: str
    language: str
    limits: Limits
    timeout_retries: int
    def __init__(self, program: _Optional[str] = ..., language: _Optional[str] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., timeout_retries: _Optional[int] = ...) -> None: ...

class ExecuteResult(_message.Message):
    __slots__ = ("status", "exit_code", "stdout", "stderr", "wall_seconds", "cpu_seconds", "attempts", "timed_out_attempts")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CPU_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    status: str
    exit_code: int
    stdout: str
    stderr: str
    wall_seconds: float
    cpu_seconds: float
    attempts: int
    timed_out_attempts: int
    def __init__(self, status: _Optional[str] = ..., exit_code: _Optional[int] = ..., stdout: _Optional[str] = ..., stderr: _Optional[str] = ..., wall_seconds: _Optional[float] = ..., cpu_seconds: _Optional[float] = ..., attempts: _Optional[int] = ..., timed_out_attempts: _Optional[int] = ...) -> None: ...

class ExecuteBatchRequest(_message.Message):
    __slots__ = ("programs", "workers", "timeout_retries")
    PROGRAMS_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_RETRIES_FIELD_NUMBER: _ClassVar[int]
    programs: _containers.RepeatedCompositeFieldContainer[ExecuteRequest]
    workers: int
    timeout_retries: int
    def __init__(self, programs: _Optional[_Iterable[_Union[ExecuteRequest, _Mapping]]] = ..., workers: _Optional[int] = ..., timeout_retries: _Optional[int] = ...) -> None: ...

class ExecuteBatchItem(_message.Message):
    __slots__ = ("index", "result")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    index: int
    result: ExecuteResult
    def __init__(self, index: _Optional[int] = ..., result: _Optional[_Union[ExecuteResult, _Mapping]] = ...) -> None: ...
