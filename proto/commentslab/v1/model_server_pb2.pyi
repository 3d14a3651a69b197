from collections.abc import Iterable as _Iterable
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf.internal import containers as _containers

DESCRIPTOR: _descriptor.FileDescriptor

class LoadRequest(_message.Message):
    __slots__ = ("name", "checkpoint_uri")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_URI_FIELD_NUMBER: _ClassVar[int]
    name: str
    checkpoint_uri: str
    def __init__(self, name: str | None = ..., checkpoint_uri: str | None = ...) -> None: ...

class LoadReply(_message.Message):
    __slots__ = ("name", "parameters", "load_seconds")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    LOAD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    parameters: int
    load_seconds: float
    def __init__(self, name: str | None = ..., parameters: int | None = ..., load_seconds: float | None = ...) -> None: ...

class GenerateRequest(_message.Message):
    __slots__ = ("model", "prompts", "n", "temperature", "top_p", "max_new_tokens", "stop", "seed")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    MAX_NEW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    model: str
    prompts: _containers.RepeatedScalarFieldContainer[str]
    n: int
    temperature: float
    top_p: float
    max_new_tokens: int
    stop: _containers.RepeatedScalarFieldContainer[str]
    seed: int
    def __init__(self, model: str | None = ..., prompts: _Iterable[str] | None = ..., n: int | None = ..., temperature: float | None = ..., top_p: float | None = ..., max_new_tokens: int | None = ..., stop: _Iterable[str] | None = ..., seed: int | None = ...) -> None: ...

class Samples(_message.Message):
    __slots__ = ("texts",)
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, texts: _Iterable[str] | None = ...) -> None: ...

class GenerateReply(_message.Message):
    __slots__ = ("results", "generated_tokens", "seconds")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    GENERATED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[Samples]
    generated_tokens: int
    seconds: float
    def __init__(self, results: _Iterable[Samples | _Mapping] | None = ..., generated_tokens: int | None = ..., seconds: float | None = ...) -> None: ...
