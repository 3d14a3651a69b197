"""`commentslab report`'s paper table set: a main comparison, per-scenario and per-model tables that compile.

The runs are the committed reference run's results.json under scenario and model names of our choosing,
hostile ones included: every name must print as written and never act as LaTeX. Compiling needs pdflatex
and booktabs (`make system-deps` installs Debian's texlive-latex-base and texlive-latex-recommended); without
them the test fails, it never skips.
"""

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from commentslab.services.cli import EXIT_INPUT, main
from commentslab.services.evaluator.report import ReportedRun, breakdown_table, comparison_rows

REFERENCE = Path(__file__).resolve().parents[2] / "results" / "reference" / "results.json"
# A name that would run \input, open a group, start math and end a table cell if it were not escaped.
HOSTILE_MODEL = "Model~^{x}\\input{evil}#$_&%\n"
RUNS = {  # run folder -> (scenario, base model)
    "py/first": ("humaneval_py & 100%", "tiny-random"),
    "js/second": ("react-components", "SmolLM2-135M-Instruct"),
    "js/third": ("react-components", HOSTILE_MODEL),
}


def _reference() -> dict:
    return json.loads(REFERENCE.read_text())


def _write_run(folder: Path, results: dict) -> None:
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))


@pytest.fixture
def database(tmp_path) -> Path:
    """Three runs over two scenarios and three models, and one run whose results.json is broken."""
    reference = _reference()
    folder = tmp_path / "db"
    for run_id, (scenario, model) in RUNS.items():
        _write_run(folder / run_id, {**reference, "scenario": scenario, "baseModel": model})
    (folder / "broken").mkdir()
    (folder / "broken" / "results.json").write_text("{")
    return folder


def _compile(paper: Path) -> str:
    """pdflatex's log of paper_tables.tex, compiled in its folder, stopping at the first error."""
    if shutil.which("pdflatex") is None:
        pytest.fail("pdflatex is not installed: run `make system-deps` (texlive-latex-base, texlive-latex-recommended)")
    # Were a name's \input{evil} ever read as LaTeX, this file would stop the compilation.
    (paper / "evil.tex").write_text("\\errmessage{a name was read as LaTeX}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper_tables.tex"],
                          cwd=paper, capture_output=True, text=True, timeout=300)
    log = (paper / "paper_tables.log").read_text(errors="replace")
    assert done.returncode == 0, log[-3000:]
    assert (paper / "paper_tables.pdf").stat().st_size > 0
    return log


def test_a_folder_of_runs_gets_main_per_scenario_and_per_model_tables_that_compile(database, capsys):
    assert main(["report", str(database)]) == 0

    paper = database / "paper"
    assert sorted(p.name for p in paper.iterdir()) == [
        "by-model.tex", "by-scenario.tex", "main.tex", "paper_tables.tex", "tables.tex"]
    tables = (paper / "tables.tex").read_text()
    for name in ("main", "by-scenario", "by-model"):
        assert f"\\input{{\\commentslabtables/{name}}}" in tables
    main_tex = (paper / "main.tex").read_text()
    assert main_tex.count("\\begin{table}") == len(RUNS)
    assert "McNemar exact" in main_tex and "paired t-test" in main_tex  # the test used, per metric
    assert "Model\\textasciitilde{}\\textasciicircum{}\\{x\\}\\textbackslash{}input\\{evil\\}\\#\\$\\_\\&\\%" in main_tex
    assert "humaneval\\_py \\& 100\\%" in (paper / "by-scenario.tex").read_text()
    assert "skipped run broken" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO((database / "comparison.csv").read_text())))
    assert {r["run_id"] for r in rows} == set(RUNS) and {r["model"] for r in rows} == {m for _, m in RUNS.values()}

    log = _compile(paper)
    assert "a name was read as LaTeX" not in log


def test_a_single_run_gets_its_table_set_without_breakdowns_and_it_compiles(tmp_path):
    run = tmp_path / "run"
    _write_run(run, {**_reference(), "scenario": "function_completion", "baseModel": "tiny-random"})

    assert main(["report", str(run)]) == 0

    assert (run / "comparison.csv").read_text().startswith("metric,control,experiment,difference")
    paper = run / "paper"
    assert sorted(p.name for p in paper.iterdir()) == ["main.tex", "paper_tables.tex", "tables.tex"]
    assert (paper / "main.tex").read_text() == (run / "comparison.tex").read_text()
    _compile(paper)


def test_the_breakdown_groups_runs_and_carries_each_difference_interval_p_and_mdd():
    reference = _reference()
    runs = [ReportedRun(number, f"run-{number}", scenario, model, "design", reference)
            for number, (scenario, model) in enumerate([("b", "big"), ("a", "small"), ("a", "big")], start=1)]
    metrics = len(reference["metrics"])

    table = breakdown_table(runs, "model")

    assert [row[0] for row in table.rows[::metrics]] == ["big", "", "small"]  # a group's name on its first row only
    assert [row[1] for row in table.rows[::metrics]] == ["a", "b", "a"]  # then by scenario
    assert [row[2] for row in table.rows[::metrics]] == ["3", "1", "2"]  # each run keeps its number
    assert table.rules == frozenset({0, 2 * metrics})  # a rule above each model's group
    expected = comparison_rows(reference)
    for offset, row in enumerate(expected):
        cells = table.rows[offset]
        assert cells[3] == row["metric"] and float(cells[4]) == pytest.approx(row["difference"], abs=5e-4)
        assert cells[5] == f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
        assert cells[7] == ("--" if row["mdd"] is None else f"{row['mdd']:.3f}")
        assert ((offset, 6) in table.bold) == row["significant"]


def test_a_folder_without_a_readable_run_is_an_input_error_naming_the_reason(tmp_path, capsys):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text("{")

    assert main(["report", str(tmp_path)]) == EXIT_INPUT

    err = capsys.readouterr().err
    assert "holds no run to report" in err and "broken" in err
