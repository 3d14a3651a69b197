"""Every service's /metrics (what the chart's ServiceMonitor scrapes): request counts and latency by method,
and each service's own figures, moving with real calls to the real servers on loopback."""

from __future__ import annotations

import json
import urllib.request

import pytest

from commentslab.services.common.artifacts import to_uri
from commentslab.services.common.grpc_client import open_channel
from commentslab.v1 import (
    exporter_pb2,
    exporter_pb2_grpc,
    model_server_pb2,
    model_server_pb2_grpc,
    sandbox_pb2,
    sandbox_pb2_grpc,
    splitter_pb2,
    splitter_pb2_grpc,
    stats_pb2,
    stats_pb2_grpc,
)

pytestmark = pytest.mark.integration


def scrape(port: int) -> dict[tuple, float]:
    """(sample name, sorted labels) -> value, parsed with prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def value(samples: dict[tuple, float], name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels` (0 when absent)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


@pytest.fixture(scope="module")
def ports(grpc_services) -> dict[str, int]:
    return {s.name: s.metrics_port for s in grpc_services.services}


@pytest.fixture(scope="module")
def addresses(grpc_services) -> dict[str, str]:
    return grpc_services.addresses


def test_every_service_counts_and_times_its_requests_by_method(ports, addresses):
    stub = stats_pb2_grpc.StatsStub(open_channel(addresses["stats"]))
    before = scrape(ports["stats"])
    stub.Compare(stats_pb2.CompareRequest(metric="m", control=[0, 1, 0], experiment=[1, 1, 1]), timeout=30)
    after = scrape(ports["stats"])
    labels = {"service": "Stats", "method": "Compare"}
    assert value(after, "commentslab_grpc_requests_total", code="OK", **labels) == value(
        before, "commentslab_grpc_requests_total", code="OK", **labels) + 1
    assert value(after, "commentslab_grpc_request_seconds_count", **labels) == value(
        before, "commentslab_grpc_request_seconds_count", **labels) + 1


# The figures each service exposes beside the interceptor's request count and latency.
OWN_METRICS = {
    "exporter": ["commentslab_exporter_records_total", "commentslab_exporter_rejects_total"],
    "splitter": ["commentslab_splitter_rows_total", "commentslab_splitter_rejects_total"],
    "trainer": ["commentslab_trainer_step", "commentslab_trainer_loss", "commentslab_trainer_tokens_per_second",
                "commentslab_trainer_runs_in_progress"],
    "model-server": ["commentslab_model_server_generated_tokens_total", "commentslab_model_server_tokens_per_second",
                     "commentslab_model_server_requests_in_flight", "commentslab_model_server_loaded_models"],
    "sandbox": ["commentslab_sandbox_executions_total", "commentslab_sandbox_program_seconds"],
    "stats": ["commentslab_stats_comparisons_total"],
}


def test_every_service_exposes_its_own_figures(ports):
    assert set(ports) == set(OWN_METRICS)
    for name, port in ports.items():
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        for metric in ["commentslab_grpc_requests_total", "commentslab_grpc_request_seconds", *OWN_METRICS[name]]:
            assert f"# HELP {metric} " in body, (name, metric)


def test_stats_counts_comparisons_by_metric_and_verdict(ports, addresses):
    stub = stats_pb2_grpc.StatsStub(open_channel(addresses["stats"]))
    before = scrape(ports["stats"])
    reply = stub.Compare(stats_pb2.CompareRequest(metric="pass@1", control=[0.0] * 8, experiment=[1.0] * 8,
                                                  binary=True), timeout=30)
    after = scrape(ports["stats"])
    verdict = str(reply.significant).lower()
    assert value(after, "commentslab_stats_comparisons_total", metric="pass@1", significant=verdict) == value(
        before, "commentslab_stats_comparisons_total", metric="pass@1", significant=verdict) + 1


def test_sandbox_counts_outcomes_by_status_and_times_programs(ports, addresses):
    stub = sandbox_pb2_grpc.SandboxStub(open_channel(addresses["sandbox"]))
    before = scrape(ports["sandbox"])
    stub.Execute(sandbox_pb2.ExecuteRequest(program="assert 1 + 1 == 2\n"), timeout=60)
    stub.Execute(sandbox_pb2.ExecuteRequest(program="assert 1 + 1 == 3\n"), timeout=60)
    after = scrape(ports["sandbox"])
    for status in ("passed", "failed"):
        assert value(after, "commentslab_sandbox_executions_total", status=status) == value(
            before, "commentslab_sandbox_executions_total", status=status) + 1
    assert value(after, "commentslab_sandbox_program_seconds_count") == value(
        before, "commentslab_sandbox_program_seconds_count") + 2


def test_exporter_and_splitter_count_records_and_rows(ports, addresses, humaneval_repo, tmp_path):
    exporter = exporter_pb2_grpc.ExporterStub(open_channel(addresses["exporter"]))
    records = tmp_path / "records.jsonl"
    before = scrape(ports["exporter"])
    events = list(exporter.Export(exporter_pb2.ExportRequest(repository=to_uri(humaneval_repo),
                                                             out_uri=to_uri(records), context_lines=5), timeout=600))
    result = events[-1].result
    after = scrape(ports["exporter"])
    assert result.records > 100
    assert value(after, "commentslab_exporter_records_total") == value(
        before, "commentslab_exporter_records_total") + result.records
    assert value(after, "commentslab_exporter_rejects_total") == value(
        before, "commentslab_exporter_rejects_total") + len(result.rejects)

    splitter = splitter_pb2_grpc.SplitterStub(open_channel(addresses["splitter"]))
    before = scrape(ports["splitter"])
    events = list(splitter.Split(splitter_pb2.SplitRequest(records_uri=to_uri(records), out_uri=to_uri(tmp_path / "split"),
                                                           seed=1, arms=["control", "experiment"]), timeout=600))
    split = events[-1].result
    after = scrape(ports["splitter"])
    for count in split.counts:
        labels = {"arm": count.arm, "split": count.split}
        assert value(after, "commentslab_splitter_rows_total", **labels) == value(
            before, "commentslab_splitter_rows_total", **labels) + count.rows
    assert sum(c.rows for c in split.counts) >= 2 * 100


def test_trainer_reports_step_loss_and_tokens_per_second_per_arm(ports, smoke_run):
    results = json.loads((smoke_run / "results.json").read_text())
    steps = results["config"]["train"]["steps"]
    samples = scrape(ports["trainer"])
    for arm in ("control", "experiment"):
        assert value(samples, "commentslab_trainer_step", arm=arm) == steps
        assert value(samples, "commentslab_trainer_total_steps", arm=arm) == steps
        assert value(samples, "commentslab_trainer_steps_total", arm=arm) >= steps
        assert value(samples, "commentslab_trainer_loss", arm=arm) == pytest.approx(
            results["training"][arm]["history"][-1]["loss"], rel=1e-6)
        assert value(samples, "commentslab_trainer_tokens_per_second", arm=arm) > 0
    assert value(samples, "commentslab_trainer_runs_in_progress") == 0


def test_model_server_reports_tokens_samples_and_in_flight_requests(ports, addresses, smoke_run):
    stub = model_server_pb2_grpc.ModelServerStub(open_channel(addresses["model-server"]))
    before = scrape(ports["model-server"])
    assert value(before, "commentslab_model_server_loaded_models") >= 2  # both arms, loaded by the smoke run
    reply = stub.Generate(model_server_pb2.GenerateRequest(model="control", prompts=["def add(a, b):\n"], n=2,
                                                           max_new_tokens=8, temperature=0.8, top_p=0.95, seed=1),
                          timeout=120)
    after = scrape(ports["model-server"])
    assert reply.generated_tokens > 0
    assert value(after, "commentslab_model_server_generated_tokens_total", model="control") == value(
        before, "commentslab_model_server_generated_tokens_total", model="control") + reply.generated_tokens
    assert value(after, "commentslab_model_server_samples_total", model="control") == value(
        before, "commentslab_model_server_samples_total", model="control") + 2
    assert value(after, "commentslab_model_server_tokens_per_second", model="control") > 0
    assert value(after, "commentslab_model_server_requests_in_flight") == 0
