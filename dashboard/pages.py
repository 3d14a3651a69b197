"""Each view's components, built from plain data the gateway returned (no I/O here)."""

from __future__ import annotations

from dash import dcc, html

from commentslab.dashboard.comparison import code_diff, first_completion, metadata_hints, outcomes
from commentslab.dashboard.figures import bradley_terry_figure, loss_figure, metrics_figure
from commentslab.dashboard.overview import MISSING, columns, headline_rows, number, provenance_line, verdict
from commentslab.dashboard.static_chart import figure_svg, svg_data_uri

CELL = {"padding": "6px 12px", "borderBottom": "1px solid #ddd", "textAlign": "right"}
CODE = {"whiteSpace": "pre-wrap", "fontFamily": "monospace", "fontSize": "12px", "background": "#f6f8fa",
        "padding": "8px", "margin": "0", "overflowX": "auto"}
DIFF_COLOURS = {"+": "#e6ffec", "-": "#ffebe9", " ": "transparent"}
PAGES = [("/", "Overview"), ("/training", "Training"), ("/comparison", "Comparison"), ("/playground", "Playground"),
         ("/results", "Results"), ("/human-eval", "Human evaluation"), ("/review", "Review queue")]
VOTE_LABELS = {"A": "A is better", "B": "B is better", "tie": "Tie", "both_bad": "Both bad"}
GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": "commentslab-chart"}}


def nav() -> html.Nav:
    """Links to every view."""
    return html.Nav([dcc.Link(title, href=path, id=f"nav-{path.strip('/') or 'overview'}",
                              style={"marginRight": "16px"}) for path, title in PAGES],
                    style={"marginBottom": "16px"}, **{"aria-label": "views"})


def error_page(message: str) -> html.Div:
    """What is missing and how to produce it, instead of a trace."""
    return html.Div([html.H2("No results to show"), html.P(message, id="results-error", style={"color": "#a00"})])


def table(rows: list[dict], cols: list[tuple[str, str]], table_id: str) -> html.Table:
    """A plain HTML table of ``rows`` with ``cols`` (key, title); each cell has class ``col-<key>``."""
    return html.Table([
        html.Thead(html.Tr([html.Th(title, style=CELL, scope="col") for _, title in cols])),
        html.Tbody([html.Tr([html.Td(str(row.get(key, MISSING)), className=f"col-{key}", style=CELL)
                             for key, _ in cols]) for row in rows]),
    ], id=table_id, style={"borderCollapse": "collapse"})


def overview_page(results: dict) -> html.Div:
    """Per metric: each arm, the difference, its interval, the p-values, the verdict, and the provenance."""
    return html.Div([
        html.H2("Overview"),
        html.P(provenance_line(results), id="provenance"),
        table(headline_rows(results), columns(results), "headline-table"),
        html.P(verdict(results), id="verdict", style={"fontSize": "1.2em", "marginTop": "1em"}),
        html.P("The difference is experiment − control; the interval is a 95% bootstrap interval when the run "
               "computed one; the Holm-corrected p-value accounts for testing several metrics.",
               style={"color": "#555"}),
    ])


def chart(graph_id: str, figure: dict, config: dict, style: dict | None = None) -> html.Div:
    """An interactive chart, drawn at once as a static SVG (``#<graph_id>-preview``) that the Plotly chart
    replaces when plotly.js is ready (assets/charts.css hides the drawing then)."""
    title = ((figure.get("layout") or {}).get("title") or {}).get("text") or "chart"
    return html.Div([
        html.Img(src=svg_data_uri(figure_svg(figure)), id=f"{graph_id}-preview", className="chart-preview",
                 alt=f"{title} (a static drawing while the interactive chart loads)"),
        dcc.Graph(id=graph_id, figure=figure, config=config),
    ], className="chart-frame", style=style)


def training_graphs(histories: dict[str, list[dict]]) -> list:
    """One loss graph per arm, side by side."""
    if not histories:
        return [html.P("No training history yet: the trainer writes train/fold<f>/seed<s>/<arm>/history.json as it runs.",
                       id="training-empty")]
    return [chart(f"loss-{arm}", loss_figure(history, arm), GRAPH_CONFIG, {"flex": "1", "minWidth": "420px"})
            for arm, history in histories.items()]


def training_page(histories: dict[str, list[dict]]) -> html.Div:
    """The arms' loss curves, refreshed every few seconds while a run trains."""
    return html.Div([
        html.H2("Training"),
        html.Div(training_graphs(histories), id="training-graphs", style={"display": "flex", "gap": "16px",
                                                                          "flexWrap": "wrap"}),
        dcc.Interval(id="training-refresh", interval=5000),
        dcc.Store(id="training-signature", data=training_signature(histories)),
    ])


def training_signature(histories: dict[str, list[dict]]) -> dict[str, int]:
    """How many steps each arm has logged: the curves are redrawn only when this changes."""
    return {arm: len(history) for arm, history in histories.items()}


def problem_card(problem: dict, arms: list[str]) -> html.Div:
    """Both arms' code side by side, the diff from control to experiment, each test outcome and hints."""
    control, experiment = first_completion(problem, "control"), first_completion(problem, "experiment")
    hints = metadata_hints(problem.get("metadata"), control, experiment)
    panes = []
    for arm in arms:
        status = ", ".join(outcomes(problem.get(arm)))
        panes.append(html.Div([html.H4(f"{arm}: {status}", className=f"outcome outcome-{arm}"),
                               html.Pre(first_completion(problem, arm), style=CODE, className=f"code-{arm}")],
                              style={"flex": "1", "minWidth": "0"}))
    diff = html.Pre([html.Span(f"{mark} {line}\n", style={"background": DIFF_COLOURS.get(mark, "transparent")},
                               className=f"diff-{'add' if mark == '+' else 'del' if mark == '-' else 'same'}")
                     for mark, line in code_diff(control, experiment)], style=CODE, className="code-diff")
    hint = (html.P(["Metadata plausibly helped: the experiment's code uses ",
                    *[html.Code(t, className="metadata-hint", style={"marginRight": "6px"}) for t in hints],
                    "from the metadata, and the control's does not."], className="metadata-hints")
            if hints else None)
    return html.Div([
        html.H3(f"{problem.get('taskId') or problem['id']} · {problem.get('entryPoint') or ''}"),
        hint,
        html.Div(panes, style={"display": "flex", "gap": "12px"}),
        html.Details([html.Summary("Diff (control → experiment)"), diff], open=True),
    ], className="problem-card", style={"borderTop": "1px solid #ccc", "paddingTop": "8px"})


def comparison_cards(page: dict) -> list:
    """The problem cards for a page of problems from the gateway."""
    if not page["problems"]:
        return [html.P("No problem matches.", id="comparison-empty")]
    return [html.P(f"{page['total']} problem{'s' if page['total'] != 1 else ''}", id="comparison-count"),
            *[problem_card(p, page["arms"]) for p in page["problems"]]]


def comparison_page(page: dict) -> html.Div:
    """Per-problem comparison with a filter to disagreements."""
    return html.Div([
        html.H2("Comparison"),
        dcc.Checklist(id="disagree-only", options=[{"label": " Only problems where the arms' test outcomes differ",
                                                    "value": "disagree"}], value=[]),
        html.Div(comparison_cards(page), id="comparison-list"),
    ])


def playground_page() -> html.Div:
    """A prompt box and optional metadata; both arms generate through the gateway, their text streamed side by
    side into ``#playground-output`` as it is decoded (dashboard/assets/playground_stream.js)."""
    return html.Div([
        html.H2("Try it yourself"),
        html.Label("Prompt (code to complete, up to 4000 characters)", htmlFor="prompt"),
        dcc.Textarea(id="prompt", value="def add(a, b):\n", maxLength=4000, style={"width": "100%", "height": "120px"}),
        html.Label("Optional .comments metadata (JSON object or comment text)", htmlFor="metadata"),
        dcc.Textarea(id="metadata", value="", maxLength=2000, style={"width": "100%", "height": "60px"}),
        html.Label("New tokens", htmlFor="max-tokens"),
        dcc.Input(id="max-tokens", type="number", min=1, max=128, value=32),
        html.Button("Generate with both models", id="generate", n_clicks=0),
        html.Div(id="playground-output", **{"aria-live": "polite"}),
    ])


def results_page(results: dict) -> html.Div:
    """The metrics table, its CSV and LaTeX downloads, and a chart (PNG from its toolbar)."""
    return html.Div([
        html.H2("Results"),
        table(headline_rows(results), columns(results), "results-table"),
        html.Button("Download CSV", id="download-csv-button", n_clicks=0),
        html.Button("Download LaTeX", id="download-latex-button", n_clicks=0, style={"marginLeft": "8px"}),
        dcc.Download(id="download-csv"),
        dcc.Download(id="download-latex"),
        chart("metrics-chart", metrics_figure(results),
              {**GRAPH_CONFIG, "toImageButtonOptions": {"format": "png", "filename": "commentslab-metrics"}}),
        html.P("Each chart's toolbar has a camera button that downloads it as PNG."),
    ])


def human_eval_page() -> html.Div:
    """Register or sign in as a reviewer, judge blind pairs, see the statistics."""
    return html.Div([
        html.H2("Human evaluation"),
        dcc.Store(id="eval-init", data=1),
        dcc.Store(id="current-pair"),
        html.Label("Reviewer name", htmlFor="reviewer-name"),
        dcc.Input(id="reviewer-name", type="text", maxLength=64),
        html.Button("Register as reviewer", id="register", n_clicks=0),
        html.P(id="reviewer-status"),
        html.Div(id="pair-info"),
        html.Div([html.Div([html.H4("A"), html.Pre(id="pair-a", style=CODE)], style={"flex": "1"}),
                  html.Div([html.H4("B"), html.Pre(id="pair-b", style=CODE)], style={"flex": "1"})],
                 style={"display": "flex", "gap": "12px"}),
        html.Div([html.Button(label, id=f"vote-{choice}", n_clicks=0, style={"marginRight": "8px"})
                  for choice, label in VOTE_LABELS.items()]),
        html.P(id="vote-message"),
        html.Div(id="eval-summary"),
    ])


def _share(value: object) -> str:
    return number(value, ".1%") if isinstance(value, int | float) else MISSING


def _self_registered(summary: dict | None) -> list:
    """The votes of reviewers who registered themselves, counted apart from the invited reviewers' figures."""
    if not summary:
        return []
    shares = "; ".join(f"{p['arm']} over {p['other']} {_share(p['share'])} of {p['decisive']} decisive"
                       for p in summary["preferences"] if p["decisive"])
    return [html.P(f"Self-registered reviewers, counted apart (not in the figures above): {summary['reviewers']} "
                   f"reviewers, {summary['votes']} votes" + (f"; {shares}" if shares else ""), id="self-registered")]


def eval_summary(summary: dict) -> html.Div:
    """Preference shares with Wilson intervals and binomial tests, reviewers, agreement, position bias,
    flagged reviewers and, with more than two arms, Bradley-Terry strengths: the invited reviewers' votes,
    with the self-registered reviewers' counted apart beneath."""
    rows = [{"pairing": f"{p['arm']} vs {p['other']}", "wins": p["wins"], "losses": p["losses"], "ties": p["ties"],
             "bothBad": p["bothBad"], "share": _share(p["share"]),
             "interval": f"[{p['interval']['low']:.1%}, {p['interval']['high']:.1%}]" if p["decisive"] else MISSING,
             "pValue": number(p["pValue"], ".3f")} for p in summary["preferences"]]
    bias = summary["positionBias"]
    agreement = summary["agreement"]
    parts = [
        html.H3("Results so far"),
        table(rows, [("pairing", "Pairing"), ("wins", "Wins"), ("losses", "Losses"), ("ties", "Ties"),
                     ("bothBad", "Both bad"), ("share", "Preference share"), ("interval", "95% Wilson interval"),
                     ("pValue", "Binomial p")], "preference-table"),
        html.P(f"{summary['reviewers']} reviewers, {summary['votes']} votes"
               + (" (the design asks for 10 or more reviewers)" if summary["reviewers"] < 10 else ""),
               id="reviewer-count"),
        *_self_registered(summary.get("selfRegistered")),
        html.P(f"Agreement between reviewers: {_share(agreement['share'])} over {agreement['comparisons']} "
               "comparisons", id="agreement"),
        html.P(f"Position bias: the left side (A) won {_share(bias['leftShare'])} of {bias['decisive']} decisive "
               f"votes (binomial p {number(bias['pValue'], '.3f')})", id="position-bias"),
        html.Ul([html.Li(f"{f['reviewer']}: {'; '.join(f['reasons'])}") for f in summary["flaggedReviewers"]]
                or [html.Li("none")], id="flagged-reviewers", **{"aria-label": "reviewers whose votes look random"}),
    ]
    if summary.get("bradleyTerry"):
        bt = [{"arm": arm, "strength": f"{v['strength']:.3f}", "interval": f"[{v['low']:.3f}, {v['high']:.3f}]"}
              for arm, v in summary["bradleyTerry"].items()]
        parts.append(table(bt, [("arm", "Arm"), ("strength", "Bradley-Terry strength"),
                                ("interval", "95% bootstrap interval")], "bradley-terry"))
        parts.append(chart("bradley-terry-chart", bradley_terry_figure(summary["bradleyTerry"]), GRAPH_CONFIG))
    return html.Div(parts)


def review_page(items: list[dict] | None, message: str | None) -> html.Div:
    """The data pipeline's flagged records with accept and reject (reviewers only)."""
    if items is None:
        return html.Div([html.H2("Review queue"), html.P(message, id="review-error", style={"color": "#a00"})])
    rows = [{**i, "reasons": ", ".join(i["reasons"])} for i in items]
    pending = [i["recordId"] for i in items if i["status"] == "pending"]
    return html.Div([
        html.H2("Review queue"),
        table(rows, [("recordId", "Record"), ("path", "Path"), ("reasons", "Reasons"), ("status", "Status"),
                     ("decision", "Decision")], "review-table"),
        html.Label("Record", htmlFor="review-record"),
        dcc.Dropdown(id="review-record", options=pending, value=pending[0] if pending else None),
        html.Label("Reason (for a rejection)", htmlFor="review-reason"),
        dcc.Input(id="review-reason", type="text", maxLength=500),
        html.Button("Accept", id="review-accept", n_clicks=0),
        html.Button("Reject", id="review-reject", n_clicks=0, style={"marginLeft": "8px"}),
        html.P(id="review-message"),
    ])
