"""The Python API, for a notebook or a script: run the experiment, read a run's results as tables.

    import commentslab
    run = commentslab.run_experiment(profile="smoke", out="runs/notebook")
    print(run.verdict)
    run.comparison.to_pandas()          # one row per metric: both arms, the difference, the tests
    run.problems.to_pandas()            # one row per problem, arm, training seed and metric

`commentslab.load_results(path)` reads a finished run (its folder or its results.json) the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from commentslab.services.common.errors import InputError

if TYPE_CHECKING:
    import pandas


@dataclass(frozen=True)
class Table:
    """Rows of one table, as dicts with the same keys; `to_pandas()` makes a DataFrame of them."""

    columns: tuple[str, ...]
    rows: tuple[dict, ...]

    def to_pandas(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame, columns in order."""
        import pandas

        return pandas.DataFrame(list(self.rows), columns=list(self.columns))

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Results:
    """A finished run: its results.json (`data`), the comparison and the per-problem table."""

    path: Path
    data: dict

    @property
    def verdict(self) -> str:
        return self.data["verdict"]

    @property
    def arms(self) -> list[str]:
        return list(self.data["arms"])

    @property
    def metrics(self) -> list[str]:
        return list(self.data["metrics"])

    @property
    def comparison(self) -> Table:
        """One row per metric (the columns of `commentslab report`'s comparison.csv)."""
        from commentslab.services.evaluator.report import comparison_rows

        rows = tuple(comparison_rows(self.data))
        return Table(tuple(rows[0]) if rows else (), rows)

    @property
    def problems(self) -> Table:
        """One row per problem, arm, training seed and metric (the run's problems.csv)."""
        from commentslab.services.evaluator.results import PROBLEM_COLUMNS, problems_csv

        rows = tuple(_typed(row) for row in csv.DictReader(io.StringIO(problems_csv(self.data))))
        return Table(PROBLEM_COLUMNS, rows)

    def to_pandas(self) -> pandas.DataFrame:
        """The per-problem rows as a DataFrame (`problems.to_pandas()`)."""
        return self.problems.to_pandas()


def _typed(row: dict) -> dict:
    row = dict(row)
    row["fold"] = int(row["fold"])
    row["seed"] = int(row["seed"]) if row["seed"] not in ("", "None") else None
    row["value"] = float(row["value"])
    return row


def load_results(path: str | Path) -> Results:
    """The results of a finished run: `path` is its folder or its results.json."""
    import json

    from commentslab.services.common.layout import RunLayout

    path = Path(path)
    file = path if path.suffix == ".json" else RunLayout.reading(path).results
    if not file.is_file():
        from commentslab.services.common.layout import ExperimentLayout

        if ExperimentLayout.holds_experiment(path):
            raise InputError(str(path), "is an experiment over several base models; load one model's run, "
                                        "models/<name> (experiment.json lists them)")
        raise InputError(str(file), "no results.json here; is this a finished run folder?")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(str(file), f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict) or "verdict" not in data:
        raise InputError(str(file), "not a commentslab results.json (no verdict)")
    return Results(file.parent, data)


def run_experiment(profile: str = "smoke", out: str | Path = "runs/notebook",
                   overrides: Mapping[str, object] | Sequence[str] = (),
                   repo: str | Path | None = None) -> Results | dict[str, Results]:
    """Run the whole experiment in this process (as `commentslab run --in-process`) into the folder `out`
    and return its results. `overrides` are `{"train.steps": 10}` or `["train.steps=10"]`.

    With several base models (`models:`) returns each model's results by its name (`out/models/<name>`)."""
    from commentslab.services.common.config import load_config
    from commentslab.services.pipeline import run
    from commentslab.services.pipeline.steps import LocalSteps

    if isinstance(overrides, Mapping):
        overrides = [f"{key}={value}" for key, value in overrides.items()]
    cfg = load_config(profile, list(overrides))
    out = Path(out)
    run.run_experiment(LocalSteps(), cfg, out, Path(repo) if repo else None)
    if cfg.models:
        return {name: load_results(out / "models" / name) for name in cfg.model_names()}
    return load_results(out)
