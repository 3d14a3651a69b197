"""The paired experiment as a Kubeflow Pipelines (v2) pipeline.

    corpus -> export -> split -> controls (Sandbox service) -> plan jobs -> for each (fold, seed, arm) in parallel:
        train (GPU pool) -> evaluate (GPU pool, programs in the Sandbox service)
    -> statistics (Stats service) -> publish (workspace volume -> dashboard)

A config over several base models (`models:`, from the profile or the overrides) adds the model to every
job ("model/fold/seed/arm"): the data steps run once for all of them, and statistics and publish write one
run folder per model under models/<name>/ with experiment.json beside them (pipelines/tasks.py).

Every step retries: a pod lost to the autoscaler or a node upgrade is run again, and each step resumes
from what its output folder already holds (manifests, checkpoints, stored generations).

Everything a researcher changes is a pipeline parameter, set in the Kubeflow UI's run form: the
profile, the base model, the training seeds, the folds, the arms and free-form config overrides.
The in-cluster addresses default to a chart release named `commentslab` in the pipeline's namespace.
"""

# No `from __future__ import annotations`: KFP reads the parameter types at decoration time.
from kfp import dsl, kubernetes

from commentslab.pipelines import components as c

PIPELINE_NAME = "commentslab-paired-experiment"
# Scheduling of the GPU steps: the same node pool, taint and GPU request as the chart's values-aks.yaml
# (gpu.nodeSelector / gpu.tolerations / trainer.gpu), so training runs where the trainer Job would.
GPU_NODE_SELECTOR = ("commentslab.io/pool", "gpu")
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
GPU_RESOURCE = "nvidia.com/gpu"
# Pods of the pipeline carry this label; the chart's NetworkPolicies admit it to the services.
PIPELINE_POD_LABEL = ("commentslab.io/pipeline", "true")


def _on_gpu_pool(task: dsl.PipelineTask, cpu: str, memory: str) -> dsl.PipelineTask:
    task.set_accelerator_type(GPU_RESOURCE).set_accelerator_limit(1)
    task.set_cpu_request(cpu).set_memory_request(memory)
    kubernetes.add_node_selector(task, *GPU_NODE_SELECTOR)
    kubernetes.add_toleration(task, **GPU_TOLERATION)
    return task


# A lost pod is retried after 30 s, then 60 s, 120 s: long enough for a node to be replaced.
RETRIES = 3
RETRY_BACKOFF = "30s"


def _labelled(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """A pipeline step: labelled for the network policies, retried when its pod is lost."""
    kubernetes.add_pod_label(task, *PIPELINE_POD_LABEL)
    task.set_retry(num_retries=RETRIES, backoff_duration=RETRY_BACKOFF, backoff_factor=2.0)
    return task


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Does .comments metadata make a code model write better code? Control vs experiment, "
                "identical but for the metadata; trained per fold and seed on the GPU pool.",
)
def commentslab_pipeline(
    profile: str = "gpu",
    base_model: str = "",
    seeds: list = [1234],  # noqa: B006 - KFP needs a literal default for the UI
    folds: int = 1,
    arms: list = ["control", "experiment"],  # noqa: B006
    overrides: list = [],  # noqa: B006
    run_name: str = "latest",
    results_destination: str = "/workspace/results",
    workspace_pvc: str = "commentslab-workspace",
    mlflow_tracking_uri: str = "http://commentslab-mlflow:5000",
    sandbox_address: str = "commentslab-sandbox:50055",
    stats_address: str = "commentslab-stats:50056",
) -> str:
    """Run the paired experiment; returns the published run folder."""
    config = _labelled(c.resolve_config(profile=profile, base_model=base_model, seeds=seeds, folds=folds,
                                        arms=arms, overrides=overrides))
    config.set_caching_options(False)
    config_file = config.outputs["config"]
    repository = _labelled(c.corpus(config=config_file))
    records = _labelled(c.export(repository=repository.outputs["repository"], config=config_file))
    datasets = _labelled(c.split(records=records.outputs["records"], config=config_file))
    checked = _labelled(c.controls(datasets=datasets.outputs["datasets"], config=config_file,
                                   sandbox_address=sandbox_address))
    jobs = _labelled(c.plan_jobs(config=config_file)).after(checked)
    with dsl.ParallelFor(jobs.output, parallelism=8) as job:
        trained = _on_gpu_pool(_labelled(c.train(datasets=datasets.outputs["datasets"], job=job,
                                                 config=config_file, tracking_uri=mlflow_tracking_uri)),
                               cpu="8", memory="64G")
        evaluated = _on_gpu_pool(_labelled(c.evaluate(datasets=datasets.outputs["datasets"],
                                                      model=trained.outputs["model"], job=job,
                                                      config=config_file, sandbox_address=sandbox_address)),
                                 cpu="4", memory="32G")
    stats = _labelled(c.statistics(datasets=datasets.outputs["datasets"], records=records.outputs["records"],
                                   scores=dsl.Collected(evaluated.outputs["scores"]), config=config_file,
                                   checked=checked.outputs["checked"], stats_address=stats_address))
    published = _labelled(c.publish(results=stats.outputs["results"], models=dsl.Collected(trained.outputs["model"]),
                                    datasets=datasets.outputs["datasets"], destination=results_destination,
                                    run_name=run_name))
    published.set_caching_options(False)
    kubernetes.mount_pvc(published, pvc_name=workspace_pvc, mount_path="/workspace")
    return published.output
