"""The playground's generation: one prompt (and optional metadata) through each arm on the model server, over gRPC.

The control arm sees the prompt alone; the experiment arm sees the metadata rendered by the same
template the arms were trained with (services/splitter/template.py), then the prompt.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import grpc

from commentslab.v1 import model_server_pb2, model_server_pb2_grpc
from services.common.grpc_client import describe_rpc_error, open_channel
from services.splitter.template import arm_input

PLAYGROUND_ARMS = ("control", "experiment")
MAX_PROMPT_CHARS = 4000
MAX_METADATA_CHARS = 2000
MAX_NEW_TOKENS = 128
GENERATE_DEADLINE_S = 120


def metadata_from_text(text: str | None) -> dict | None:
    """The visitor's metadata as the record's ``metadata`` object: a JSON object as given, else ``{"text": text}``."""
    if not text or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {"text": text.strip()}
    return value if isinstance(value, dict) else {"text": text.strip()}


def arm_prompt(arm: str, prompt: str, metadata: dict | None) -> str:
    """What ``arm`` is asked to complete: the prompt, with the metadata block first for the experiment arm."""
    return arm_input(prompt, metadata if arm == "experiment" else None)


class Playground:
    """Generates with each arm through the ModelServer at ``address`` (host:port)."""

    def __init__(self, address: str):
        self.address = address
        self._channel = open_channel(address)
        self._stub = model_server_pb2_grpc.ModelServerStub(self._channel)

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def generate(self, prompt: str, metadata: dict | None, max_new_tokens: int, seed: int = 0) -> Iterator[dict]:
        """Yield one result per arm as soon as it is ready: ``{"arm", "input", "completion", "seconds"}``.

        Greedy decoding, so the two arms differ only by what they were trained on and see. A model
        server failure raises ServiceError naming it.
        """
        for arm in PLAYGROUND_ARMS:
            text = arm_prompt(arm, prompt, metadata)
            start = time.perf_counter()
            request = model_server_pb2.GenerateRequest(model=arm, prompts=[text], n=1, temperature=0.0,
                                                       max_new_tokens=max_new_tokens, seed=seed)
            try:
                reply = self._stub.Generate(request, timeout=GENERATE_DEADLINE_S)
            except grpc.RpcError as exc:
                raise describe_rpc_error("model-server", exc) from exc
            yield {"arm": arm, "input": text, "completion": reply.results[0].texts[0],
                   "seconds": time.perf_counter() - start}
