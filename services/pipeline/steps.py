"""The pipeline's steps behind one interface, done in-process (`LocalSteps`) or over gRPC (`GrpcSteps`).

The pipeline and the CLI verbs call a `Steps`; which one decides whether the work happens in this
process or in the services. Both show the same progress bars.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import grpc
from tqdm import tqdm

from commentslab.services.common.artifacts import Location, read_json, to_location, to_uri
from commentslab.services.common.config import ExperimentConfig, SplitOptions
from commentslab.services.common.errors import InputError
from commentslab.services.common.grpc_client import describe_rpc_error, follow_progress, open_channel
from commentslab.services.evaluator.harness import failure_message
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
    trainer_pb2,
    trainer_pb2_grpc,
)

if TYPE_CHECKING:
    from commentslab.services.exporter.export import ExportOptions

# One table of deadlines for every call to every service. Generous: a cpu-profile training step takes seconds, a whole arm minutes.
DEADLINES = {"export": 3600, "split": 600, "train": 6 * 3600, "load": 600, "generate": 3600, "execute": 3600,
             "compare": 60}


class Steps(Protocol):
    """What the pipeline needs from the services."""

    def export(self, repos: list[Path], records: Location, options: ExportOptions,
               review_queue: str | None = None) -> dict: ...
    def split(self, records: Location, out_dir: Location, seed: int, options: SplitOptions) -> dict: ...
    def train(self, dataset: Path, arm: str, out_dir: Path, cfg: ExperimentConfig, tracking_uri: str,
              job: dict | None = None) -> dict: ...
    def load(self, name: str, checkpoint: Path) -> None: ...
    def generate(self, name: str, prompts: list[str], cfg: ExperimentConfig) -> list[list[str]]: ...
    def run_programs(self, programs: list[str], cfg: ExperimentConfig, language: str = "python") -> list[dict]: ...
    def compare(self, metric: str, control: list[list[float]], experiment: list[list[float]], binary: bool,
                alpha: float = 0.05) -> dict: ...


def _train_bar(arm: str, total: int) -> tqdm:
    return tqdm(total=total, desc=f"train {arm}", unit="step")


def _trained(checkpoint: str, run_id: str, steps: int, final_loss: float, validation_loss: float | None,
             wall_seconds: float, stop_reason: str, best_step: int | None, resumed_from_step: int,
             registered_model: str | None, registered_version: str | None, plan: dict) -> dict:
    """One training outcome as the pipeline records it, whichever side trained."""
    return {"checkpoint": checkpoint, "mlflowRunId": run_id, "steps": steps, "finalLoss": final_loss,
            "validationLoss": validation_loss, "wallSeconds": wall_seconds, "stopReason": stop_reason,
            "bestStep": best_step, "resumedFromStep": resumed_from_step, "registeredModel": registered_model,
            "registeredVersion": registered_version, "plan": plan}


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class LocalSteps:
    """Every step in this process, from the cores."""

    def __init__(self):
        self._generator = None

    def export(self, repos: list[Path], records: Location, options: ExportOptions,
               review_queue: str | None = None) -> dict:
        from commentslab.services.exporter.export import run_export

        return run_export(repos[0], records, show_progress=True, options=options, more_repositories=repos[1:],
                          review_queue=Path(review_queue) if review_queue else None).to_dict()

    def split(self, records: Location, out_dir: Location, seed: int, options: SplitOptions) -> dict:
        from commentslab.services.splitter.split import run_split

        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            bar = bars.setdefault(stage, tqdm(total=total, desc=f"split {stage}", unit="item"))
            bar.update(done - bar.n)

        try:
            return run_split(records, out_dir, seed, options, progress)
        finally:
            for bar in bars.values():
                bar.close()

    def train(self, dataset: Path, arm: str, out_dir: Path, cfg: ExperimentConfig, tracking_uri: str,
              job: dict | None = None) -> dict:
        from commentslab.services.trainer.train import train_arm

        bar = None

        def on_step(report):
            nonlocal bar
            bar = bar or _train_bar(arm, report.total_steps)
            bar.set_postfix(loss=f"{report.loss:.3f}", tok_s=f"{report.tokens_per_second:.0f}")
            bar.update(report.step - bar.n)  # a resumed run starts past its checkpoint's step

        outcome = train_arm(dataset, arm, out_dir, cfg, tracking_uri, on_step, job=job)
        if bar:
            bar.close()
        return _trained(to_uri(outcome.checkpoint), outcome.mlflow_run_id, outcome.steps, outcome.final_loss,
                        outcome.validation_loss, outcome.wall_seconds, outcome.stop_reason, outcome.best_step,
                        outcome.resumed_from_step, outcome.registered_model, outcome.registered_version, outcome.plan)

    def load(self, name: str, checkpoint: Path) -> None:
        from commentslab.services.serving.generate import Generator

        self._generator = self._generator or Generator()
        self._generator.load(name, checkpoint)

    def generate(self, name: str, prompts: list[str], cfg: ExperimentConfig) -> list[list[str]]:
        from commentslab.services.serving.generate import Sampling

        g = cfg.generate
        self._generator.max_batch = g.batch_size
        # The requests GrpcSteps sends (same chunks, same seeds), so both give the same samples; queued at
        # once, the scheduler batches rows across them.
        requests = [
            self._generator.submit(name, chunk, Sampling(g.n, g.temperature, g.top_p, g.max_new_tokens,
                                                         tuple(g.stop), cfg.seed + index))
            for index, chunk in enumerate(_chunks(prompts, max(1, g.batch_size // g.n)))
        ]
        out: list[list[str]] = []
        with tqdm(total=len(prompts) * g.n, desc=f"generate {name}", unit="sample") as bar:
            for request in requests:
                out.extend(self._generator.collect(request)[0])
                bar.update(len(request.prompts) * g.n)
        return out

    def run_programs(self, programs: list[str], cfg: ExperimentConfig, language: str = "python") -> list[dict]:
        """Each program's {"status", "attempts", "timedOutAttempts", "message"}, in order; SandboxUnavailable if not
        isolated."""
        from commentslab.services.sandbox.execute import Limits, run_many
        from commentslab.services.sandbox.isolation import check_isolation

        # Here as in the service: no program is scored by a sandbox that has not shown it isolates.
        check_isolation()
        limits = Limits(cfg.evaluate.cpu_seconds, cfg.evaluate.wall_seconds, cfg.evaluate.memory_mb)
        return [{"status": r.status, "attempts": r.attempts, "timedOutAttempts": r.timed_out_attempts,
                 "message": failure_message(r.stderr, r.status)}
                for r in run_many(programs, language, limits=limits, progress=True,
                                  timeout_retries=cfg.evaluate.timeout_retries)]

    def compare(self, metric: str, control: list[list[float]], experiment: list[list[float]], binary: bool,
                alpha: float = 0.05) -> dict:
        """The paired comparison of one metric; rows are training seeds, columns test problems."""
        from commentslab.services.stats.compare import compare

        return compare(control, experiment, binary=binary, alpha=alpha)


class GrpcSteps:
    """Every step through the services at `addresses` (name -> host:port, as `commentslab up` prints)."""

    def __init__(self, addresses: dict[str, str]):
        self.addresses = addresses
        self._channels = {name: open_channel(address) for name, address in addresses.items()}

    def _stub(self, name: str, stub_class):
        if name not in self._channels:
            raise InputError(name, "no address given for this service")
        return stub_class(self._channels[name])

    def close(self) -> None:
        """Close every channel."""
        for channel in self._channels.values():
            channel.close()

    def export(self, repos: list[Path], records: Location, options: ExportOptions,
               review_queue: str | None = None) -> dict:
        stub = self._stub("exporter", exporter_pb2_grpc.ExporterStub)
        uris = [to_uri(r) for r in repos]
        request = exporter_pb2.ExportRequest(
            repository=uris[0], more_repositories=uris[1:], out_uri=to_uri(records), context_lines=options.context_lines,
            allowed_licences=list(options.allowed_licences), no_licence_gate=not options.licence_gate,
            lint=options.lint, min_completeness=options.min_completeness, review_queue=review_queue or "",
            scenario=options.scenario, test_conventions=list(options.test_conventions),
        )
        result = follow_progress(stub.Export(request, timeout=DEADLINES["export"]), "exporter", "export", "file")
        return read_json(to_location(result.report_uri))

    def split(self, records: Location, out_dir: Location, seed: int, options: SplitOptions) -> dict:
        stub = self._stub("splitter", splitter_pb2_grpc.SplitterStub)
        request = splitter_pb2.SplitRequest(
            records_uri=to_uri(records), out_uri=to_uri(out_dir), seed=seed, ratios=options.ratios, arms=options.arms,
            test_metadata=options.test_metadata, folds=options.folds if options.folds > 1 else 0,
            group_by=options.group_by, near_duplicate_threshold=options.near_duplicate_threshold,
            review_queue=options.review_queue or "", arms_file=options.arms_file or "",
        )
        result = follow_progress(stub.Split(request, timeout=DEADLINES["split"]), "splitter", "split")
        return read_json(to_location(result.report_uri))

    def train(self, dataset: Path, arm: str, out_dir: Path, cfg: ExperimentConfig, tracking_uri: str,
              job: dict | None = None) -> dict:
        stub = self._stub("trainer", trainer_pb2_grpc.TrainerStub)
        request = trainer_pb2.TrainRequest(
            dataset_uri=to_uri(dataset), arm=arm, out_uri=to_uri(out_dir), config_json=json.dumps(cfg.model_dump()),
            tracking_uri=tracking_uri, fold=job["fold"] if job else None,
        )
        bar = None
        result = None
        try:
            for event in stub.Train(request, timeout=DEADLINES["train"]):
                if event.HasField("progress"):
                    p = event.progress
                    bar = bar or _train_bar(arm, p.total_steps)
                    bar.set_postfix(loss=f"{p.loss:.3f}", tok_s=f"{p.tokens_per_second:.0f}")
                    bar.update(p.step - bar.n)
                elif event.HasField("result"):
                    result = event.result
        except grpc.RpcError as exc:
            raise describe_rpc_error("trainer", exc) from exc
        finally:
            if bar:
                bar.close()
        # validation_loss is that of the returned weights (early stopping may have kept an earlier step's).
        return _trained(result.checkpoint_uri, result.mlflow_run_id, result.steps, result.final_loss,
                        result.validation_loss if result.HasField("validation_loss") else None, result.wall_seconds,
                        result.stop_reason or "completed", result.best_step or None, result.resumed_from_step,
                        result.registered_model or None, result.registered_version or None,
                        json.loads(result.plan_json or "{}"))

    def load(self, name: str, checkpoint: Path) -> None:
        stub = self._stub("model-server", model_server_pb2_grpc.ModelServerStub)
        try:
            stub.Load(model_server_pb2.LoadRequest(name=name, checkpoint_uri=to_uri(checkpoint)),
                      timeout=DEADLINES["load"])
        except grpc.RpcError as exc:
            raise describe_rpc_error("model-server", exc) from exc

    def generate(self, name: str, prompts: list[str], cfg: ExperimentConfig) -> list[list[str]]:
        from collections import deque

        stub = self._stub("model-server", model_server_pb2_grpc.ModelServerStub)
        g = cfg.generate
        in_flight = 4
        out: list[list[str]] = []
        requests = [
            model_server_pb2.GenerateRequest(model=name, prompts=chunk, n=g.n, temperature=g.temperature,
                                             top_p=g.top_p, max_new_tokens=g.max_new_tokens, stop=g.stop,
                                             seed=cfg.seed + index)
            for index, chunk in enumerate(_chunks(prompts, max(1, g.batch_size // g.n)))
        ]
        # A few requests in flight, so the server batches across them, while each deadline still covers a
        # bounded amount of work; replies are taken in order.
        pending = deque()
        with tqdm(total=len(prompts) * g.n, desc=f"generate {name}", unit="sample") as bar:
            for index in range(len(requests)):
                while len(pending) < in_flight and index + len(pending) < len(requests):
                    pending.append(stub.Generate.future(requests[index + len(pending)],
                                                        timeout=DEADLINES["generate"]))
                try:
                    reply = pending.popleft().result()
                except grpc.RpcError as exc:
                    for future in pending:
                        future.cancel()
                    raise describe_rpc_error("model-server", exc) from exc
                out.extend(list(r.texts) for r in reply.results)
                bar.update(len(requests[index].prompts) * g.n)
        return out

    def run_programs(self, programs: list[str], cfg: ExperimentConfig, language: str = "python") -> list[dict]:
        """Each program's {"status", "attempts", "timedOutAttempts", "message"}, in order; a lost server is resumed.

        Raises SandboxUnavailable when the service cannot isolate programs.
        """
        from commentslab.services.sandbox.client import run_batch

        self._stub("sandbox", sandbox_pb2_grpc.SandboxStub)  # a clear error when no address was given
        limits = sandbox_pb2.Limits(cpu_seconds=cfg.evaluate.cpu_seconds, wall_seconds=cfg.evaluate.wall_seconds,
                                    memory_mb=cfg.evaluate.memory_mb)
        with tqdm(total=len(programs), desc="sandbox", unit="program") as bar:
            run = run_batch(self._channels["sandbox"], self.addresses["sandbox"], programs, limits, language=language,
                            timeout_retries=cfg.evaluate.timeout_retries, deadline_seconds=DEADLINES["execute"],
                            on_result=lambda index, result: bar.update())
        if run.interruptions:
            bar.write(f"sandbox: resumed after {run.interruptions} lost server(s); "
                      f"{run.sent - len(programs)} program(s) re-sent")
        return [{"status": r.status, "attempts": r.attempts, "timedOutAttempts": r.timed_out_attempts,
                 "message": failure_message(r.stderr, r.status)} for r in run.results]

    def compare(self, metric: str, control: list[list[float]], experiment: list[list[float]], binary: bool,
                alpha: float = 0.05) -> dict:
        stub = self._stub("stats", stats_pb2_grpc.StatsStub)
        request = stats_pb2.CompareRequest(
            metric=metric, control=[x for row in control for x in row], experiment=[x for row in experiment for x in row],
            binary=binary, alpha=alpha, seeds=len(control),
        )
        try:
            r = stub.Compare(request, timeout=DEADLINES["compare"])
        except grpc.RpcError as exc:
            raise describe_rpc_error("stats", exc) from exc
        return json.loads(r.comparison_json)
