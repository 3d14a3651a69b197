"""The Kubeflow pipeline as a user runs it: compile it, run it here with `kfp.local`, or submit it to a
Kubeflow Pipelines host (`commentslab pipeline compile | run-local | submit`).

Every way checks the run's config first (the profile, the UI's parameters, the overrides), so a bad
setting stops here with its name rather than in a pod after the GPU steps have started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from commentslab.services.common.errors import InputError

DEFAULT_EXPERIMENT = "commentslab"


@dataclass
class PipelineArguments:
    """The pipeline's parameters as the Kubeflow UI's run form shows them (pipelines/pipeline.py)."""

    profile: str = "gpu"
    base_model: str = ""
    seeds: list[int] = field(default_factory=lambda: [1234])
    folds: int = 1
    arms: list[str] = field(default_factory=lambda: ["control", "experiment"])
    overrides: list[str] = field(default_factory=list)
    run_name: str = "latest"
    extra: dict = field(default_factory=dict)

    def checked(self) -> dict:
        """The arguments as the pipeline takes them, after resolving them into a config exactly as the
        pipeline's first step will (an InputError or ConfigError names what is wrong)."""
        import tempfile

        from commentslab.pipelines.tasks import resolve_config

        with tempfile.TemporaryDirectory() as folder:
            resolve_config(str(Path(folder) / "config.json"), self.profile, self.base_model, self.seeds, self.folds,
                           self.arms, self.overrides)
        return {"profile": self.profile, "base_model": self.base_model, "seeds": list(self.seeds),
                "folds": int(self.folds), "arms": list(self.arms), "overrides": list(self.overrides),
                "run_name": self.run_name, **self.extra}


def compile_to(out: Path) -> Path:
    """Compile the pipeline to the YAML the Kubeflow UI uploads."""
    from commentslab.pipelines.compile import compile_pipeline

    out.parent.mkdir(parents=True, exist_ok=True)
    return compile_pipeline(out)


def run_local(arguments: PipelineArguments, root: Path, sandbox_address: str, stats_address: str) -> Path:
    """Run the pipeline on this machine with kfp.local (each step a subprocess of this Python), its
    programs in the Sandbox service and its statistics in the Stats service at the given addresses;
    the run is published to `root/results/<run_name>`. Returns the published run folder."""
    import kfp.local

    from commentslab.pipelines.pipeline import commentslab_pipeline

    params = arguments.checked()
    kfp.local.init(runner=kfp.local.SubprocessRunner(use_venv=False), pipeline_root=str(root / "pipeline-root"))
    task = commentslab_pipeline(**params, results_destination=str(root / "results"), mlflow_tracking_uri="",
                                sandbox_address=sandbox_address, stats_address=stats_address)
    return Path(task.output)


def submit(host: str, arguments: PipelineArguments, package: Path, experiment: str = DEFAULT_EXPERIMENT,
           namespace: str | None = None, existing_token: str | None = None) -> str:
    """Submit a run of the compiled `package` to the Kubeflow Pipelines API at `host`; returns the run's id.

    A host that does not answer, or that refuses the pipeline, is an InputError naming the host and what
    it said, in one line.
    """
    if not package.is_file():
        raise InputError(str(package), "no compiled pipeline here; run `commentslab pipeline compile` first")
    params = arguments.checked()
    import warnings

    import kfp
    from kfp_server_api.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # kfp's notice that it needs a v2 backend
            client = kfp.Client(host=host, namespace=namespace or "kubeflow", existing_token=existing_token)
            result = client.create_run_from_pipeline_package(str(package), arguments=params,
                                                             run_name=params["run_name"], experiment_name=experiment,
                                                             namespace=namespace)
    except ApiException as exc:
        reason = (exc.body or exc.reason or "").strip().splitlines()
        raise InputError(host, f"the Kubeflow Pipelines API refused the run (HTTP {exc.status}: "
                               f"{reason[0][:300] if reason else 'no reason given'})") from exc
    except (HTTPError, OSError) as exc:
        raise InputError(host, f"the Kubeflow Pipelines API does not answer ({exc.__class__.__name__}); check the "
                               "address, or `kubectl port-forward svc/ml-pipeline-ui 8080:80` and use "
                               "http://localhost:8080") from exc
    return result.run_id
