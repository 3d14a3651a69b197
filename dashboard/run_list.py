"""The results database's view from the gateway's /api/runs entries: which run a page shows (``?run=``), the
runs' order, and the forest plot comparing the effect (experiment − control, with its 95% interval) across runs.

A forest row is one run (one metric of it when several are drawn), grouped by scenario then base model (or
by model then scenario), models ordered by size where their names say it (``135M``, ``1.5B``), so the rows of
a multi-model experiment read from the smallest model to the largest: does the effect grow with size?
"""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qs, urlencode

from commentslab.dashboard.overview import MISSING, is_rate

# Views that show one run and so carry ``?run=`` when a visitor moves between them.
RUN_VIEWS = ("/", "/training", "/comparison", "/results")
GROUPINGS = {"scenario": "Scenario, then model", "model": "Model, then scenario"}
# A colour per base model (Plotly's sequence after the arms' three), in the forest's legend order.
MODEL_COLOURS = ("#ab63fa", "#FFA15A", "#19d3f3", "#FF6692", "#B6E880", "#FF97FF", "#FECB52", "#636efa")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmMbBtT])(?![a-zA-Z])")
_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def run_from_search(search: str | None) -> str | None:
    """The run a page's query string names (``?run=js/sizes``), or None for the default run."""
    values = parse_qs((search or "").lstrip("?")).get("run")
    return values[0] if values else None


def run_href(path: str, run: str | None) -> str:
    """``path`` with ``?run=<run>`` when a run is named (``/`` stays ``/`` for the default run)."""
    return f"{path}?{urlencode({'run': run})}" if run else path


def model_size(name: str | None) -> float:
    """The parameter count a model's name states (``SmolLM2-135M-Instruct`` -> 1.35e8, ``Qwen2.5-Coder-1.5B``
    -> 1.5e9); 0 for the tiny random model, infinity when the name states none (sorted last)."""
    if not name:
        return math.inf
    if name == "tiny-random":
        return 0.0
    found = _SIZE.findall(name)
    if not found:
        return math.inf
    number, unit = found[-1]
    return float(number) * _SCALE[unit.lower()]


def _model_key(name: str | None) -> tuple[float, str]:
    return model_size(name), name or ""


def ordered_runs(runs: list[dict], group_by: str = "scenario") -> list[dict]:
    """The readable runs, by scenario then model size (or model size then scenario), then run id."""
    readable = [r for r in runs if not r.get("error")]
    if group_by == "model":
        return sorted(readable, key=lambda r: (_model_key(r.get("baseModel")), r.get("scenario") or "", r["id"]))
    return sorted(readable, key=lambda r: (r.get("scenario") or "", _model_key(r.get("baseModel")), r["id"]))


def metrics_of(runs: list[dict]) -> list[str]:
    """Every metric some readable run compared, pass@ metrics first, in order of first appearance."""
    seen: list[str] = []
    for run in runs:
        for effect in run.get("effects") or []:
            if effect["metric"] not in seen:
                seen.append(effect["metric"])
    return sorted(seen, key=lambda m: (not m.startswith("pass@"), seen.index(m)))


def _scaled(value: object) -> float | None:
    return float(value) * 100 if isinstance(value, int | float) and not isinstance(value, bool) else None


def forest_rows(runs: list[dict], metrics: list[str], group_by: str = "scenario") -> list[dict]:
    """One row per (run, metric) in drawing order: label, group, model, run id, difference and interval × 100
    (rates in percentage points), significance. A run that did not compare a metric has no row for it."""
    rows = []
    for run in ordered_runs(runs, group_by):
        effects = {e["metric"]: e for e in run.get("effects") or []}
        for metric in metrics:
            effect = effects.get(metric)
            if effect is None:
                continue
            model, scenario = run.get("baseModel") or "unknown model", run.get("scenario") or "unknown scenario"
            first, second = (scenario, model) if group_by == "scenario" else (model, scenario)
            # Two lines, so the labels leave the plot room at phone width.
            label = f"{first}<br>{second}" + (f" · {metric}" if len(metrics) > 1 else "")
            rows.append({"label": label, "group": first, "model": model, "run": run["id"], "metric": metric,
                         "difference": _scaled(effect.get("difference")), "low": _scaled(effect.get("low")),
                         "high": _scaled(effect.get("high")), "significant": bool(effect.get("significant"))})
    # Two runs of one scenario and model (two designs, two dates) are told apart by their ids.
    labels = [row["label"] for row in rows]
    for row in rows:
        if labels.count(row["label"]) > 1:
            row["label"] += f" · {row['run']}"
    return rows


def runs_forest_figure(runs: list[dict], metrics: list[str], group_by: str = "scenario") -> dict:
    """The forest plot: a dot per row at the difference, a bar to its 95% interval, one colour per base model,
    rows grouped (a line between groups) and a zero line; a plain Plotly figure dict. No title: the page's
    heading names it, and the models' legend takes the room above the plot, which a phone needs."""
    rows = forest_rows(runs, metrics, group_by)
    models = sorted({row["model"] for row in rows}, key=_model_key)
    data = []
    for i, model in enumerate(models):
        mine = [(y, row) for y, row in enumerate(rows) if row["model"] == model]
        plus = [None if r["high"] is None or r["difference"] is None else r["high"] - r["difference"] for _, r in mine]
        minus = [None if r["low"] is None or r["difference"] is None else r["difference"] - r["low"] for _, r in mine]
        data.append({"type": "scatter", "mode": "markers", "name": model, "x": [r["difference"] for _, r in mine],
                     "y": [y for y, _ in mine], "customdata": [r["run"] for _, r in mine],
                     "marker": {"size": 11, "color": MODEL_COLOURS[i % len(MODEL_COLOURS)],
                                "symbol": ["diamond" if r["significant"] else "circle" for _, r in mine]},
                     "error_x": {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus,
                                 "thickness": 2, "width": 6},
                     "hovertemplate": "%{customdata}: %{x:+.1f}<extra>" + model + "</extra>"})
    groups = [row["group"] for row in rows]
    shapes = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y - 0.5, "y1": y - 0.5,
               "line": {"color": "rgba(128, 128, 128, 0.5)", "width": 1, "dash": "dot"}}
              for y in range(1, len(rows)) if groups[y] != groups[y - 1]]
    units = " (points)" if metrics and all(is_rate(m) for m in metrics) else " (rates in points, others × 100)"
    layout = {
        "showlegend": True,
        # Above the plot, across its width: at the side it would take half a phone's screen.
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        "xaxis": {"title": {"text": "experiment − control" + units}, "gridcolor": "rgba(128, 128, 128, 0.25)",
                  "zeroline": True, "zerolinecolor": "#888", "zerolinewidth": 2},
        "yaxis": {"tickvals": list(range(len(rows))), "ticktext": [row["label"] for row in rows],
                  "autorange": "reversed", "gridcolor": "rgba(128, 128, 128, 0.25)", "automargin": True,
                  "zeroline": False},
        # The labels' width as the left margin, so the static drawing (static_chart.py) fits them too.
        "shapes": shapes, "height": 170 + 44 * max(len(rows), 1),
        "margin": {"l": min(300, 20 + 7 * max((len(part) for row in rows for part in row["label"].split("<br>")),
                                              default=0)), "r": 20, "t": 90, "b": 50},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
    }
    if not rows:
        layout["annotations"] = [{"text": "no run to compare", "showarrow": False, "x": 0.5, "y": 0.5,
                                  "xref": "paper", "yref": "paper"}]
    return {"data": data, "layout": layout}


def effect_text(run: dict, metric: str) -> str:
    """A run's effect on ``metric`` in one cell: ``+12.5 points [+3.1, +21.9]`` (rates) or ``+0.070 [...]``."""
    effect = next((e for e in run.get("effects") or [] if e["metric"] == metric), None)
    if effect is None or not isinstance(effect.get("difference"), int | float):
        return MISSING
    rate = is_rate(metric)

    def show(value: float) -> str:
        return f"{value * 100:+.1f}" if rate else f"{value:+.3f}"

    interval = (f" [{show(effect['low'])}, {show(effect['high'])}]"
                if isinstance(effect.get("low"), int | float) and isinstance(effect.get("high"), int | float) else "")
    return show(effect["difference"]) + (" points" if rate else "") + interval


VERDICT_WORDS = {"better": "experiment better", "worse": "experiment worse", "mixed": "better on some, worse on others",
                 "none": "no significant difference", "broken": "cannot be read"}


def verdict_text(run: dict) -> str:
    """The run's verdict in a few words (the full sentence is on its own page)."""
    return VERDICT_WORDS.get(run.get("verdictKind") or "broken", MISSING)


def date_text(run: dict) -> str:
    """The run's date as ``2026-01-01 00:00`` (UTC as recorded), "—" when unknown."""
    date = run.get("date")
    return date[:16].replace("T", " ") if isinstance(date, str) and date else MISSING
