"""The one typed experiment config: a profile (YAML data in profiles/) plus dotted overrides."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from commentslab.services.common.errors import ConfigError, InputError

PROFILES_DIR = Path(__file__).parent / "profiles"

DEFAULT_STOP = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ", "\n```"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SplitOptions(_Strict):
    """How records become datasets: what the Splitter service takes, and the `data` section's split part."""

    ratios: list[float] = [0.70, 0.15, 0.15]
    # Arm names defined in services/splitter/arms.yaml (control, experiment, placebo, ablations such as
    # params-only), or in `arms_file`; the splitter names an unknown one and the known ones.
    arms: list[str] = ["control", "experiment"]
    arms_file: str | None = None
    test_metadata: Literal["none", "rendered"] = "none"
    # k-fold: each fold's test split is a k-th of the problems, so all folds together test every problem once.
    folds: int = Field(1, ge=1)
    # The unit that never spans splits: a source file, or a whole repository.
    group_by: Literal["file", "repository"] = "file"
    # MinHash Jaccard above which two records count as near duplicates and are kept in one split.
    near_duplicate_threshold: float = Field(0.85, gt=0, le=1)
    # The review queue whose decisions admit or drop flagged records; None: the one beside the records.
    review_queue: str | None = None

    @field_validator("ratios")
    @classmethod
    def _three_ratios_summing_to_one(cls, v: list[float]) -> list[float]:
        if len(v) != 3 or any(r < 0 for r in v) or abs(sum(v) - 1.0) > 1e-6:
            raise ValueError("ratios must be three non-negative numbers (train, validation, test) summing to 1")
        return v


class DataConfig(SplitOptions):
    context_lines: int = Field(5, ge=0)
    # The default corpus is HumanEval's 164 problems; a quick check may take only the first N of them.
    corpus_problems: int | None = Field(None, ge=2, le=164)

    def split_options(self) -> SplitOptions:
        """The split part of this section, as the Splitter takes it."""
        return SplitOptions(**{name: getattr(self, name) for name in SplitOptions.model_fields})


class ScenarioConfig(_Strict):
    """What an experiment is about, as data: annotated repositories in one language, each function judged by
    the tests its repository keeps where the language's conventions put them, prompts rendered by one template.

    Every record the exporter writes carries the scenario's `name`, and so does results.json.
    """

    name: str = Field("function_completion", pattern=r"^[a-z0-9][a-z0-9._-]*$")
    # Annotated repositories (local folders); empty: the HumanEval corpus (Python) the run writes itself.
    repositories: list[str] = []
    language: Literal["python", "javascript", "typescript"] = "python"
    # Where a source's tests are, as patterns of {root}, {dir}, {stem} and {ext} (services/exporter/test_files.py);
    # empty: the conventions of each file's language.
    test_conventions: list[str] = []
    # The template that renders the metadata into the experiment arm's prompts (services/splitter/template.py).
    template: Literal["comments-block"] = "comments-block"

    @field_validator("test_conventions")
    @classmethod
    def _patterns_name_the_source(cls, v: list[str]) -> list[str]:
        for pattern in v:
            if "{stem}" not in pattern or not pattern.startswith(("{root}/", "{dir}/")):
                raise ValueError(f"{pattern!r}: a test convention starts with {{root}}/ or {{dir}}/ and names {{stem}}")
        return v

    @model_validator(mode="after")
    def _only_python_has_a_default_corpus(self) -> ScenarioConfig:
        if self.language != "python" and not self.repositories:
            raise ValueError(f"a {self.language} scenario names its repositories (the default corpus is Python)")
        return self


class ModelConfig(_Strict):
    kind: Literal["tiny-random", "smollm2-gguf", "hf"]
    path: str | None = None
    tokenizer: Literal["smollm2"] = "smollm2"
    # auto: bfloat16 on a CUDA device that supports it, else float32 (see models.dtype_name).
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "cpu"
    hidden_size: int = 64
    intermediate_size: int = 128
    num_layers: int = 2
    num_heads: int = 4


# A base model's name is a folder of the experiment's run folder (models/<name>/): letters, digits, '.', '_'
# and '-', never '.' or '..' (it starts with a letter or digit).
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# The display names of the kinds whose weights are not named by a path.
KIND_NAMES = {"tiny-random": "tiny-random", "smollm2-gguf": "SmolLM2-135M-Instruct"}


class NamedModelConfig(ModelConfig):
    """One base model of an experiment over several (`models:`): a short folder-safe name and its settings."""

    name: str

    def settings(self) -> ModelConfig:
        """The model's settings without its name, as a one-model run's `model:` holds them."""
        return ModelConfig(**self.model_dump(exclude={"name"}))


def display_name(model: ModelConfig) -> str:
    """A short name for a base model: its kind's name, or an `hf` model's path's last component."""
    if model.kind in KIND_NAMES:
        return KIND_NAMES[model.kind]
    return Path((model.path or "hf").rstrip("/")).name or model.path or "hf"


def check_model_choice(data: dict) -> None:
    """Refuse a raw config that names no base model, names it both ways (`model` and `models`), or gives a
    `models` entry without a name, with an unsafe one or with one another entry already has."""
    model, models = data.get("model"), data.get("models")
    if models is None or models == []:
        if model is None:
            raise InputError("model", "no base model: give one (model) or several (models, each with a name)")
        return
    if not isinstance(models, list):
        raise InputError("models", "give a list of base models, each with a name and a kind")
    if model is not None:
        raise InputError("models", "give either model (one base model) or models (several), not both; "
                                   "with a profile that sets model, add --set model=null")
    seen: dict[str, int] = {}
    for index, entry in enumerate(models):
        field = f"models[{index}].name"
        name = entry.get("name") if isinstance(entry, dict) else None
        if name is None:
            raise InputError(field, "is required: a short folder-safe name for this base model, e.g. smollm2")
        if not isinstance(name, str) or not MODEL_NAME.match(name):
            raise InputError(field, f"{name!r} is not folder-safe: use letters, digits, '.', '_' and '-', starting "
                                    "with a letter or digit, at most 64 characters")
        # Compared without case: on a case-insensitive file system two such names share one folder.
        if name.lower() in seen:
            raise InputError(field, f"{name!r} is already the name of models[{seen[name.lower()]}]; "
                                    "each base model needs its own name")
        seen[name.lower()] = index


class TrainConfig(_Strict):
    """Training hyper-parameters; the defaults are the design's (lr 1e-5, batch 4, 3 epochs, 100 warm-up
    steps, 2048 tokens, early stopping with patience 2). services/trainer/plan.py resolves the `auto`s."""

    # full, lora, qlora (4-bit NF4 base, CUDA only), or auto: chosen by model size and GPU memory.
    method: Literal["auto", "full", "lora", "qlora"] = "lora"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_last_layers: int | None = None  # None: every layer
    lora_target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj"]
    learning_rate: float = 1e-5
    # Rows per optimisation step over all processes (packed rows when packing is on).
    batch_size: int = Field(4, ge=1)
    # Rows per forward pass on one process; None: the plan's choice (batch_size where it fits).
    # batch_size / (micro_batch_size x processes) micro-batches are accumulated per step.
    micro_batch_size: int | None = Field(None, ge=1)
    steps: int | None = Field(None, ge=1)  # None: derived from epochs
    epochs: int = Field(3, ge=1)
    warmup_steps: int = Field(100, ge=0)
    max_seq_len: int = Field(2048, ge=16)
    weight_decay: float = 0.0
    max_grad_norm: float = Field(1.0, gt=0)
    # Several examples per max_seq_len row, each attending only to itself (position ids restart).
    packing: bool = False
    # None: the plan's choice (on for models too big to keep activations of a micro-batch).
    gradient_checkpointing: bool | None = None
    # DeepSpeed ZeRO stage when launched with several processes: 0 is plain DDP; auto picks by size.
    zero_stage: Literal[0, 2, 3, "auto"] = "auto"
    # Early stopping: validation loss at each epoch end (or every eval_every steps) and at the last step;
    # stop after `patience` evaluations without improvement (0: never stop early, and without eval_every
    # validate only at the end). With restore_best the weights of the best validation loss are returned.
    eval_every: int = Field(0, ge=0)
    patience: int = Field(2, ge=0)
    min_improvement: float = Field(0.0, ge=0)
    restore_best: bool = True
    # Resumable checkpoints (weights or adapter, optimizer, RNG and data position) every N steps; 0: none.
    checkpoint_every: int = Field(100, ge=0)
    keep_checkpoints: int = Field(1, ge=1)
    # MLflow: CPU/GPU/memory system metrics, the final checkpoint as an artifact (up to this size) and a
    # registered model commentslab-<arm> per arm.
    system_metrics: bool = True
    system_metrics_interval: float = Field(10.0, gt=0)
    checkpoint_artifact_max_mb: int = Field(4096, ge=0)
    register_model: bool = True


class GenerateConfig(_Strict):
    n: int = Field(1, ge=1)
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(256, ge=1)
    stop: list[str] = DEFAULT_STOP
    batch_size: int = Field(16, ge=1)


class EvaluateConfig(_Strict):
    k: list[int] = [1]
    cpu_seconds: float = 10
    wall_seconds: float = 20
    memory_mb: int = 1024
    semantic_similarity: bool = True
    # A program that timed out is run this many more times before its timeout stands.
    timeout_retries: int = Field(1, ge=0)
    codebleu: bool = True
    alpha: float = Field(0.05, gt=0, lt=1)


class ExperimentConfig(_Strict):
    """Everything a run depends on; results carry it so a run can be reproduced."""

    profile: str
    seed: int = 1234
    # Training seeds: one training run per arm, fold and seed; empty means [seed].
    seeds: list[int] = []
    scenario: ScenarioConfig = ScenarioConfig()
    data: DataConfig = DataConfig()
    # Exactly one of the two: one base model (`model`), or several (`models`), each trained and evaluated
    # with the same data, seeds and settings into its own run folder.
    model: ModelConfig | None = None
    models: list[NamedModelConfig] = []
    train: TrainConfig = TrainConfig()
    generate: GenerateConfig = GenerateConfig()
    evaluate: EvaluateConfig = EvaluateConfig()

    @model_validator(mode="before")
    @classmethod
    def _one_way_to_name_the_base_model(cls, data: object) -> object:
        if isinstance(data, dict):
            check_model_choice(data)
        return data

    def model_names(self) -> list[str]:
        """The names of the base models of an experiment over several; empty for a one-model run."""
        return [m.name for m in self.models]

    def for_model(self, name: str) -> ExperimentConfig:
        """The config of one base model's run in an experiment over several: that model as `model`."""
        for entry in self.models:
            if entry.name == name:
                return self.model_copy(update={"model": entry.settings(), "models": []})
        raise InputError("model", f"{name!r} is not one of this experiment's models ({', '.join(self.model_names())})")

    def base_model_name(self) -> str:
        """The display name of a one-model run's base model."""
        if self.model is None:
            raise InputError("model", "an experiment over several base models has one name per model")
        return display_name(self.model)


def available_profiles() -> list[str]:
    """Names of the profiles shipped in profiles/."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def _parse_value(text: str) -> object:
    # YAML scalars give ints, floats, bools, lists ("[1, 10]") and null the way a user types them.
    return yaml.safe_load(text)


def apply_override(data: dict, override: str) -> None:
    """Set one `a.b.c=value` override in a nested dict, in place."""
    key, sep, value = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {override!r}: expected the form section.name=value")
    node = data
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {override!r}: {part} is not a section")
    node[parts[-1]] = _parse_value(value)


def load_config(profile: str = "smoke", overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Resolve a profile name (or a YAML file path) and overrides into a validated config."""
    path = Path(profile)
    if not (path.suffix in {".yaml", ".yml"} and path.is_file()):
        path = PROFILES_DIR / f"{profile}.yaml"
        if not path.is_file():
            raise ConfigError(
                f"profile {profile!r} does not exist; choose one of {', '.join(available_profiles())} "
                "or give a path to a YAML file"
            )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    for override in overrides:
        apply_override(data, override)
    return config_from_dict(data, source=str(path))


def config_from_dict(data: dict, source: str = "config") -> ExperimentConfig:
    """Validate a plain dict (e.g. the JSON a service received) into a config."""
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from exc
