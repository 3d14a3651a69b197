"""The README's notebook example runs as written: the Python API end to end on the smoke profile."""
import re
from pathlib import Path

import pandas

import commentslab
from commentslab.services.common.errors import InputError

README = Path(__file__).resolve().parents[2] / "README.md"


def _notebook_example() -> str:
    text = README.read_text()
    section = text[text.index("From a notebook"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_notebook_example_runs_and_gives_typed_tables(tmp_path, monkeypatch):
    code = _notebook_example()
    assert len(code.strip().splitlines()) == 5
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the documented example, as a user runs it
    run, comparison, problems = scope["run"], scope["comparison"], scope["problems"]
    assert isinstance(run, commentslab.Results) and run.verdict
    assert isinstance(comparison, pandas.DataFrame) and list(comparison["metric"]) == run.metrics
    assert set(problems["arm"]) == set(run.arms) and problems["value"].dtype == float
    assert (tmp_path / "runs" / "notebook" / "problems.csv").is_file()
    assert (tmp_path / "runs" / "notebook" / "problems.parquet").is_file()
    assert len(pandas.read_parquet(tmp_path / "runs" / "notebook" / "problems.parquet")) == len(problems)


def test_load_results_names_a_folder_that_holds_no_run(tmp_path):
    try:
        commentslab.load_results(tmp_path)
    except InputError as exc:
        assert str(tmp_path / "results.json") in str(exc)
    else:
        raise AssertionError("load_results accepted a folder with no results.json")
