"""The playground's generation: one prompt (and optional metadata) through each arm on the model server, over gRPC.

The control arm sees the prompt alone; the experiment arm sees the metadata rendered by the same
template the arms were trained with (services/splitter/template.py), then the prompt.

Both arms stream at once (``GenerateStream``, one call per arm on its own thread) and their text
deltas are merged into one sequence of events in arrival order, so a page can fill both arms' boxes
side by side as tokens are decoded. A model server without ``GenerateStream`` (UNIMPLEMENTED) is
asked with the unary ``Generate`` instead: the same events, with the whole completion as one delta.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator

import grpc

from commentslab.services.common.grpc_client import describe_rpc_error, open_channel
from commentslab.services.splitter.template import arm_input
from commentslab.v1 import model_server_pb2, model_server_pb2_grpc

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

    def stream(self, prompt: str, metadata: dict | None, max_new_tokens: int, seed: int = 0) -> Iterator[dict]:
        """Generate with every arm at once; yield events as they happen, the arms' events interleaved:

        - ``{"event": "start", "arm", "input"}`` once per arm, before any text;
        - ``{"event": "delta", "arm", "text"}``: text decoded since the arm's last delta;
        - ``{"event": "done", "arm", "input", "completion", "finishReason", "generatedTokens", "seconds"}``
          once per arm: its deltas concatenated, as the unary Generate would have answered;
        - ``{"event": "error", "arm", "error"}`` instead of ``done`` when the model server fails that arm.

        Greedy decoding, so the arms differ only by what they were trained on and see. Closing the
        iterator early (the visitor left) cancels the calls still running, which frees the server's rows.
        """
        inputs = {arm: arm_prompt(arm, prompt, metadata) for arm in PLAYGROUND_ARMS}
        events: queue.Queue = queue.Queue()
        calls: list[grpc.Future] = []
        stopped = threading.Event()
        for arm, text in inputs.items():
            yield {"event": "start", "arm": arm, "input": text}
        request = {arm: model_server_pb2.GenerateRequest(model=arm, prompts=[text], n=1, temperature=0.0,
                                                         max_new_tokens=max_new_tokens, seed=seed)
                   for arm, text in inputs.items()}
        threads = [threading.Thread(target=self._stream_arm, args=(arm, request[arm], events, calls, stopped),
                                    name=f"playground-{arm}", daemon=True) for arm in inputs]
        for thread in threads:
            thread.start()
        finished = 0
        try:
            while finished < len(threads):
                event = events.get()
                finished += event["event"] in ("done", "error")
                if event["event"] == "done":
                    event["input"] = inputs[event["arm"]]
                yield event
        finally:
            stopped.set()
            for call in list(calls):
                call.cancel()  # a no-op once a call has ended

    def _call(self, method, request, calls: list, stopped: threading.Event):
        call = method(request, timeout=GENERATE_DEADLINE_S)
        calls.append(call)
        if stopped.is_set():  # the visitor left while this call was being made
            call.cancel()
        return call

    def _stream_arm(self, arm: str, request, events: queue.Queue, calls: list, stopped: threading.Event) -> None:
        """One arm's GenerateStream (or unary Generate where the server has no stream) as events on ``events``."""
        start = time.perf_counter()
        parts: list[str] = []
        done = {"finish_reason": "", "generated_tokens": 0}
        try:
            try:
                for chunk in self._call(self._stub.GenerateStream, request, calls, stopped):
                    if chunk.text:
                        parts.append(chunk.text)
                        events.put({"event": "delta", "arm": arm, "text": chunk.text})
                    if chunk.done:
                        done = {"finish_reason": chunk.finish_reason, "generated_tokens": chunk.generated_tokens}
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED or parts:
                    raise
                reply = self._call(self._stub.Generate.future, request, calls, stopped).result()
                samples = reply.results[0]
                parts = [samples.texts[0]]
                events.put({"event": "delta", "arm": arm, "text": samples.texts[0]})
                done = {"finish_reason": samples.finish_reasons[0] if samples.finish_reasons else "",
                        "generated_tokens": reply.generated_tokens}
        except grpc.RpcError as exc:
            events.put({"event": "error", "arm": arm, "error": str(describe_rpc_error("model-server", exc))})
            return
        except Exception as exc:  # noqa: BLE001 - the merging loop must hear of every arm's end, whatever happened
            events.put({"event": "error", "arm": arm, "error": f"the {arm} arm failed: {exc}"})
            return
        events.put({"event": "done", "arm": arm, "completion": "".join(parts), "finishReason": done["finish_reason"],
                    "generatedTokens": done["generated_tokens"], "seconds": time.perf_counter() - start})
