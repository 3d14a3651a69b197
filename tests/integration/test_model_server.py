"""The real ModelServer on loopback: concurrent clients share decode steps, a cancelled stream frees its rows,
deadlines cut requests, bad requests get clear statuses, and /metrics shows it all."""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.request

import grpc
import pytest

from commentslab.services.common.config import load_config
from commentslab.services.common.grpc_client import open_channel
from commentslab.services.common.grpc_server import start_server
from commentslab.services.common.models import build_base_model, load_tokenizer, save_checkpoint
from commentslab.services.serving.generate import Generator, Limits
from commentslab.services.serving.server import registrar
from commentslab.v1 import model_server_pb2 as pb
from commentslab.v1 import model_server_pb2_grpc

pytestmark = pytest.mark.integration

PROMPTS = ["def add(a, b):\n", "def is_prime(n):\n    '''True for primes.'''\n    ", "x = ", "class A:\n    "]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cfg = load_config("smoke").model
    tokenizer = load_tokenizer(cfg)
    checkpoint = save_checkpoint(build_base_model(cfg, len(tokenizer), seed=5), tokenizer,
                                 tmp_path_factory.mktemp("arm") / "checkpoint", cfg, "full")
    generator = Generator(max_batch=32, limits=Limits(max_n=8, max_new_tokens=512), device="cpu", batch_wait=0.05)
    metrics_port = free_port()
    grpc_server, port, _ = start_server("ModelServer", registrar(generator), port=0, metrics_port=metrics_port)
    stub = model_server_pb2_grpc.ModelServerStub(open_channel(f"127.0.0.1:{port}"))
    reply = stub.Load(pb.LoadRequest(name="control", checkpoint_uri=checkpoint.as_uri()), timeout=60)
    assert reply.parameters > 0
    yield stub, metrics_port, checkpoint
    grpc_server.stop(0)
    generator.close()


def scrape(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()


def value(body: str, name: str, **labels) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}(\{{{re.escape(wanted)}\}})? (\S+)$" if wanted else rf"^{re.escape(name)} (\S+)$"
    for line in body.splitlines():
        if m := re.match(pattern, line):
            return float(m.groups()[-1])
    return 0.0


def request(prompt: int, n: int = 2, tokens: int = 12, seed: int = 0) -> pb.GenerateRequest:
    return pb.GenerateRequest(model="control", prompts=[PROMPTS[prompt % 4]], n=n, temperature=0.8, top_p=0.95,
                              max_new_tokens=tokens, seed=seed)


def test_concurrent_clients_share_steps_and_a_cancelled_stream_leaves_the_others_whole(server):
    stub, metrics_port, _ = server
    alone = {i: list(stub.Generate(request(i, seed=i), timeout=60).results[0].texts) for i in range(6)}
    before = scrape(metrics_port)
    results: dict[int, list[str]] = {}
    errors: list[Exception] = []
    barrier = threading.Barrier(7)

    def client(i: int) -> None:
        try:
            barrier.wait()
            results[i] = list(stub.Generate(request(i, seed=i), timeout=60).results[0].texts)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    barrier.wait()
    stream = stub.GenerateStream(request(0, n=4, tokens=400, seed=99), timeout=60)
    first = next(stream)
    stream.cancel()
    with pytest.raises(grpc.RpcError) as cancelled:
        list(stream)
    for t in threads:
        t.join(60)
    assert first.prompt_index == 0 and first.sample_index in range(4)
    assert cancelled.value.code() == grpc.StatusCode.CANCELLED
    assert not errors and results == alone  # batched together, cut off neighbour or not: the same samples
    deadline = time.time() + 10
    while value(scrape(metrics_port), "commentslab_model_server_cancelled_requests_total",
                reason="cancelled") == value(before, "commentslab_model_server_cancelled_requests_total",
                                             reason="cancelled") and time.time() < deadline:
        time.sleep(0.05)
    after = scrape(metrics_port)
    assert value(after, "commentslab_model_server_cancelled_requests_total", reason="cancelled") == value(
        before, "commentslab_model_server_cancelled_requests_total", reason="cancelled") + 1
    # Steps of more than 4 rows happened: alone, every request above had 2 rows.
    big = (value(after, "commentslab_model_server_batch_size_count")
           - value(after, "commentslab_model_server_batch_size_bucket", le="4.0")) - (
        value(before, "commentslab_model_server_batch_size_count")
        - value(before, "commentslab_model_server_batch_size_bucket", le="4.0"))
    assert big > 0
    for name in ["commentslab_model_server_queue_depth", "commentslab_model_server_tokens_per_second",
                 "commentslab_model_server_request_seconds", "commentslab_model_server_time_to_first_token_seconds",
                 "commentslab_model_server_requests_in_flight", "commentslab_model_server_generated_tokens_total"]:
        assert f"# HELP {name} " in after
    assert value(after, "commentslab_model_server_request_seconds_count", model="control") >= value(
        before, "commentslab_model_server_request_seconds_count", model="control") + 6
    assert value(after, "commentslab_model_server_requests_in_flight") == 0


def test_the_stream_concatenates_to_the_unary_reply_and_reports_finish_reasons(server):
    stub, _, _ = server
    req = pb.GenerateRequest(model="control", prompts=PROMPTS, n=2, temperature=0.7, max_new_tokens=10,
                             stop=["\n\n"], seed=4)
    reply = stub.Generate(req, timeout=60)
    texts = [[""] * 2 for _ in PROMPTS]
    reasons = [[""] * 2 for _ in PROMPTS]
    for chunk in stub.GenerateStream(req, timeout=60):
        texts[chunk.prompt_index][chunk.sample_index] += chunk.text
        if chunk.done:
            reasons[chunk.prompt_index][chunk.sample_index] = chunk.finish_reason
    assert texts == [list(r.texts) for r in reply.results]
    assert reasons == [list(r.finish_reasons) for r in reply.results]
    assert {r for rs in reasons for r in rs} <= {"stop", "length", "eos"} and reply.generated_tokens > 0


def test_a_passed_deadline_cuts_the_request_and_is_counted(server):
    stub, metrics_port, _ = server
    before = value(scrape(metrics_port), "commentslab_model_server_cancelled_requests_total", reason="deadline")
    with pytest.raises(grpc.RpcError) as caught:
        stub.Generate(request(1, n=8, tokens=512), timeout=0.5)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    deadline = time.time() + 10
    while value(scrape(metrics_port), "commentslab_model_server_cancelled_requests_total",
                reason="deadline") == before and time.time() < deadline:
        time.sleep(0.05)
    assert value(scrape(metrics_port), "commentslab_model_server_cancelled_requests_total",
                 reason="deadline") == before + 1


@pytest.mark.parametrize("changes, code, text", [
    ({"model": "experiment"}, grpc.StatusCode.NOT_FOUND, "no model of that name is loaded"),
    ({"prompts": []}, grpc.StatusCode.INVALID_ARGUMENT, "prompts: is empty"),
    ({"n": 9}, grpc.StatusCode.INVALID_ARGUMENT, "n: 9 is outside 1..8"),
    ({"max_new_tokens": 513}, grpc.StatusCode.INVALID_ARGUMENT, "max_new_tokens: 513 is outside 1..512"),
    ({"temperature": 3.0}, grpc.StatusCode.INVALID_ARGUMENT, "temperature: 3.0 is outside"),
    ({"top_p": 1.2}, grpc.StatusCode.INVALID_ARGUMENT, "top_p: 1.2 is outside"),
    ({"prompts": ["word " * 2100]}, grpc.StatusCode.INVALID_ARGUMENT, "the model's context is 2048"),
])
def test_bad_requests_get_a_clear_status(server, changes, code, text):
    stub, _, _ = server
    req = request(0)
    for key, val in changes.items():
        if isinstance(val, list):
            del getattr(req, key)[:]
            getattr(req, key).extend(val)
        else:
            setattr(req, key, val)
    for call in (stub.Generate, lambda r, timeout: list(stub.GenerateStream(r, timeout=timeout))):
        with pytest.raises(grpc.RpcError) as caught:
            call(req, timeout=30)
        assert caught.value.code() == code and text in caught.value.details()


def test_bad_checkpoints_get_a_clear_status(server, tmp_path):
    stub, _, checkpoint = server
    with pytest.raises(grpc.RpcError) as caught:
        stub.Load(pb.LoadRequest(name="x", checkpoint_uri=(tmp_path / "nothing").as_uri()), timeout=30)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND and "does not exist" in caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        stub.Load(pb.LoadRequest(name="x", checkpoint_uri=tmp_path.as_uri()), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a commentslab checkpoint" in caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        stub.Load(pb.LoadRequest(name="", checkpoint_uri=checkpoint.as_uri()), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "name: is empty" in caught.value.details()
