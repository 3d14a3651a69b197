"""The dashboard's Plotly figures, built from plain data as plain figure dicts.

Plain dicts rather than ``plotly.graph_objects``: validating a Figure object costs ~20 ms per chart
on this machine, which the chart-draw budget (300 ms) cannot spare.
"""

from __future__ import annotations

from commentslab.dashboard.overview import arm_difference, interval_of, is_rate, shown_arms
from commentslab.services.common.run_index import model_name

# Transparent backgrounds and a grey grid read on the light and the dark theme alike; the text colour follows
# the theme through assets/site.css.
GRID = "rgba(128, 128, 128, 0.25)"
_LAYOUT = {"margin": {"l": 50, "r": 20, "t": 50, "b": 40}, "height": 360, "paper_bgcolor": "rgba(0,0,0,0)",
           "plot_bgcolor": "rgba(0,0,0,0)"}
# One colour per arm on every chart (Plotly's first three), so a visitor learns them once.
ARM_COLOURS = {"control": "#636efa", "experiment": "#EF553B", "placebo": "#00cc96"}


def _axis(title: str, **more) -> dict:
    return {"title": {"text": title}, "gridcolor": GRID, "zerolinecolor": GRID, **more}


def loss_figure(history: list[dict], arm: str) -> dict:
    """Training loss (and validation loss where logged) against step for one arm. When the arm was trained
    several times (folds x seeds), the line is their mean and a shaded band spans the lowest and highest."""
    points = [(h["step"], h["loss"]) for h in history if "step" in h and h.get("loss") is not None]
    validation = [(h["step"], h["validationLoss"]) for h in history
                  if "step" in h and h.get("validationLoss") is not None]
    band = [(h["step"], h["lossMin"], h["lossMax"]) for h in history if "lossMin" in h and "lossMax" in h]
    runs = max((h.get("runs", 1) for h in history), default=1)
    data = []
    if band:
        steps = [s for s, _, _ in band]
        data.append({"type": "scatter", "mode": "lines", "name": f"range over {runs} runs", "x": steps + steps[::-1],
                     "y": [high for _, _, high in band] + [low for _, low, _ in band][::-1], "fill": "toself",
                     "line": {"width": 0}, "opacity": 0.25, "hoverinfo": "skip"})
    data.append({"type": "scatter", "mode": "lines+markers",
                 "name": f"training loss (mean of {runs})" if band else "training loss",
                 "x": [s for s, _ in points], "y": [v for _, v in points]})
    if validation:
        data.append({"type": "scatter", "mode": "lines+markers", "name": "validation loss",
                     "x": [s for s, _ in validation], "y": [v for _, v in validation]})
    layout = {"title": {"text": f"Training loss — {arm}"}, "xaxis": _axis("step"), "yaxis": _axis("loss"), **_LAYOUT}
    if not points:
        layout["annotations"] = [{"text": "no training history recorded", "showarrow": False, "x": 0.5, "y": 0.5,
                                  "xref": "paper", "yref": "paper"}]
    return {"data": data, "layout": layout}


def metrics_figure(results: dict) -> dict:
    """Grouped bars: each metric's score per arm."""
    data = [{"type": "bar", "name": arm, "x": results["metrics"], "y": [results[arm].get(m) for m in results["metrics"]]}
            for arm in shown_arms(results)]
    return {"data": data, "layout": {"title": {"text": "Scores per metric"}, "barmode": "group",
                                     "yaxis": _axis("score"), "xaxis": _axis(""), **_LAYOUT}}


def bradley_terry_figure(strengths: dict[str, dict[str, float]]) -> dict:
    """Bars: each arm's Bradley-Terry strength, with error bars to its 95% bootstrap interval."""
    arms = list(strengths)
    data = [{"type": "bar", "name": "strength", "x": arms, "y": [strengths[a]["strength"] for a in arms],
             "error_y": {"type": "data", "symmetric": False,
                         "array": [strengths[a]["high"] - strengths[a]["strength"] for a in arms],
                         "arrayminus": [strengths[a]["strength"] - strengths[a]["low"] for a in arms]}}]
    return {"data": data, "layout": {"title": {"text": "Bradley-Terry strength (95% bootstrap interval)"},
                                     "yaxis": _axis("strength (sums to 1)", rangemode="tozero"),
                                     "xaxis": _axis(""), **_LAYOUT}}


def forest_figure(results: dict) -> dict:
    """Each metric's difference from control with its 95% interval, one row per metric: experiment − control
    (the comparison the run tested, with its interval) and placebo − control (a point) when there is a placebo.
    Rates are in percentage points, other scores x 100, so every row reads on one axis around 0."""
    metrics = results["metrics"]
    rows = list(range(len(metrics)))
    data = []
    for arm in [a for a in ("experiment", "placebo") if a in shown_arms(results)]:
        x, plus, minus = [], [], []
        for metric in metrics:
            difference = arm_difference(results, arm, metric)
            x.append(None if difference is None else difference * 100)
            interval = interval_of(results, metric) if arm == "experiment" else None
            plus.append(None if interval is None or difference is None else (interval[1] - difference) * 100)
            minus.append(None if interval is None or difference is None else (difference - interval[0]) * 100)
        trace = {"type": "scatter", "mode": "markers", "name": arm, "x": x, "y": rows,
                 "marker": {"size": 11, "color": ARM_COLOURS.get(arm)},
                 "hovertemplate": f"{arm} − control: %{{x:+.1f}}<extra></extra>"}
        if any(v is not None for v in plus):
            trace["error_x"] = {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus,
                                "thickness": 2, "width": 6}
        data.append(trace)
    labels = [f"{m} (pts)" if is_rate(m) else f"{m} (×100)" for m in metrics]
    return {"data": data, "layout": {
        "title": {"text": "Difference from control"},
        "xaxis": _axis("difference from control", zeroline=True, zerolinecolor="#888", zerolinewidth=2),
        "yaxis": _axis("", tickvals=rows, ticktext=labels, autorange="reversed"),
        "showlegend": True, **_LAYOUT, "height": 120 + 44 * len(metrics),
        "margin": {"l": 170, "r": 20, "t": 50, "b": 40}}}


def forest_caption(results: dict) -> str:
    """What the forest plot compares: its scenario and base model, and its units."""
    where = " · ".join(f"{label} {value}" for label, value in (("scenario", results.get("scenario")),
                                                             ("base model", model_name(results))) if value)
    return ((where + ". " if where else "") + "Each dot is an arm's difference from control, the bar the 95% "
            "interval of experiment − control; rates in percentage points, other scores × 100.")


def training_figure(histories: dict[str, list[dict]], series: str = "loss") -> dict:
    """Every arm's curve of ``series`` (loss, lr or tokensPerSecond) against step on one chart; for loss, the mean
    over an arm's runs with the band of its lowest and highest run, and the validation loss where logged."""
    titles = {"loss": ("Training loss, every arm", "loss"), "lr": ("Learning rate", "learning rate"),
              "tokensPerSecond": ("Training throughput", "tokens/s")}
    title, axis = titles.get(series, (series, series))
    data = []
    for arm, history in histories.items():
        colour = ARM_COLOURS.get(arm)
        band = [(h["step"], h[f"{series}Min"], h[f"{series}Max"]) for h in history
                if f"{series}Min" in h and f"{series}Max" in h]
        if band:
            steps = [s for s, _, _ in band]
            data.append({"type": "scatter", "mode": "lines", "name": f"{arm} range", "x": steps + steps[::-1],
                         "y": [high for _, _, high in band] + [low for _, low, _ in band][::-1], "fill": "toself",
                         "line": {"width": 0, "color": colour}, "opacity": 0.2, "hoverinfo": "skip",
                         "showlegend": False})
        points = [(h["step"], h[series]) for h in history if "step" in h and h.get(series) is not None]
        data.append({"type": "scatter", "mode": "lines", "name": arm, "x": [s for s, _ in points],
                     "y": [v for _, v in points], "line": {"color": colour, "width": 2}})
        if series == "loss":
            validation = [(h["step"], h["validationLoss"]) for h in history
                          if "step" in h and h.get("validationLoss") is not None]
            if validation:
                data.append({"type": "scatter", "mode": "lines+markers", "name": f"{arm} validation",
                             "x": [s for s, _ in validation], "y": [v for _, v in validation],
                             "line": {"color": colour, "dash": "dot"}})
    layout = {"title": {"text": title}, "xaxis": _axis("step"), "yaxis": _axis(axis), **_LAYOUT}
    if not any(trace["x"] for trace in data):
        layout["annotations"] = [{"text": f"no {axis} recorded", "showarrow": False, "x": 0.5, "y": 0.5,
                                  "xref": "paper", "yref": "paper"}]
    return {"data": data, "layout": layout}
