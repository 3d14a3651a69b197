"""The dashboard's plain modules (no browser): Overview rows with new and old result keys, the home's headline
sentences, CSV/LaTeX export, diff and metadata hints, highlighted code, the comparison's problem query, the
default results folder, the charts' static drawings (the forest plot's too) and compression."""

import csv
import gzip
import io
import json
import os
import re
from xml.etree import ElementTree

import pytest
from test_dashboard import make_sample_results

from commentslab.dashboard.code_view import code_style_css, token_lines
from commentslab.dashboard.comparison import (
    code_diff,
    diff_rows,
    failure_messages,
    metadata_hints,
    metadata_lines,
    metadata_terms,
    outcomes,
)
from commentslab.dashboard.figures import bradley_terry_figure, forest_figure, loss_figure
from commentslab.dashboard.overview import (
    change_sentence,
    columns,
    detectable_difference,
    final_loss,
    headline_metrics,
    headline_rows,
    headline_table,
    score_text,
    verdict,
)
from commentslab.dashboard.static_chart import LEFT, RIGHT, WIDTH, figure_svg, nice_ticks, svg_data_uri
from commentslab.services.evaluator.table_export import latex_escape, table_csv, table_latex
from commentslab.services.gateway.problem_query import ProblemQuery, folds_of, matches
from commentslab.services.gateway.results_store import default_results_dir, disagrees


def _with_new_keys() -> dict:
    results = make_sample_results()
    del results["verdict"]  # an older results.json: the Overview writes the verdict itself
    results["significance"]["pass@1"].update(primaryTest="McNemar exact", pValue=0.0004, pHolm=0.0016,
                                             bootstrap={"low": 0.02, "high": 0.31}, significant=True)
    results["placebo"] = {m: 0.1 for m in results["metrics"]}
    results["arms"].append("placebo")
    return results


def test_overview_rows_show_interval_holm_p_and_placebo_when_present():
    results = _with_new_keys()
    assert [key for key, _ in columns(results)][:4] == ["metric", "control", "placebo", "experiment"]
    row = headline_rows(results)[0]
    assert (row["interval"], row["pValue"], row["pHolm"], row["significant"]) == (
        "[+0.020, +0.310]", "< 0.001", "0.002", "yes")
    assert row["placebo"] == "0.100"
    assert verdict(results).startswith("The experiment arm is significantly better than control on pass@1 (p = 0.002)")
    results["verdict"] = "No significant difference (Holm-corrected)."
    assert verdict(results) == "No significant difference (Holm-corrected)."


def test_csv_round_trips_and_latex_is_escaped():
    results = _with_new_keys()
    parsed = list(csv.reader(io.StringIO(table_csv(headline_table(results)))))
    assert parsed[0][:4] == ["Metric", "Control", "Placebo", "Experiment"]
    assert parsed[1][:4] == ["pass@1", "0.125", "0.100", "0.250"] and len(parsed) == 5
    latex = table_latex(headline_table(results))
    assert r"exact\_match" in latex and r"\textless{} 0.001" in latex and latex.count(r" \\") == 5
    assert latex_escape("a_b & 50% $x$") == r"a\_b \& 50\% \$x\$"


def test_metadata_hints_name_terms_the_experiment_used_and_control_did_not():
    metadata = {"text": "Round to `decimals` places using math_round", "params": {"decimals": "int", "number": "float"}}
    assert {"decimals", "number", "math_round"} <= metadata_terms(metadata)
    control = "    return number % 1.0\n"
    experiment = "    return round(number % 1.0, decimals)\n"
    assert metadata_hints(metadata, control, experiment) == ["decimals"]
    assert metadata_hints(None, control, experiment) == []
    assert code_diff(control, experiment) == [("-", "    return number % 1.0"),
                                              ("+", "    return round(number % 1.0, decimals)")]
    assert outcomes({"statuses": ["passed", "timeout"]}) == ["passed", "timeout"]
    assert outcomes(None) == ["not run"]


def test_disagreement_is_on_pass_fail_outcomes():
    problem = {"control": {"passed": [False]}, "experiment": {"passed": [True]}}
    assert disagrees(problem, ["control", "experiment"])
    assert not disagrees({"control": {"passed": [True]}, "experiment": {"passed": [True]}}, ["control", "experiment"])


def test_default_results_prefers_reference_then_newest_run(tmp_path):
    assert default_results_dir(tmp_path) == tmp_path / "runs" / "demo"
    for age, name in enumerate(("new", "old")):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "results.json").write_text(json.dumps({}))
        os.utime(tmp_path / "runs" / name / "results.json", (1_700_000_000 - age * 100,) * 2)
    assert default_results_dir(tmp_path) == tmp_path / "runs" / "new"
    (tmp_path / "results" / "reference").mkdir(parents=True)
    (tmp_path / "results" / "reference" / "results.json").write_text("{}")
    assert default_results_dir(tmp_path) == tmp_path / "results" / "reference"


def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(1.4, 3.2) == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert nice_ticks(0, 0.52) == [0.0, 0.2, 0.4, 0.6]
    assert nice_ticks(5, 5) == [5.0, 5.5, 6.0]  # a flat series still gets an axis


def test_static_drawing_places_each_point_and_bar_where_plotly_would():
    history = [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}, {"step": 3, "loss": 1.0}]
    svg = figure_svg(loss_figure(history, "control"))
    ElementTree.fromstring(svg)  # well-formed
    points = re.search(r'<polyline points="([^"]+)"', svg).group(1).split()
    xs, ys = zip(*((float(a), float(b)) for a, b in (p.split(",") for p in points)), strict=True)
    assert xs[0] == LEFT and xs[-1] == WIDTH - RIGHT and xs[1] == pytest.approx((xs[0] + xs[2]) / 2)
    assert ys[0] < ys[1] < ys[2] and ys[1] == pytest.approx((ys[0] + ys[2]) / 2)  # falling loss, drawn falling
    assert "Training loss — control" in svg and ">step<" in svg and ">loss<" in svg
    bars = figure_svg(bradley_terry_figure({"control": {"strength": 0.2, "low": 0.1, "high": 0.3},
                                            "experiment": {"strength": 0.6, "low": 0.5, "high": 0.7}}))
    heights = [float(h) for h in re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)" fill="#636efa"',
                                              bars)]
    assert heights[1] == pytest.approx(3 * heights[0], rel=1e-3)
    assert bars.count('stroke="#444" stroke-width="1.5"') == 2  # one error bar per arm
    assert svg_data_uri("<svg/>").startswith("data:image/svg+xml;base64,")


def test_dash_compresses_with_static_bundles_kept_and_streams_untouched(tmp_path, monkeypatch):
    import flask_compress.flask_compress as flask_compress

    from commentslab.dashboard.app import PLOTLY_BUNDLE, create_app

    compressions = []
    compress = flask_compress._compress_data
    monkeypatch.setattr(flask_compress, "_compress_data",
                        lambda app, data, algorithm: compressions.append(len(data)) or compress(app, data, algorithm))
    (tmp_path / "results.json").write_text(json.dumps(make_sample_results()), encoding="utf-8")
    client = create_app(tmp_path).server.test_client()
    plotly_url = "/_dash-component-suites/plotly/package_data/plotly.min.js"

    first = client.get(plotly_url, headers={"Accept-Encoding": "gzip"})
    again = client.get(plotly_url, headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in first.headers["Vary"]
    assert gzip.decompress(first.data) == PLOTLY_BUNDLE.read_bytes() and again.data == first.data
    assert compressions == [PLOTLY_BUNDLE.stat().st_size]  # compressed once, then served as kept
    unchanged = client.get(plotly_url, headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304

    layout = [client.get("/_dash-layout", headers={"Accept-Encoding": "gzip"}) for _ in range(2)]
    assert all(r.headers["Content-Encoding"] == "gzip" for r in layout) and len(compressions) == 3  # not kept
    relayed = client.post("/api/generate", data=b'{"prompt": "def f():"}', headers={"Accept-Encoding": "gzip"})
    assert relayed.mimetype == "application/x-ndjson" and "Content-Encoding" not in relayed.headers
    assert json.loads(relayed.data.splitlines()[0])["event"] == "error"  # the playground is off: said, not gzipped


def test_home_sentences_give_each_arm_its_change_from_control_and_the_run_its_detectable_difference():
    results = _with_new_keys()
    results["metrics"].append("pass@10")
    for arm, value in (("control", 0.40), ("experiment", 0.55), ("placebo", 0.42)):
        results[arm]["pass@10"] = value
    assert headline_metrics(results) == ["pass@1", "pass@10"]
    assert score_text("pass@1", 0.125) == "12.5%" and score_text("semantic_similarity", 0.45) == "0.450"
    assert change_sentence(results, "experiment", "pass@1") == (
        "pass@1 12.5% → 25.0%, +12.5 points (95% interval +2.0 to +31.0)")
    assert change_sentence(results, "placebo", "pass@10") == "pass@10 40.0% → 42.0%, +2.0 points"
    results["power"] = {"design": {"mdd": 0.43, "problems": 8, "samples": 1, "seeds": 1}, "observedMdd": {"pass@1": None}}
    results["significance"]["pass@1"]["mdd"] = None  # no outcome varied: nothing observed to judge from
    assert detectable_difference(results).startswith(
        "With 8 test problems, 1 sample each, 1 training seed, this run could only reliably detect pass@1 "
        "differences larger than about 43 percentage points (judged from the design's stated assumptions")
    results["power"]["observedMdd"]["pass@1"] = 0.271
    assert "larger than about 27 percentage points (judged from the spread of this run's own scores" in (
        detectable_difference(results))
    # The last loss of each run, averaged over an arm's runs.
    results["training"]["control"]["runs"] = [{"history": [{"step": 1, "loss": 2.0}]}, {"finalLoss": 1.0}]
    assert final_loss(results, "control") == 1.5


def test_forest_plot_has_a_row_per_metric_with_the_experiment_interval_and_its_drawing_matches():
    results = _with_new_keys()
    figure = forest_figure(results)
    experiment, placebo = figure["data"]
    assert experiment["name"] == "experiment" and experiment["y"] == [0, 1, 2, 3]
    assert experiment["x"][0] == pytest.approx(12.5)
    assert experiment["error_x"]["array"][0] == pytest.approx(31.0 - 12.5)
    assert experiment["error_x"]["arrayminus"][0] == pytest.approx(12.5 - 2.0)
    assert "error_x" not in placebo and placebo["x"][0] == pytest.approx(-2.5)  # no interval was computed
    svg = figure_svg(figure)
    assert svg.count("<circle") == 8 and ">pass@1 (pts)<" in svg and ">semantic_similarity (×100)<" in svg
    ElementTree.fromstring(svg)


def test_code_is_lexed_whole_then_cut_into_lines_and_diffed_by_line_index():
    lines = token_lines('def f(a):\n    """Two\n    lines."""\n    return a + 1\n')
    assert len(lines) == 4 and lines[0][0] == ("k", "def")
    assert lines[2] == [("sd", '    lines."""')]  # the docstring keeps its colour on its second line
    assert diff_rows("a\nb\nc\n", "a\nx\nc\nd\n") == [(" ", 0), ("-", 1), ("+", 1), (" ", 2), ("+", 3)]
    assert metadata_lines("x = 1\nreturn round(x, decimals)\n", {"decimals"}) == {1: ["decimals"]}
    assert failure_messages({"passed": [False, True], "failures": ["AssertionError: 3 != 4", None]}) == [
        "AssertionError: 3 != 4"]
    css = code_style_css()
    assert ".highlight .k {" in css and "[data-bs-theme=dark] .highlight .k {" in css


def test_problem_query_searches_filters_outcomes_folds_and_disagreements():
    arms = ["control", "experiment"]
    problems = [{"id": "a", "taskId": "HumanEval/12", "entryPoint": "longest", "fold": 0,
                 "control": {"passed": [False]}, "experiment": {"passed": [True]}},
                {"id": "b", "taskId": "HumanEval/120", "entryPoint": "maximum", "fold": 1,
                 "control": {"passed": [True]}, "experiment": {"passed": [True]}}]

    def found(**query) -> list[str]:
        return [p["id"] for p in problems if matches(p, arms, ProblemQuery(**query))]

    assert found(search="humaneval/12") == ["a", "b"] and found(search="LONGEST") == ["a"]
    assert found(outcomes=(("control", "passed"),)) == ["b"]
    assert found(outcomes=(("control", "failed"), ("experiment", "passed"))) == ["a"]
    assert found(fold=1) == ["b"] and found(disagree_only=True) == ["a"]
    assert folds_of(problems) == [0, 1]
    assert ProblemQuery.parse_outcome("params-only:failed") == ("params-only", "failed")
    with pytest.raises(ValueError, match="must be <arm>:passed or <arm>:failed"):
        ProblemQuery.parse_outcome("control:maybe")
