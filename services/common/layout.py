"""The one owner of a run folder's layout: every path and file name inside a run is named here.

A run folder (`commentslab run --out RUN`, a Kubeflow run published to the workspace, the committed
reference) holds::

    RUN/
      layout.json                              {"layoutVersion": 2, "folds": K}
      corpus/                                  the annotated repository (HumanEval by default)
      export/records.jsonl                     records, records.report.json beside them
      split/split_report.json                  one report for a single split and for K folds
      split/datasets/<arm>/<split>.jsonl       a single split (K = 1)
      split/folds/<f>/datasets/<arm>/<split>.jsonl and split/folds/<f>/split_report.json (K >= 2)
      train/fold<f>/seed<s>/<arm>/             checkpoint/, history.json, job.json (the training outcome)
      generations/fold<f>/seed<s>/<arm>/completions.jsonl
      scores/fold<f>/seed<s>/<arm>.jsonl       every problem's scores for that job
      controls/fold<f>.json                    the sandbox's positive and negative controls per fold
      problems.csv                             one row per problem, arm and seed
      mlflow.db                                the local MLflow store
      results.json                             the run's answer (docs/CONTRACTS.md)

Every job (fold, training seed, arm) has its own folders, even in a one-fold, one-seed run, so a reader
never needs to know the design to find a file.

An experiment over several base models (`models:` in the config) is a folder of such runs, one per model::

    OUT/
      experiment.json                          {"experiment": id, "models": [names], "runs": {name: "models/<name>"}}
      data/                                    corpus/, export/, split/, controls/: done once for every model
      models/<name>/                           a complete run folder of the layout above

Each model's run folder holds a copy of the shared export, split and controls, so it reads on its own (moved,
published or served alone) exactly as a one-model run does; `data/` has no layout.json, so no reader takes
it for a run. experiment.json is derived by the runner; nothing else writes it. Kubeflow steps each write a part of this tree into their
own output folder; the statistics step reads them as several `RunLayout`s and the publish step joins
them into one run folder of the same shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from commentslab.services.common.artifacts import Location, join_uri
from commentslab.services.common.errors import InputError

LAYOUT_VERSION = 2
RESULTS_SCHEMA_VERSION = 1
LAYOUT_FILE = "layout.json"
RESULTS_FILE = "results.json"
SPLIT_REPORT = "split_report.json"
DATASETS = "datasets"
SPLITS = ("train", "validation", "test")
JOB_FILE = "job.json"
HISTORY_FILE = "history.json"
CHECKPOINT = "checkpoint"
REFERENCE_DIR = Path("results") / "reference"
PROVENANCE_FILE = "PROVENANCE.json"
EXPERIMENT_FILE = "experiment.json"
MODELS_DIR = "models"
SHARED_DATA_DIR = "data"


@dataclass(frozen=True, order=True)
class Job:
    """One training and evaluation of an arm: a fold, a training seed and an arm, and in an experiment over
    several base models the model's name ("" in a one-model run)."""

    fold: int
    seed: int
    arm: str
    model: str = ""

    @property
    def key(self) -> str:
        """`fold/seed/arm` (`model/fold/seed/arm` with several base models), the form a Kubeflow loop carries."""
        key = f"{self.fold}/{self.seed}/{self.arm}"
        return f"{self.model}/{key}" if self.model else key

    @property
    def label(self) -> str:
        """A short human label: `control fold0 seed1234` (`smollm2 control fold0 seed1234`)."""
        label = f"{self.arm} fold{self.fold} seed{self.seed}"
        return f"{self.model} {label}" if self.model else label

    @classmethod
    def parse(cls, key: str) -> Job:
        """The job a `fold/seed/arm` or `model/fold/seed/arm` string names."""
        try:
            parts = key.split("/")
            model = parts.pop(0) if len(parts) == 4 else ""
            fold, seed, arm = parts
            return cls(int(fold), int(seed), arm, model)
        except ValueError as exc:
            raise InputError("job", f"{key!r}: expected fold/seed/arm or model/fold/seed/arm, "
                                    "e.g. 0/1234/control") from exc


def split_datasets(split_dir: Location, fold: int | None) -> Location:
    """A split's datasets folder inside a splitter output: `datasets` (fold None) or `folds/<f>/datasets`."""
    return join_uri(split_dir, DATASETS) if fold is None else join_uri(split_dir, "folds", str(fold), DATASETS)


def split_dataset_file(split_dir: Location, fold: int | None, arm: str, split: str) -> Location:
    """One arm's rows of one split (train, validation, test)."""
    return join_uri(split_datasets(split_dir, fold), arm, f"{split}.jsonl")


def split_report(split_dir: Location, fold: int | None = None) -> Location:
    """The splitter's report: the whole split's (fold None) or one fold's."""
    return join_uri(split_dir, SPLIT_REPORT) if fold is None else join_uri(split_dir, "folds", str(fold), SPLIT_REPORT)


def export_report(records: Path) -> Path:
    """An export's report, beside its records: `<name>.report.json`."""
    return records.with_name(records.stem + ".report.json")


def review_queue(records: Path) -> Path:
    """The review queue of an export's flagged records, beside them: `<name>.review.sqlite`."""
    return records.with_name(records.stem + ".review.sqlite")


class RunLayout:
    """Every path inside the run folder `root`, for a design of `folds` folds."""

    def __init__(self, root: Path | str, folds: int = 1):
        self.root = Path(root)
        self.folds = folds

    @classmethod
    def open(cls, root: Path | str) -> RunLayout:
        """The layout of an existing run folder, read from its layout.json.

        A folder without one is a run of an older layout (or no run at all): refused with the way out,
        rather than read wrongly.
        """
        root = Path(root)
        marker = root / LAYOUT_FILE
        if not marker.is_file():
            raise InputError(str(root), "is not a run folder of this version (no layout.json); "
                                        "re-run the experiment into a new --out folder")
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(str(marker), f"is not readable JSON ({exc})") from exc
        version = data.get("layoutVersion") if isinstance(data, dict) else None
        if version != LAYOUT_VERSION:
            raise InputError(str(marker), f"layoutVersion {version!r}: this version reads layout {LAYOUT_VERSION}; "
                                          "re-run the experiment into a new --out folder")
        return cls(root, int(data.get("folds", 1)))

    @classmethod
    def reading(cls, root: Path | str) -> RunLayout:
        """The layout of a folder to read from (a run, the reference, a run in progress): its layout.json
        when it has one, else a one-fold layout over whatever files are there."""
        try:
            return cls.open(root)
        except InputError:
            return cls(root)

    def claim(self) -> None:
        """Mark `root` as a run of this layout; refuse a folder that already holds a run of another.

        An empty folder (or a missing one) becomes a run; a folder with this layout's marker and the same
        number of folds is resumed.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        marker = self.root / LAYOUT_FILE
        if marker.is_file():
            existing = RunLayout.open(self.root)
            if existing.folds != self.folds:
                raise InputError(str(self.root), f"holds a run of {existing.folds} fold(s); this config asks for "
                                                 f"{self.folds} (data.folds): use a new --out folder")
            return
        if (self.root / EXPERIMENT_FILE).is_file() or (self.root / MODELS_DIR).is_dir():
            raise InputError(str(self.root), "holds an experiment over several base models (models/ and "
                                             f"{EXPERIMENT_FILE}); use a new --out folder for a one-model run")
        leftovers = sorted(p.name for p in self.root.iterdir() if p.name in {RESULTS_FILE, "train", "split", "scores"})
        if leftovers:
            raise InputError(str(self.root), f"holds a run of an older layout ({', '.join(leftovers)} without "
                                             f"{LAYOUT_FILE}); use a new --out folder or delete this one")
        marker.write_text(json.dumps({"layoutVersion": LAYOUT_VERSION, "folds": self.folds}) + "\n", encoding="utf-8")

    # -- data -------------------------------------------------------------------------------------
    @property
    def corpus(self) -> Path:
        return self.root / "corpus"

    @property
    def export_dir(self) -> Path:
        return self.root / "export"

    @property
    def records(self) -> Path:
        return self.export_dir / "records.jsonl"

    @property
    def export_report(self) -> Path:
        return export_report(self.records)

    @property
    def split_dir(self) -> Path:
        return self.root / "split"

    @property
    def split_report(self) -> Path:
        return Path(split_report(self.split_dir))

    def datasets(self, fold: int) -> Path:
        """One fold's datasets folder (`<arm>/<split>.jsonl` inside)."""
        return Path(split_datasets(self.split_dir, None if self.folds == 1 else fold))

    def dataset(self, fold: int, arm: str) -> Path:
        """One fold's folder of an arm's train/validation/test files."""
        return self.datasets(fold) / arm

    def rows(self, fold: int, arm: str, split: str = "test") -> Path:
        """One fold's rows of one arm and split."""
        return self.dataset(fold, arm) / f"{split}.jsonl"

    def test_row_files(self, arm: str) -> list[Path]:
        """Every fold's test rows of `arm` that exist, in fold order."""
        return [path for fold in range(self.folds) if (path := self.rows(fold, arm)).is_file()]

    # -- jobs -------------------------------------------------------------------------------------
    def _job_part(self, job: Job) -> Path:
        return Path(f"fold{job.fold}") / f"seed{job.seed}"

    def train_dir(self, job: Job) -> Path:
        """The trainer's output folder for a job (checkpoint/, history.json)."""
        return self.root / "train" / self._job_part(job) / job.arm

    def checkpoint(self, job: Job) -> Path:
        return self.train_dir(job) / CHECKPOINT

    def history(self, job: Job) -> Path:
        return self.train_dir(job) / HISTORY_FILE

    def outcome(self, job: Job) -> Path:
        """The job's training outcome (what results.json's training rows hold)."""
        return self.train_dir(job) / JOB_FILE

    def generations_dir(self, job: Job) -> Path:
        return self.root / "generations" / self._job_part(job) / job.arm

    def completions(self, job: Job) -> Path:
        return self.generations_dir(job) / "completions.jsonl"

    def scores(self, job: Job) -> Path:
        return self.root / "scores" / self._job_part(job) / f"{job.arm}.jsonl"

    def controls(self, fold: int) -> Path:
        return self.root / "controls" / f"fold{fold}.json"

    def histories(self) -> Iterator[tuple[Job, Path]]:
        """Every job's history.json present under train/ (a run in progress has some), in job order."""
        found = []
        for path in self.root.glob(f"train/fold*/seed*/*/{HISTORY_FILE}"):
            arm_dir = path.parent
            try:
                job = Job(int(arm_dir.parent.parent.name[4:]), int(arm_dir.parent.name[4:]), arm_dir.name)
            except ValueError:
                continue
            found.append((job, path))
        yield from sorted(found)

    # -- results ----------------------------------------------------------------------------------
    @property
    def results(self) -> Path:
        return self.root / RESULTS_FILE

    @property
    def problems_csv(self) -> Path:
        return self.root / "problems.csv"

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_db.resolve()}"

    @property
    def provenance(self) -> Path:
        """The reference folder's record of what was promoted (only the reference has one)."""
        return self.root / PROVENANCE_FILE

    def relative(self, path: Path | str) -> str:
        """`path` relative to the run folder, as results.json records it (so a moved run still reads)."""
        return Path(path).resolve().relative_to(self.root.resolve()).as_posix()


class ExperimentLayout:
    """The folder of an experiment over several base models: its index, the data every model shares, and one
    run folder per model (see this module's docstring)."""

    def __init__(self, root: Path | str, folds: int = 1):
        self.root = Path(root)
        self.folds = folds

    @staticmethod
    def holds_experiment(root: Path | str) -> bool:
        """True when `root` is (or is becoming) an experiment over several base models."""
        return (Path(root) / EXPERIMENT_FILE).is_file()

    @property
    def index(self) -> Path:
        """experiment.json: the experiment's id, its models and each model's run folder."""
        return self.root / EXPERIMENT_FILE

    @property
    def shared(self) -> RunLayout:
        """Where the export, split and controls every model shares are made, once."""
        return RunLayout(self.root / SHARED_DATA_DIR, self.folds)

    def run(self, name: str) -> RunLayout:
        """The run folder of the base model `name`."""
        return RunLayout(self.root / MODELS_DIR / name, self.folds)

    def claim(self) -> None:
        """Make `root` an experiment folder; refuse a folder that holds a one-model run."""
        self.root.mkdir(parents=True, exist_ok=True)
        if (self.root / LAYOUT_FILE).is_file() or (self.root / RESULTS_FILE).is_file():
            raise InputError(str(self.root), "holds a one-model run; use a new --out folder for an experiment "
                                             "over several base models")

    def relative(self, layout: RunLayout) -> str:
        """A model's run folder relative to the experiment's folder, as experiment.json records it."""
        return layout.root.resolve().relative_to(self.root.resolve()).as_posix()


def find_job(layouts: Iterable[RunLayout], job: Job, file: str) -> RunLayout:
    """The first of `layouts` that holds `file` ("scores", "outcome") of `job`; InputError naming the job."""
    layouts = list(layouts)
    for layout in layouts:
        if getattr(layout, file)(job).is_file():
            return layout
    raise InputError(job.key, f"no {file} for this job in {', '.join(str(x.root) for x in layouts) or 'any folder'}; "
                              "every job must finish before the statistics step")
