"""The dashboard's Plotly figures, built from plain data as plain figure dicts.

Plain dicts rather than ``plotly.graph_objects``: validating a Figure object costs ~20 ms per chart
on this machine, which the chart-draw budget (300 ms) cannot spare.
"""

from __future__ import annotations

from commentslab.dashboard.overview import shown_arms

_LAYOUT = {"margin": {"l": 50, "r": 20, "t": 50, "b": 40}, "height": 360}


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
    layout = {"title": {"text": f"Training loss — {arm}"}, "xaxis": {"title": {"text": "step"}},
              "yaxis": {"title": {"text": "loss"}}, **_LAYOUT}
    if not points:
        layout["annotations"] = [{"text": "no training history recorded", "showarrow": False, "x": 0.5, "y": 0.5,
                                  "xref": "paper", "yref": "paper"}]
    return {"data": data, "layout": layout}


def metrics_figure(results: dict) -> dict:
    """Grouped bars: each metric's score per arm."""
    data = [{"type": "bar", "name": arm, "x": results["metrics"], "y": [results[arm].get(m) for m in results["metrics"]]}
            for arm in shown_arms(results)]
    return {"data": data, "layout": {"title": {"text": "Scores per metric"}, "barmode": "group",
                                     "yaxis": {"title": {"text": "score"}}, **_LAYOUT}}


def bradley_terry_figure(strengths: dict[str, dict[str, float]]) -> dict:
    """Bars: each arm's Bradley-Terry strength, with error bars to its 95% bootstrap interval."""
    arms = list(strengths)
    data = [{"type": "bar", "name": "strength", "x": arms, "y": [strengths[a]["strength"] for a in arms],
             "error_y": {"type": "data", "symmetric": False,
                         "array": [strengths[a]["high"] - strengths[a]["strength"] for a in arms],
                         "arrayminus": [strengths[a]["strength"] - strengths[a]["low"] for a in arms]}}]
    return {"data": data, "layout": {"title": {"text": "Bradley-Terry strength (95% bootstrap interval)"},
                                     "yaxis": {"title": {"text": "strength (sums to 1)"}, "rangemode": "tozero"},
                                     **_LAYOUT}}
