"""The playground through the gateway to a real ModelServer over gRPC, holding the smoke run's two arms."""

import json

import pytest
import requests

from services.gateway.server import start_in_thread

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway(smoke_run, grpc_services):
    running = start_in_thread(smoke_run, model_server=grpc_services.addresses["model-server"], daily_limit=2)
    yield running.url
    running.stop()


def test_playground_streams_one_line_per_arm_then_enforces_the_daily_limit(gateway):
    body = {"prompt": "def add(a, b):\n", "metadata": '{"text": "Adds two numbers", "params": {"a": "int"}}',
            "maxNewTokens": 8}
    with requests.post(f"{gateway}/api/generate", json=body, stream=True, timeout=300) as reply:
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in reply.iter_lines() if line]
    assert [line["arm"] for line in lines] == ["control", "experiment"]
    assert lines[0]["input"] == body["prompt"]
    assert "Adds two numbers" in lines[1]["input"] and lines[1]["input"].endswith(body["prompt"])
    assert all(isinstance(line["completion"], str) for line in lines) and lines[0]["remainingToday"] == 1
    # Each visitor the dashboard relays counts on its own; the third request of one visitor is refused.
    visitor = {"X-Forwarded-For": "203.0.113.7"}
    assert requests.post(f"{gateway}/api/generate", json=body, headers=visitor, timeout=300).status_code == 200
    assert requests.post(f"{gateway}/api/generate", json=body, headers=visitor, timeout=300).status_code == 200
    refused = requests.post(f"{gateway}/api/generate", json=body, headers=visitor, timeout=300)
    assert refused.status_code == 429 and "Daily limit reached" in refused.json()["detail"]


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
