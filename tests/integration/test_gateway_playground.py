"""The playground through the gateway to a real ModelServer over gRPC: both arms' text streamed as it is decoded,
the unary fallback for a model server without GenerateStream, and the daily limit."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from commentslab.services.common.grpc_client import open_channel, wait_healthy
from commentslab.services.common.grpc_server import start_server
from commentslab.services.gateway.playground import arm_prompt
from commentslab.services.gateway.server import start_in_thread
from commentslab.services.pipeline.launcher import free_port, stop_processes
from commentslab.services.serving.server import ModelServerServicer
from commentslab.v1 import model_server_pb2, model_server_pb2_grpc

pytestmark = pytest.mark.integration

PROMPT = "def add(a, b):\n"
METADATA = '{"text": "Adds two numbers", "params": {"a": "int"}}'
STREAMING_SERVER = "GenerateStream" in ModelServerServicer.__dict__


def tiny_checkpoint(folder: Path, seed: int) -> Path:
    """A randomly initialised tiny Llama with SmolLM2's tokenizer, saved as a commentslab checkpoint (seconds)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from commentslab.services.common.config import ModelConfig
    from commentslab.services.common.models import load_tokenizer, save_checkpoint

    cfg = ModelConfig(kind="tiny-random", dtype="float32")
    tokenizer = load_tokenizer(cfg)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256,
                                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
                                         max_position_embeddings=2048, tie_word_embeddings=True))
    return save_checkpoint(model, tokenizer, folder / f"arm-{seed}", cfg, "full")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("checkpoints")
    return {"control": tiny_checkpoint(folder, 1), "experiment": tiny_checkpoint(folder, 2)}


def load_arms(address: str, checkpoints: dict[str, Path]) -> None:
    with open_channel(address) as channel:
        wait_healthy(channel, "model-server", address)
        stub = model_server_pb2_grpc.ModelServerStub(channel)
        for arm, path in checkpoints.items():
            stub.Load(model_server_pb2.LoadRequest(name=arm, checkpoint_uri=path.as_uri()), timeout=120)


@pytest.fixture(scope="module")
def model_server(checkpoints):
    """`python -m commentslab.services.serving` on a free loopback port with both arms loaded; yields host:port."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "commentslab.services.serving", "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        address = f"127.0.0.1:{port}"
        load_arms(address, checkpoints)
        yield address
    finally:
        stop_processes([process], grace=30)


def unary(address: str, arm: str, max_new_tokens: int) -> str:
    """What the unary Generate answers for the playground's request to ``arm``."""
    with open_channel(address) as channel:
        stub = model_server_pb2_grpc.ModelServerStub(channel)
        request = model_server_pb2.GenerateRequest(model=arm, prompts=[arm_prompt(arm, PROMPT, json.loads(METADATA))],
                                                   n=1, temperature=0.0, max_new_tokens=max_new_tokens, seed=0)
        return stub.Generate(request, timeout=120).results[0].texts[0]


def timed_events(url: str, max_new_tokens: int, **headers) -> list[tuple[float, dict]]:
    """The gateway's NDJSON events with the second each arrived, after the request was sent."""
    body = {"prompt": PROMPT, "metadata": METADATA, "maxNewTokens": max_new_tokens}
    start = time.perf_counter()
    with requests.post(f"{url}/api/generate", json=body, headers=headers, stream=True, timeout=300) as reply:
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"].startswith("application/x-ndjson")
        return [(time.perf_counter() - start, json.loads(line)) for line in reply.iter_lines() if line]


@pytest.mark.skipif(not STREAMING_SERVER, reason="services/serving/server.py has no GenerateStream yet")
def test_both_arms_stream_incrementally_and_join_to_the_unary_result(model_server, tmp_path):
    gateway = start_in_thread(tmp_path, model_server=model_server, daily_limit=2)
    try:
        timed = timed_events(gateway.url, max_new_tokens=64)
    finally:
        gateway.stop()
    events = [event for _, event in timed]
    assert [(e["event"], e["arm"]) for e in events[:2]] == [("start", "control"), ("start", "experiment")]
    assert events[1]["input"].endswith(PROMPT) and "Adds two numbers" in events[1]["input"]
    assert sorted(e["arm"] for e in events if e["event"] == "done") == ["control", "experiment"]
    for arm in ("control", "experiment"):
        deltas = [(at, e["text"]) for at, e in timed if e["event"] == "delta" and e["arm"] == arm]
        done_at, done = next((at, e) for at, e in timed if e["event"] == "done" and e["arm"] == arm)
        # Token by token: many deltas, the first one in the visitor's hands well before the arm's last token.
        assert len(deltas) >= 8, deltas
        assert done_at - deltas[0][0] > 0.3 * (done_at - timed[0][0]), (deltas[0][0], done_at)
        assert "".join(text for _, text in deltas) == done["completion"] == unary(model_server, arm, 64)
        assert done["generatedTokens"] > 1 and done["finishReason"] in ("length", "eos", "stop")
    assert all(e["remainingToday"] == 1 for e in events)


def test_a_model_server_without_generate_stream_answers_through_unary_generate(checkpoints, tmp_path):
    """An older ModelServer (GenerateStream UNIMPLEMENTED): each arm's whole completion arrives as one delta."""

    class UnaryOnly(ModelServerServicer):
        GenerateStream = model_server_pb2_grpc.ModelServerServicer.GenerateStream

    server, port, _ = start_server("ModelServer", lambda s: model_server_pb2_grpc.add_ModelServerServicer_to_server(
        UnaryOnly(), s))
    address = f"127.0.0.1:{port}"
    try:
        load_arms(address, checkpoints)
        gateway = start_in_thread(tmp_path, model_server=address)
        try:
            events = [event for _, event in timed_events(gateway.url, max_new_tokens=12)]
        finally:
            gateway.stop()
        for arm in ("control", "experiment"):
            deltas = [e["text"] for e in events if e["event"] == "delta" and e["arm"] == arm]
            done = next(e for e in events if e["event"] == "done" and e["arm"] == arm)
            assert deltas == [done["completion"]] == [unary(address, arm, 12)]
    finally:
        server.stop(0)


def test_a_failing_model_server_ends_each_arm_with_its_error(checkpoints, tmp_path):
    """The server lost the experiment arm: control still completes; experiment ends with the server's reason."""
    server, port, _ = start_server("ModelServer", lambda s: model_server_pb2_grpc.add_ModelServerServicer_to_server(
        ModelServerServicer(), s))
    address = f"127.0.0.1:{port}"
    try:
        load_arms(address, {"control": checkpoints["control"]})
        gateway = start_in_thread(tmp_path, model_server=address)
        try:
            events = [event for _, event in timed_events(gateway.url, max_new_tokens=4)]
        finally:
            gateway.stop()
        control = unary(address, "control", 4)
    finally:
        server.stop(0)
    ends = {e["arm"]: e for e in events if e["event"] in ("done", "error")}
    assert ends["control"]["event"] == "done" and ends["control"]["completion"] == control
    assert ends["experiment"]["event"] == "error"
    assert "model-server failed" in ends["experiment"]["error"] and "experiment" in ends["experiment"]["error"]


def test_the_daily_limit_counts_each_relayed_visitor(model_server, tmp_path):
    gateway = start_in_thread(tmp_path, model_server=model_server, daily_limit=2)
    body = {"prompt": PROMPT, "maxNewTokens": 2}
    try:
        visitor = {"X-Forwarded-For": "203.0.113.7"}
        for remaining in (1, 0):
            lines = [json.loads(x) for x in requests.post(f"{gateway.url}/api/generate", json=body, headers=visitor,
                                                          timeout=300).text.splitlines()]
            assert {line["remainingToday"] for line in lines} == {remaining}
        refused = requests.post(f"{gateway.url}/api/generate", json=body, headers=visitor, timeout=300)
        other = requests.post(f"{gateway.url}/api/generate", json=body, headers={"X-Forwarded-For": "198.51.100.2"},
                              timeout=300)
        too_long = requests.post(f"{gateway.url}/api/generate", json={"prompt": "x" * 4001}, timeout=30)
    finally:
        gateway.stop()
    assert refused.status_code == 429 and "Daily limit reached" in refused.json()["detail"]
    assert other.status_code == 200
    assert too_long.status_code == 422


def test_training_curves_come_live_from_mlflow_before_results_exist(smoke_run, tmp_path):
    """A run still training has no results.json; the curves come from its MLflow store and match what
    the finished run recorded."""
    import shutil

    finished = json.loads((smoke_run / "results.json").read_text())["training"]
    in_progress = tmp_path / "run"
    in_progress.mkdir()
    shutil.copy(smoke_run / "mlflow.db", in_progress / "mlflow.db")
    running = start_in_thread(in_progress)
    try:
        live = requests.get(f"{running.url}/api/training", timeout=120).json()
        (in_progress / "mlflow.db").write_bytes(b"not a database")
        broken = requests.get(f"{running.url}/api/training", timeout=120)
    finally:
        running.stop()
    for arm in ("control", "experiment"):
        assert [p["loss"] for p in live[arm]] == pytest.approx([h["loss"] for h in finished[arm]["history"]])
    assert broken.status_code == 503 and "mlflow.db" in broken.json()["detail"]



def test_a_generation_is_spent_only_when_one_is_delivered(tmp_path):
    """A model server with no arm loaded fails every request: none of them spends the visitor's one generation,
    nor does a request refused as malformed."""
    server, port, _ = start_server("ModelServer", lambda s: model_server_pb2_grpc.add_ModelServerServicer_to_server(
        ModelServerServicer(), s))
    address = f"127.0.0.1:{port}"
    try:
        with open_channel(address) as channel:
            wait_healthy(channel, "model-server", address)
        gateway = start_in_thread(tmp_path, model_server=address, daily_limit=1)
        try:
            failed = [[json.loads(x) for x in requests.post(f"{gateway.url}/api/generate", json={"prompt": PROMPT},
                                                            timeout=120).text.splitlines()] for _ in range(3)]
            malformed = requests.post(f"{gateway.url}/api/generate", data=b'{"prompt": "\\ud800"}',
                                      headers={"Content-Type": "application/json"}, timeout=30)
            still = requests.post(f"{gateway.url}/api/generate", json={"prompt": PROMPT}, timeout=120)
        finally:
            gateway.stop()
    finally:
        server.stop(0)
    for events in failed:
        assert sorted(e["arm"] for e in events if e["event"] == "error") == ["control", "experiment"]
    assert malformed.status_code == 422
    assert still.status_code == 200  # the one generation of the day is still there
