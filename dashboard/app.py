"""The results dashboard: one page summarising a run folder's ``results.json`` (see docs/CONTRACTS.md).

The page is rebuilt from the file on every load, so it shows a run's results as soon as they are
written. When the results cannot be read the page explains what is missing instead of failing.
"""

import json
import math
from pathlib import Path

import plotly.graph_objects as go
from dash import Dash, dcc, html

RESULTS_FILE = "results.json"
SCHEMA_VERSION = 1
REQUIRED_KEYS = (
    "schemaVersion",
    "metrics",
    "control",
    "experiment",
    "significance",
    "training",
    "provenance",
)
MISSING = "—"


class ResultsError(Exception):
    """A run folder's results cannot be shown; the message says what is missing and how to produce it."""


def _how_to_produce(results_dir: Path) -> str:
    return f"Produce it with `commentslab run --profile smoke --out {results_dir}`."


def load_results(results_dir: Path) -> dict:
    """Read and check ``<results_dir>/results.json``.

    Raises ``ResultsError`` naming the missing folder, file, or field (and the command that
    produces results) when the folder or file is missing, is not valid JSON, has another schema
    version, or lacks a field the dashboard shows.
    """
    results_dir = Path(results_dir)
    path = results_dir / RESULTS_FILE
    if not results_dir.is_dir():
        raise ResultsError(f"The results folder {results_dir} does not exist. {_how_to_produce(results_dir)}")
    if not path.is_file():
        raise ResultsError(
            f"The results folder {results_dir} has no {RESULTS_FILE}; the run may not have finished. "
            f"{_how_to_produce(results_dir)}"
        )
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ResultsError(
            f"{path} is not valid UTF-8 JSON ({error}). {_how_to_produce(results_dir)}"
        ) from error
    if not isinstance(results, dict):
        raise ResultsError(f"{path} must hold a JSON object, not {type(results).__name__}.")
    missing = [key for key in REQUIRED_KEYS if key not in results]
    if missing:
        raise ResultsError(
            f"{path} lacks the field(s) {', '.join(missing)} required by docs/CONTRACTS.md. "
            f"{_how_to_produce(results_dir)}"
        )
    if results["schemaVersion"] != SCHEMA_VERSION:
        raise ResultsError(
            f"{path} has schemaVersion {results['schemaVersion']!r}; this dashboard reads version "
            f"{SCHEMA_VERSION}."
        )
    for arm in ("control", "experiment"):
        absent = [metric for metric in results["metrics"] if metric not in results[arm]]
        if absent:
            raise ResultsError(f"{path}: the {arm} arm has no value for metric(s) {', '.join(absent)}.")
    return results


def _number(value: object, spec: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return MISSING
    return format(value, spec)


def _p_value(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 0.001:
        return "< 0.001"
    return _number(value, ".3f")


def primary_test(significance: dict) -> tuple[str, float | None]:
    """The primary test's name and p-value for one metric: McNemar when present, else the paired t-test."""
    if "mcnemar" in significance:
        return "McNemar exact", significance["mcnemar"].get("pValue")
    if "tTest" in significance:
        return "paired t-test", significance["tTest"].get("pValue")
    return MISSING, None


def absolute_improvement(results: dict, metric: str) -> float | None:
    """experiment - control for one metric: ``improvement[metric].absolute``, else computed; None if unknown."""
    absolute = ((results.get("improvement") or {}).get(metric) or {}).get("absolute")
    if isinstance(absolute, int | float):
        return float(absolute)
    control, experiment = results["control"].get(metric), results["experiment"].get(metric)
    if isinstance(control, int | float) and isinstance(experiment, int | float):
        return float(experiment - control)
    return None


def headline_rows(results: dict) -> list[dict[str, str]]:
    """One display row per metric: control, experiment, absolute improvement, primary test, p-value, significant.

    Scores are shown to three decimals, the improvement (experiment - control) signed, and
    p-values below 0.001 as "< 0.001"; a missing value is shown as "—".
    """
    rows = []
    for metric in results["metrics"]:
        control = results["control"].get(metric)
        experiment = results["experiment"].get(metric)
        absolute = absolute_improvement(results, metric)
        significance = results["significance"].get(metric) or {}
        test, p_value = primary_test(significance)
        significant = significance.get("significant")
        rows.append(
            {
                "metric": metric,
                "control": _number(control, ".3f"),
                "experiment": _number(experiment, ".3f"),
                "improvement": _number(absolute, "+.3f"),
                "test": test,
                "pValue": _p_value(p_value),
                "significant": MISSING if significant is None else ("yes" if significant else "no"),
            }
        )
    return rows


def verdict(results: dict) -> str:
    """A plain sentence stating which metrics differ significantly between the arms, if any."""
    better, worse, different = [], [], []
    for metric, row in zip(results["metrics"], headline_rows(results), strict=True):
        if row["significant"] != "yes":
            continue
        p_text = row["pValue"] if row["pValue"].startswith("<") else f"= {row['pValue']}"
        label = f"{metric} (p {p_text})"
        difference = absolute_improvement(results, metric)
        if difference is not None and difference > 0:
            better.append(label)
        elif difference is not None and difference < 0:
            worse.append(label)
        else:
            different.append(label)
    n = next((s.get("n") for s in results["significance"].values() if isinstance(s, dict) and "n" in s), None)
    on_n = f" on {n} test problems" if n else ""
    if not better and not worse and not different:
        return (
            f"There is no significant difference between the experiment and control arms on any metric{on_n}."
        )
    parts = []
    if better:
        parts.append(f"significantly better than control on {', '.join(better)}")
    if worse:
        parts.append(f"significantly worse than control on {', '.join(worse)}")
    if different:
        parts.append(f"significantly different from control on {', '.join(different)}")
    return f"The experiment arm is {' and '.join(parts)}{on_n}."


def loss_figure(results: dict, arm: str) -> go.Figure:
    """Training loss against step for one arm, from ``results["training"][arm]["history"]``."""
    history = results["training"].get(arm, {}).get("history", [])
    points = [(h["step"], h["loss"]) for h in history if "step" in h and h.get("loss") is not None]
    figure = go.Figure(
        go.Scatter(x=[s for s, _ in points], y=[loss for _, loss in points], mode="lines+markers", name=arm)
    )
    figure.update_layout(
        title=f"Training loss — {arm}",
        xaxis_title="step",
        yaxis_title="loss",
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        height=360,
    )
    if not points:
        figure.add_annotation(
            text="no training history recorded", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
        )
    return figure


def _provenance_line(results: dict) -> str:
    provenance = results["provenance"]
    commit = str(provenance.get("commit") or "unknown")
    return (
        f"Profile {provenance.get('profile', 'unknown')} · commit {commit[:12]} · "
        f"created {provenance.get('createdAt', 'unknown')} · scenario {results.get('scenario', 'unknown')}"
    )


_CELL = {"padding": "6px 12px", "borderBottom": "1px solid #ddd", "textAlign": "right"}
_COLUMNS = [
    ("metric", "Metric"),
    ("control", "Control"),
    ("experiment", "Experiment"),
    ("improvement", "Improvement (abs.)"),
    ("test", "Primary test"),
    ("pValue", "p-value"),
    ("significant", "Significant"),
]


def _headline_table(results: dict) -> html.Table:
    header = html.Thead(html.Tr([html.Th(title, style=_CELL) for _, title in _COLUMNS]))
    body = html.Tbody(
        [
            html.Tr([html.Td(row[key], className=f"col-{key}", style=_CELL) for key, _ in _COLUMNS])
            for row in headline_rows(results)
        ]
    )
    return html.Table([header, body], id="headline-table", style={"borderCollapse": "collapse"})


def _results_page(results: dict) -> html.Div:
    arms = [arm for arm in results.get("arms", ["control", "experiment"]) if arm in results["training"]]
    return html.Div(
        [
            html.H1("commentslab: does .comments metadata improve generated code?"),
            html.P(_provenance_line(results), id="provenance"),
            _headline_table(results),
            html.P(verdict(results), id="verdict", style={"fontSize": "1.2em", "marginTop": "1em"}),
            html.Div(
                [
                    dcc.Graph(id=f"loss-{arm}", figure=loss_figure(results, arm), style={"flex": "1"})
                    for arm in arms
                ],
                style={"display": "flex", "gap": "16px"},
            ),
        ],
        style={"fontFamily": "sans-serif", "margin": "24px"},
    )


def _error_page(error: ResultsError) -> html.Div:
    return html.Div(
        [
            html.H1("commentslab: no results to show"),
            html.P(str(error), id="results-error", style={"color": "#a00"}),
        ],
        style={"fontFamily": "sans-serif", "margin": "24px"},
    )


def create_app(results_dir: Path) -> Dash:
    """A Dash app showing ``<results_dir>/results.json``, re-read on every page load.

    The page holds a title, the provenance line (id ``provenance``), the headline table (id
    ``headline-table``), the verdict (id ``verdict``) and one loss graph per trained arm (ids
    ``loss-control``, ``loss-experiment``, ...). When the results cannot be loaded the page shows
    the ``ResultsError`` message (id ``results-error``) instead.
    """
    results_dir = Path(results_dir)
    app = Dash(__name__, title="commentslab results")

    def page() -> html.Div:
        try:
            return _results_page(load_results(results_dir))
        except ResultsError as error:
            return _error_page(error)

    app.layout = page
    return app


def serve(results_dir: Path, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Serve the dashboard for ``results_dir`` on ``host:port`` until interrupted (debug off)."""
    create_app(results_dir).run(host=host, port=port, debug=False)
