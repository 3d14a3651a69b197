"""A static SVG drawing of a plain Plotly figure dict, shown the moment a view opens while plotly.js loads.

plotly.js (its basic bundle, 1.2 MB, loaded with the page) takes the browser a few hundred milliseconds of
main-thread work to evaluate and to draw on this machine; until the interactive chart is drawn the view shows
this drawing (same data, same colours, axes with round ticks), which the chart then replaces
(assets/charts.css). Lines (``scatter``)
and grouped bars (``bar``) cover every figure in dashboard/figures.py.
"""

from __future__ import annotations

import base64
import math
from html import escape

# Plotly's default colour sequence, so the drawing and the interactive chart look alike.
COLOURS = ("#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A")
WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 130, 50, 40


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (steps of 1, 2 or 5 times a power of ten) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    return [round(first + i * step, 12) for i in range(int(math.ceil((high - first) / step - 1e-9)) + 1)]


def _numbers(values) -> list[float | None]:
    return [float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None
            for v in values or []]


def _label(value: float) -> str:
    return f"{value:g}"


def figure_svg(figure: dict, width: int = WIDTH, height: int = HEIGHT) -> str:
    """The figure's traces drawn as SVG: its title, both axes with ticks and titles, a legend."""
    traces = figure.get("data") or []
    layout = figure.get("layout") or {}
    # A figure with long category labels (the forest plot's metrics) asks for a wider left margin.
    left = int((layout.get("margin") or {}).get("l", LEFT)) if layout.get("yaxis", {}).get("ticktext") else LEFT
    height = int(layout.get("height", height)) if layout.get("yaxis", {}).get("ticktext") else height
    plot_w, plot_h = width - left - RIGHT, height - TOP - BOTTOM
    bars = [t for t in traces if t.get("type") == "bar"]
    lines = [t for t in traces if t.get("type") != "bar"]
    categories = list(dict.fromkeys(str(x) for t in bars for x in t.get("x") or []))
    ys = [y for t in traces for y in _numbers(t.get("y")) if y is not None]
    ys += [y + e for t in bars for y, e in zip(_numbers(t.get("y")), _numbers((t.get("error_y") or {}).get("array")),
                                               strict=False) if y is not None and e is not None]
    xs = [x for t in lines for x in _numbers(t.get("x")) if x is not None]
    for trace in lines:  # horizontal error bars (the forest plot's intervals) widen the x range
        errors = trace.get("error_x") or {}
        for x, plus, minus in zip(_numbers(trace.get("x")), _numbers(errors.get("array")),
                                  _numbers(errors.get("arrayminus")), strict=False):
            if x is not None and plus is not None and minus is not None:
                xs += [x + plus, x - minus]
    yaxis = layout.get("yaxis") or {}
    if yaxis.get("tickvals"):  # categories placed at numeric rows, labelled with their names
        y_ticks = [float(v) for v in yaxis["tickvals"]]
        y_low, y_high = min(y_ticks) - 0.5, max(y_ticks) + 0.5
        if yaxis.get("autorange") == "reversed":
            y_low, y_high = y_high, y_low
        y_labels = dict(zip(y_ticks, (str(t) for t in yaxis.get("ticktext") or []), strict=False))
    else:
        y_ticks = nice_ticks(min(ys + ([0.0] if bars else [])), max(ys)) if ys else []  # bars start at 0
        y_low, y_high = (y_ticks[0], y_ticks[-1]) if y_ticks else (0.0, 1.0)
        y_labels = {}
    if xs and (layout.get("xaxis") or {}).get("zeroline"):
        xs.append(0.0)
    x_low, x_high = (min(xs), max(xs)) if xs else (0.0, 1.0)
    x_ticks = [t for t in nice_ticks(x_low, x_high) if x_low <= t <= x_high]

    def px(x: float) -> float:
        return left + (x - x_low) / ((x_high - x_low) or 1) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - (y - y_low) / ((y_high - y_low) or 1) * plot_h

    title = ((layout.get("title") or {}).get("text")) or ""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="#fff"/>',
             f'<text x="{left}" y="{TOP - 20}" font-size="16">{escape(title)}</text>']
    for tick in y_ticks:
        label = escape(y_labels.get(tick, _label(tick)).replace("<br>", " · "))  # Plotly's line break, on one line
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" stroke="#eee"/>'
                     f'<text x="{left - 6}" y="{py(tick) + 4:.1f}" text-anchor="end">{label}</text>')
    if x_low < 0 < x_high and (layout.get("xaxis") or {}).get("zeroline"):
        parts.append(f'<line x1="{px(0):.1f}" x2="{px(0):.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#888"/>')
    for tick in x_ticks:
        parts.append(f'<text x="{px(tick):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{_label(tick)}</text>')
    colour_of = {id(trace): COLOURS[index % len(COLOURS)] for index, trace in enumerate(traces)}  # as Plotly does
    for trace in lines:
        points = [(x, y) for x, y in zip(_numbers(trace.get("x")), _numbers(trace.get("y")), strict=False)
                  if x is not None and y is not None]
        colour = colour_of[id(trace)]
        if points and "lines" in trace.get("mode", "lines"):
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        errors = trace.get("error_x") or {}
        for x, y, plus, minus in zip(_numbers(trace.get("x")), _numbers(trace.get("y")), _numbers(errors.get("array")),
                                     _numbers(errors.get("arrayminus")), strict=False):
            if None not in (x, y, plus, minus):
                parts.append(f'<line x1="{px(x - minus):.1f}" x2="{px(x + plus):.1f}" y1="{py(y):.1f}" '
                             f'y2="{py(y):.1f}" stroke="{colour}" stroke-width="2"/>')
        if trace.get("mode") == "markers":
            parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="5" fill="{colour}"/>' for x, y in points]
    slot = plot_w / max(len(categories), 1)
    bar_w = slot * 0.8 / max(len(bars), 1)
    for index, trace in enumerate(bars):
        colour = colour_of[id(trace)]
        errors = trace.get("error_y") or {}
        plus, minus = _numbers(errors.get("array")), _numbers(errors.get("arrayminus"))
        for position, (x, y) in enumerate(zip(trace.get("x") or [], _numbers(trace.get("y")), strict=False)):
            if y is None:
                continue
            left_edge = left + categories.index(str(x)) * slot + slot * 0.1 + index * bar_w
            top, base = py(max(y, 0.0)), py(max(min(y, 0.0), y_low))
            parts.append(f'<rect x="{left_edge:.1f}" y="{min(top, base):.1f}" width="{bar_w:.1f}" '
                         f'height="{abs(base - top):.1f}" fill="{colour}"/>')
            if position < len(plus) and plus[position] is not None:
                low = y - (minus[position] if position < len(minus) and minus[position] is not None else 0.0)
                middle = left_edge + bar_w / 2
                parts.append(f'<line x1="{middle:.1f}" x2="{middle:.1f}" y1="{py(y + plus[position]):.1f}" '
                             f'y2="{py(low):.1f}" stroke="#444" stroke-width="1.5"/>')
    for position, category in enumerate(categories):
        parts.append(f'<text x="{left + (position + 0.5) * slot:.1f}" y="{TOP + plot_h + 16}" '
                     f'text-anchor="middle">{escape(category)}</text>')
    parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#444"/>')
    for axis, x, y, rotate in (("xaxis", left + plot_w / 2, height - 6, ""),
                               ("yaxis", 14, TOP + plot_h / 2, f' transform="rotate(-90 14 {TOP + plot_h / 2})"')):
        text = ((layout.get(axis) or {}).get("title") or {}).get("text")
        if text:
            parts.append(f'<text x="{x}" y="{y}" text-anchor="middle"{rotate}>{escape(text)}</text>')
    for index, trace in enumerate(traces):
        y = TOP + 14 + index * 18
        parts.append(f'<rect x="{left + plot_w + 12}" y="{y - 9}" width="12" height="10" fill="{colour_of[id(trace)]}"/>'
                     f'<text x="{left + plot_w + 30}" y="{y}">{escape(str(trace.get("name") or ""))}</text>')
    for annotation in layout.get("annotations") or []:
        parts.append(f'<text x="{left + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" fill="#666">'
                     f'{escape(str(annotation.get("text", "")))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_data_uri(svg: str) -> str:
    """``svg`` as a ``data:`` URI for an ``<img src>``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
