"""Each view's components, built from plain data the gateway returned (no I/O here).

Bootstrap (dash-bootstrap-components) gives every view one grid, typography and colour scheme, light and
dark; columns stack below the ``md`` breakpoint, so each view reads at phone width.
"""

from __future__ import annotations

import math

import dash_bootstrap_components as dbc
from dash import dcc, html

from commentslab.dashboard.code_view import code_block, diff_block
from commentslab.dashboard.comparison import (
    failure_messages,
    first_completion,
    metadata_hints,
    metadata_lines,
    metadata_terms,
    outcomes,
)
from commentslab.dashboard.figures import (
    ARM_COLOURS,
    bradley_terry_figure,
    forest_caption,
    forest_figure,
    loss_figure,
    metrics_figure,
    training_figure,
)
from commentslab.dashboard.overview import (
    MISSING,
    change_sentence,
    columns,
    detectable_difference,
    final_loss,
    headline_metrics,
    headline_rows,
    number,
    provenance_line,
    reference_line,
    score_text,
    shown_arms,
    verdict,
)
from commentslab.dashboard.run_list import (
    GROUPINGS,
    date_text,
    effect_text,
    metrics_of,
    run_href,
    runs_forest_figure,
    verdict_text,
)
from commentslab.dashboard.static_chart import figure_svg, svg_data_uri

PAGES = [("/", "Overview"), ("/runs", "Runs"), ("/training", "Training"), ("/comparison", "Comparison"), ("/playground", "Playground"),
         ("/results", "Results"), ("/human-eval", "Human evaluation"), ("/review", "Review queue")]
VOTE_LABELS = {"A": "A is better", "B": "B is better", "tie": "Tie", "both_bad": "Both bad"}
GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": "commentslab-chart"}}
# Problems per comparison page: ten cards of three arms' code stay quick to render and to scroll.
PAGE_SIZE = 10
# The filters' "no filter" choice (a select shows an empty value as blank).
ANY = "any"
TRAINING_SERIES = {"loss": "Loss", "lr": "Learning rate", "tokensPerSecond": "Tokens/s"}


def nav() -> dbc.Navbar:
    """The site's bar: its name, a link to every view (scrolling sideways on a phone), the theme switch."""
    links = dbc.Nav([dbc.NavItem(dbc.NavLink(title, href=path, id=f"nav-{path.strip('/') or 'overview'}",
                                             active="exact")) for path, title in PAGES],
                    pills=True, className="site-nav me-auto", navbar=True)
    return dbc.Navbar(dbc.Container([
        dbc.NavbarBrand("commentslab", href="/", className="fw-bold"),
        links,
        dbc.Switch(id="theme-switch", label="Dark theme", value=False, persistence=True,
                   persistence_type="local", class_name="ms-md-3 mb-0 text-nowrap"),
    ], fluid="xl", className="flex-wrap flex-md-nowrap gap-2"), color="body-tertiary", dark=False, expand=True,
        class_name="border-bottom mb-3")


def error_page(message: str) -> html.Div:
    """What is missing and how to produce it, instead of a trace."""
    return html.Div([html.H2("No results to show"),
                     dbc.Alert(message, id="results-error", color="danger")])


def table(rows: list[dict], cols: list[tuple[str, str]], table_id: str) -> html.Div:
    """A Bootstrap table of ``rows`` with ``cols`` (key, title) in a frame ``#<table_id>`` that scrolls sideways
    on a narrow screen; each cell has class ``col-<key>``."""
    return html.Div(dbc.Table([
        html.Thead(html.Tr([html.Th(title, scope="col") for _, title in cols])),
        html.Tbody([html.Tr([html.Td(str(row.get(key, MISSING)), className=f"col-{key}") for key, _ in cols])
                    for row in rows]),
    ], striped=True, hover=True, size="sm", class_name="align-middle mb-0"),
        id=table_id, className="table-responsive", tabIndex="0", role="region",
        **{"aria-label": table_id.replace("-", " ")})


def chart(graph_id: str, figure: dict, config: dict, style: dict | None = None, title: str | None = None) -> html.Div:
    """An interactive chart, drawn at once as a static SVG (``#<graph_id>-preview``) that the Plotly chart
    replaces when plotly.js is ready (assets/charts.css hides the drawing then). ``title``: what the chart
    shows, for the drawing's text alternative (default: the figure's title)."""
    title = title or ((figure.get("layout") or {}).get("title") or {}).get("text") or "chart"
    return html.Div([
        html.Img(src=svg_data_uri(figure_svg(figure)), id=f"{graph_id}-preview", className="chart-preview",
                 alt=f"{title} (a static drawing while the interactive chart loads)"),
        dcc.Graph(id=graph_id, figure=figure, config=config, responsive=True),
    ], className="chart-frame", style=style)


def _arm_card(results: dict, arm: str) -> dbc.Card:
    figures = [html.Div([html.Div(score_text(metric, results[arm].get(metric)), className="headline-figure"),
                         html.Div(metric, className="text-body-secondary small")], className="me-4 mb-2")
               for metric in headline_metrics(results)]
    loss = final_loss(results, arm)
    figures.append(html.Div([html.Div(number(loss, ".3f"), className="headline-figure"),
                             html.Div("final training loss", className="text-body-secondary small")],
                            className="mb-2"))
    body = [html.Div(figures, className="d-flex flex-wrap")]
    if arm != "control":
        body.append(html.Ul([html.Li(change_sentence(results, arm, metric)) for metric in headline_metrics(results)],
                            className=f"list-unstyled mb-0 small change-{arm}"))
    return dbc.Card([
        dbc.CardHeader(html.H2(arm.capitalize(), className="h5 mb-0")),
        dbc.CardBody(body),
    ], id=f"arm-{arm}", class_name="h-100 arm-card", style={"borderTop": f"4px solid {ARM_COLOURS.get(arm, '#888')}"})


def overview_page(results: dict, banner: html.Div | None = None, experiment_runs: list[dict] | None = None
                  ) -> html.Div:
    """The design's split screen: each arm's headline figures large, the difference from control with its 95%
    interval, the verdict in one sentence, how small a difference the run could detect, a forest plot of
    every metric (and of every base model when the run is one model's of an experiment over several), then
    the full table with the p-values and the provenance. ``banner``: which run of the database this is."""
    arms = shown_arms(results)
    order = [a for a in ("control", "experiment", "placebo") if a in arms]
    models = [run for run in experiment_runs or [] if not run.get("error")]
    per_model = [html.H2("Experiment − control, per base model", className="h5 mt-3"),
                 chart("model-forest-chart", runs_forest_figure(models, metrics_of(models)), GRAPH_CONFIG,
                       title="Experiment − control, per base model"),
        html.P("Each row is one base model's run of this experiment, smallest model first: the dot is the "
               "difference, the bar its 95% interval (a diamond where it is significant after Holm's correction).",
               className="text-body-secondary small", id="model-forest-caption")] if len(models) > 1 else []
    return html.Div([
        *([banner] if banner is not None else []),
        html.H1("Does .comments metadata help a model write better code?", className="h3 mb-3"),
        *([html.P(label, id="reference-label", className="small")] if (label := reference_line(results)) else []),
        dbc.Alert(verdict(results), id="verdict", color="primary", class_name="fs-5"),
        dbc.Row([dbc.Col(_arm_card(results, arm), xs=12, md=12 // len(order), class_name="mb-3") for arm in order],
                id="split-screen"),
        dbc.Alert(detectable_difference(results), id="detectable-difference", color="secondary"),
        chart("forest-chart", forest_figure(results), GRAPH_CONFIG),
        html.P(forest_caption(results), className="text-body-secondary small", id="forest-caption"),
        *per_model,
        html.H2("Every metric", className="h4 mt-4"),
        table(headline_rows(results), columns(results), "headline-table"),
        html.P("The difference is experiment − control; the interval is a 95% bootstrap interval when the run "
               "computed one; the Holm-corrected p-value accounts for testing several metrics.",
               className="text-body-secondary small mt-2"),
        html.P(provenance_line(results), id="provenance", className="text-body-secondary small"),
    ])


def training_graphs(histories: dict[str, list[dict]], split: bool = False, series: str = "loss") -> list:
    """Every arm's curve on one chart, or one chart per arm when ``split`` (loss only)."""
    if not histories:
        return [html.P("No training history yet: the trainer writes train/fold<f>/seed<s>/<arm>/history.json as it runs.",
                       id="training-empty")]
    if split and series == "loss":
        return [dbc.Row([dbc.Col(chart(f"loss-{arm}", loss_figure(history, arm), GRAPH_CONFIG), xs=12, lg=6)
                         for arm, history in histories.items()])]
    return [chart(f"training-{series}", training_figure(histories, series), GRAPH_CONFIG)]


def training_page(histories: dict[str, list[dict]]) -> html.Div:
    """The arms' curves on one chart (split per arm on demand, learning rate and tokens/s on demand), refreshed
    every few seconds while a run trains."""
    return html.Div([
        html.H1("Training", className="h3"),
        html.P("Each arm's mean over its runs (folds × seeds), with the band from its lowest to its highest run.",
               className="text-body-secondary"),
        dbc.Row([
            dbc.Col(dbc.RadioItems(id="training-series", options=[{"label": t, "value": v}
                                                                   for v, t in TRAINING_SERIES.items()],
                                   value="loss", inline=True), xs="auto"),
            dbc.Col(dbc.Switch(id="training-split", label="One chart per arm", value=False), xs="auto"),
        ], class_name="mb-2 g-3"),
        html.Div(training_graphs(histories), id="training-graphs"),
        dcc.Interval(id="training-refresh", interval=5000),
        dcc.Store(id="training-signature", data=training_signature(histories)),
    ])


def training_signature(histories: dict[str, list[dict]]) -> dict[str, int]:
    """How many steps each arm has logged: the curves are redrawn only when this changes."""
    return {arm: len(history) for arm, history in histories.items()}


def _outcome_badge(arm: str, row: dict | None) -> dbc.Badge:
    statuses = outcomes(row)
    colour = "success" if "passed" in statuses else "secondary" if statuses == ["not run"] else "danger"
    return dbc.Badge(f"{arm}: {', '.join(statuses)}", color=colour, class_name=f"outcome outcome-{arm} me-1")


def _metadata_panel(metadata: dict | None) -> html.Div:
    if not metadata:
        return html.P("No .comments metadata for this problem.", className="text-body-secondary small")
    parts = [html.H3(".comments metadata", className="h6")]
    if metadata.get("text"):
        parts.append(html.P(str(metadata["text"]), className="small metadata-text"))
    params = metadata.get("params") or {}
    if params:
        parts.append(html.Dl([item for name, value in params.items()
                              for item in (html.Dt(html.Code(name)), html.Dd(str(value), className="mb-1"))],
                             className="small mb-2 metadata-params"))
    ai = metadata.get("aiMetadata") or {}
    if isinstance(ai, dict) and ai:
        shown = [(k, v) for k, v in ai.items() if isinstance(v, str | int | float) and not isinstance(v, bool)][:6]
        parts.append(html.Ul([html.Li(f"{k}: {v}") for k, v in shown], className="small text-body-secondary mb-0"))
    parts.append(html.P("◆ marks the lines that use a name from the metadata.",
                        className="small text-body-secondary mt-2 mb-0"))
    return html.Div(parts, className="metadata-panel")


def problem_card(problem: dict, arms: list[str]) -> dbc.Card:
    """Every arm's code side by side, highlighted, with the lines that use the metadata marked; the metadata
    beside it; the failing tests' messages where the arms' outcomes differ; the diff from control."""
    control, experiment = first_completion(problem, "control"), first_completion(problem, "experiment")
    metadata = problem.get("metadata")
    terms = metadata_terms(metadata)
    hints = metadata_hints(metadata, control, experiment)
    task = problem.get("taskId") or problem["id"]
    passed = {arm: any((problem.get(arm) or {}).get("passed") or []) for arm in arms}
    messages = []
    if len(set(passed.values())) > 1:
        for arm in arms:
            shown = failure_messages(problem.get(arm)) or ([f"{arm} failed its tests ({', '.join(outcomes(problem.get(arm)))})"]
                                                            if not passed[arm] else [])
            messages += [html.Li([html.Strong(f"{arm}: "), html.Code(m)]) for m in shown[:1]]
    panes = [dbc.Col([html.H3(arm, className="h6 mt-2"),
                      code_block(first_completion(problem, arm), f"code-{arm}",
                                 metadata_lines(first_completion(problem, arm), terms),
                                 label=f"{arm}'s code for {task}")], xs=12, md=12 // max(len(arms), 1))
             for arm in arms]
    diffs = [html.Details([html.Summary(f"Diff control → {arm}"),
                           diff_block(control, first_completion(problem, arm),
                                      "code-diff" if arm == "experiment" else f"code-diff-{arm}",
                                      label=f"diff from control to {arm} for {task}")],
                          className="mt-2") for arm in arms if arm != "control"]
    return dbc.Card([
        dbc.CardHeader([html.H2(f"{task} · {problem.get('entryPoint') or ''}", className="h6 mb-1"),
                        html.Div([_outcome_badge(arm, problem.get(arm)) for arm in arms]
                                 + ([dbc.Badge(f"fold {problem['fold']}", color="light", text_color="dark",
                                               class_name="border")] if "fold" in problem else []))]),
        dbc.CardBody([
            html.P(["Metadata plausibly helped: the experiment's code uses ",
                    *[html.Code(t, className="metadata-hint me-1") for t in hints],
                    "from the metadata, and the control's does not."], className="metadata-hints small")
            if hints else None,
            html.Ul(messages, className="failure-messages small list-unstyled") if messages else None,
            html.Details([html.Summary("Prompt"), html.Pre(problem.get("prompt") or "", className="code-block p-2 code-prompt",
                                                           tabIndex="0")]),
            dbc.Row([dbc.Col(dbc.Row(panes, class_name="g-2"), xs=12, lg=9),
                     dbc.Col(_metadata_panel(metadata), xs=12, lg=3, class_name="mt-2")]),
            *diffs,
        ]),
    ], class_name="problem-card mb-3")


def comparison_cards(page: dict) -> list:
    """The problem cards for a page of problems from the gateway, under the count of problems that match."""
    if not page["problems"]:
        return [html.P("No problem matches.", id="comparison-empty")]
    total, first = page["total"], page.get("offset", 0) + 1
    shown = f" · {first}–{first + len(page['problems']) - 1} shown" if total > len(page["problems"]) else ""
    return [html.P([html.Span(f"{total} problem{'s' if total != 1 else ''}", id="comparison-count"), shown],
                   className="text-body-secondary"),
            *[problem_card(p, page["arms"]) for p in page["problems"]]]


def page_count(total: int) -> int:
    """Pages of PAGE_SIZE problems (at least one)."""
    return max(1, math.ceil(total / PAGE_SIZE))


def outcome_options(arms: list[str]) -> list[dict]:
    """The outcome filter's choices: any, and each arm passed or failed."""
    return [{"label": "Any outcome", "value": ANY}] + [
        {"label": f"{arm} {result}", "value": f"{arm}:{result}"} for arm in arms for result in ("passed", "failed")]


def comparison_page(page: dict) -> html.Div:
    """Per-problem comparison: search, filters (disagreements, an arm's outcome, fold) and pages of cards."""
    folds = page.get("folds") or []
    return html.Div([
        html.H1("Comparison", className="h3"),
        dbc.Row([
            dbc.Col([dbc.Label("Search problems", html_for="comparison-search", class_name="small mb-0"),
                     dbc.Input(id="comparison-search", type="search", placeholder="HumanEval/12, longest …",
                               debounce=True)], xs=12, md=4),
            dbc.Col([dbc.Label("Outcome", html_for="outcome-filter", class_name="small mb-0"),
                     dbc.Select(id="outcome-filter", options=outcome_options(page["arms"]), value=ANY)], xs=6, md=3),
            dbc.Col([dbc.Label("Fold", html_for="fold-filter", class_name="small mb-0"),
                     dbc.Select(id="fold-filter", options=[{"label": "All folds", "value": ANY}]
                                + [{"label": f"fold {f}", "value": str(f)} for f in folds], value=ANY,
                                disabled=len(folds) < 2)], xs=6, md=2),
            dbc.Col(dbc.Checklist(id="disagree-only", options=[
                {"label": "Only problems where the arms' test outcomes differ", "value": "disagree"}], value=[],
                switch=True), xs=12, md=3, class_name="d-flex align-items-end"),
        ], class_name="g-2 mb-3"),
        html.Div(comparison_cards(page), id="comparison-list"),
        dcc.Store(id="comparison-page", data=1),
        pager(1, page_count(page["total"])),
    ])


def page_label(page_number: int, pages: int) -> str:
    """Where the visitor is among the pages."""
    return f"Page {page_number} of {pages}"


def pager(page_number: int, pages: int) -> html.Nav:
    """Previous and next buttons around "Page n of m". Solid buttons: the outlined secondary one's grey text
    falls below 4.5:1 contrast on the dark theme's background."""
    return html.Nav([
        dbc.Button("← Previous", id="comparison-prev", n_clicks=0, color="secondary",
                   disabled=page_number <= 1),
        html.Span(page_label(page_number, pages), id="comparison-page-label", className="mx-3"),
        dbc.Button("Next →", id="comparison-next", n_clicks=0, color="secondary",
                   disabled=page_number >= pages),
    ], id="comparison-pager", className="d-flex align-items-center my-3", **{"aria-label": "pages of problems"})


def playground_page() -> html.Div:
    """A prompt box and optional metadata; both arms generate through the gateway, their text streamed side by
    side into ``#playground-output`` as it is decoded (dashboard/assets/playground_stream.js)."""
    return html.Div([
        html.H1("Try it yourself", className="h3"),
        dbc.Label("Prompt (code to complete, up to 4000 characters)", html_for="prompt"),
        dbc.Textarea(id="prompt", value="def add(a, b):\n", maxLength=4000, rows=5, class_name="font-monospace mb-2"),
        dbc.Label("Optional .comments metadata (JSON object or comment text)", html_for="metadata"),
        dbc.Textarea(id="metadata", value="", maxLength=2000, rows=2, class_name="font-monospace mb-2"),
        dbc.Row([
            dbc.Col([dbc.Label("New tokens", html_for="max-tokens"),
                     dbc.Input(id="max-tokens", type="number", min=1, max=128, value=32)], xs=6, md=2),
            dbc.Col(dbc.Button("Generate with both models", id="generate", n_clicks=0, color="primary"),
                    xs="auto", class_name="d-flex align-items-end"),
        ], class_name="g-2 mb-3"),
        html.Div(id="playground-output", **{"aria-live": "polite"}),
    ])


def results_page(results: dict) -> html.Div:
    """The metrics table, its CSV and LaTeX downloads, and a chart (PNG from its toolbar)."""
    return html.Div([
        html.H1("Results", className="h3"),
        table(headline_rows(results), columns(results), "results-table"),
        html.Div([
            dbc.Button("Download CSV", id="download-csv-button", n_clicks=0, color="secondary", outline=True),
            dbc.Button("Download LaTeX", id="download-latex-button", n_clicks=0, color="secondary", outline=True),
        ], className="d-flex gap-2 my-3"),
        dcc.Download(id="download-csv"),
        dcc.Download(id="download-latex"),
        chart("metrics-chart", metrics_figure(results),
              {**GRAPH_CONFIG, "toImageButtonOptions": {"format": "png", "filename": "commentslab-metrics"}}),
        html.P("Each chart's toolbar has a camera button that downloads it as PNG.", className="text-body-secondary"),
    ])


def human_eval_page() -> html.Div:
    """Register or sign in as a reviewer, judge blind pairs, see the statistics."""
    return html.Div([
        html.H1("Human evaluation", className="h3"),
        dcc.Store(id="eval-init", data=1),
        dcc.Store(id="current-pair"),
        dbc.Row([
            dbc.Col([dbc.Label("Reviewer name", html_for="reviewer-name"),
                     dbc.Input(id="reviewer-name", type="text", maxLength=64)], xs=12, md=4),
            dbc.Col(dbc.Button("Register as reviewer", id="register", n_clicks=0, color="primary"), xs="auto",
                    class_name="d-flex align-items-end"),
        ], class_name="g-2"),
        html.P(id="reviewer-status", className="mt-2"),
        html.Div(id="pair-info", className="mb-2"),
        dbc.Row([dbc.Col([html.H2("A", className="h6"), html.Pre(id="pair-a", className="code-block p-2", tabIndex="0")], xs=12, md=6),
                 dbc.Col([html.H2("B", className="h6"), html.Pre(id="pair-b", className="code-block p-2", tabIndex="0")], xs=12, md=6)],
                class_name="g-2"),
        html.Div([dbc.Button(label, id=f"vote-{choice}", n_clicks=0, color="secondary", outline=True)
                  for choice, label in VOTE_LABELS.items()], className="d-flex flex-wrap gap-2 my-3"),
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
        html.H2("Results so far", className="h4"),
        table(rows, [("pairing", "Pairing"), ("wins", "Wins"), ("losses", "Losses"), ("ties", "Ties"),
                     ("bothBad", "Both bad"), ("share", "Preference share"), ("interval", "95% Wilson interval"),
                     ("pValue", "Binomial p")], "preference-table"),
        html.P(f"{summary['reviewers']} reviewers, {summary['votes']} votes"
               + (" (the design asks for 10 or more reviewers)" if summary["reviewers"] < 10 else ""),
               id="reviewer-count", className="mt-2"),
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
        return html.Div([html.H1("Review queue", className="h3"),
                         dbc.Alert(message, id="review-error", color="warning")])
    rows = [{**i, "reasons": ", ".join(i["reasons"])} for i in items]
    pending = [i["recordId"] for i in items if i["status"] == "pending"]
    return html.Div([
        html.H1("Review queue", className="h3"),
        table(rows, [("recordId", "Record"), ("path", "Path"), ("reasons", "Reasons"), ("status", "Status"),
                     ("decision", "Decision")], "review-table"),
        dbc.Row([
            dbc.Col([dbc.Label("Record", html_for="review-record"),
                     dbc.Select(id="review-record", options=[{"label": p, "value": p} for p in pending],
                                value=pending[0] if pending else None)], xs=12, md=4),
            dbc.Col([dbc.Label("Reason (for a rejection)", html_for="review-reason"),
                     dbc.Input(id="review-reason", type="text", maxLength=500)], xs=12, md=5),
        ], class_name="g-2 mt-3"),
        html.Div([dbc.Button("Accept", id="review-accept", n_clicks=0, color="success"),
                  dbc.Button("Reject", id="review-reject", n_clicks=0, color="danger")], className="d-flex gap-2 my-3"),
        html.P(id="review-message"),
    ])


def run_banner(run: dict, total: int) -> html.Div:
    """Which run of the database a view shows (scenario, model, design, date) and the way back to the list."""
    design = (run.get("design") or {}).get("label") or MISSING
    return dbc.Alert([
        html.Span([html.Strong(f"Run {run['id']}"), f" · {run.get('scenario') or MISSING} · "
                   f"{run.get('baseModel') or MISSING} · {design} · {date_text(run)}"]),
        dcc.Link(f"All {total} runs", href="/runs", className="ms-2 alert-link"),
    ], id="run-banner", color="light", class_name="small py-2 mb-3")


def _select(select_id: str, label: str, values: list[str], everything: str) -> dbc.Col:
    return dbc.Col([dbc.Label(label, html_for=select_id, class_name="small mb-0"),
                    dbc.Select(id=select_id, value=ANY, options=[{"label": everything, "value": ANY}]
                               + [{"label": v, "value": v} for v in values])], xs=6, md=2)


def runs_table(runs: list[dict], metric: str | None) -> html.Div:
    """Every run listed: its id (a link to its views), scenario, model, design, date, verdict and its effect on
    ``metric``; a run that cannot be read shows why instead."""
    header = ["Run", "Scenario", "Model", "Design", "Date", "Verdict", f"Effect on {metric}" if metric else "Effect"]
    rows = []
    for run in runs:
        if run.get("error"):
            rows.append(html.Tr([html.Td(run["id"], className="col-id"), html.Td(run.get("scenario") or MISSING),
                                 html.Td(run.get("baseModel") or MISSING), html.Td(MISSING),
                                 html.Td(date_text(run)), html.Td(run["error"], colSpan=2, className="run-error")],
                                className="run-broken"))
            continue
        rows.append(html.Tr([
            html.Td(dcc.Link(run["id"], href=run_href("/", run["id"])), className="col-id"),
            html.Td(run.get("scenario") or MISSING), html.Td(run.get("baseModel") or MISSING),
            html.Td((run.get("design") or {}).get("label") or MISSING, className="small"),
            html.Td(date_text(run), className="text-nowrap"), html.Td(verdict_text(run), className="col-verdict"),
            html.Td(effect_text(run, metric) if metric else MISSING, className="text-nowrap"),
        ], className="run-row"))
    return html.Div(dbc.Table([html.Thead(html.Tr([html.Th(title, scope="col") for title in header])),
                               html.Tbody(rows)], striped=True, hover=True, size="sm", class_name="align-middle mb-0"),
                    id="runs-table", className="table-responsive", tabIndex="0", role="region",
                    **{"aria-label": "runs of the results database"})


def runs_results(runs: list[dict], metric: str | None, group_by: str = "scenario") -> list:
    """The filtered runs: how many, their table, and the forest plot of their effect on ``metric``."""
    readable = [run for run in runs if not run.get("error")]
    broken = len(runs) - len(readable)
    count = f"{len(runs)} run{'s' * (len(runs) != 1)}" + (f", {broken} that cannot be read" if broken else "")
    return [
        html.P(count, id="runs-count", className="text-body-secondary"),
        runs_table(runs, metric),
        html.H2("The effect across runs", className="h4 mt-4"),
        chart("runs-forest", runs_forest_figure(readable, [metric] if metric else [], group_by), GRAPH_CONFIG,
              title=f"Experiment − control on {metric or 'no metric'}, one row per run"),
        html.P("Each row is one run: the dot is experiment − control, the bar its 95% bootstrap interval, a diamond "
               "where the difference is significant after Holm's correction. Models are ordered by size, so the rows "
               "of a multi-model experiment show whether the effect grows with the model.",
               className="text-body-secondary small", id="runs-forest-caption"),
    ]


def runs_page(listing: dict) -> html.Div:
    """The results database: filters (scenario, model, profile, verdict), the metric and grouping of the forest
    plot, then the runs and the plot (filled by the page's callback, drawn here for the first view)."""
    runs = listing["runs"]
    values = listing.get("values") or {}
    metrics = metrics_of(runs)
    return html.Div([
        html.H1("Results database", className="h3"),
        html.P("Every run in the served folder, with its scenario, base model, design, date and verdict. Open a run "
               "for its split screen, training, comparison and results.", className="text-body-secondary"),
        dbc.Row([
            _select("runs-scenario", "Scenario", values.get("scenario") or [], "All scenarios"),
            _select("runs-model", "Base model", values.get("model") or [], "All models"),
            _select("runs-profile", "Profile", values.get("profile") or [], "All profiles"),
            dbc.Col([dbc.Label("Verdict", html_for="runs-verdict", class_name="small mb-0"),
                     dbc.Select(id="runs-verdict", value=ANY, options=[{"label": "Any verdict", "value": ANY}]
                                + [{"label": text, "value": kind} for kind, text in VERDICT_CHOICES.items()])],
                    xs=6, md=2),
            dbc.Col([dbc.Label("Metric", html_for="runs-metric", class_name="small mb-0"),
                     dbc.Select(id="runs-metric", value=metrics[0] if metrics else None,
                                options=[{"label": m, "value": m} for m in metrics])], xs=6, md=2),
            dbc.Col([dbc.Label("Group rows by", html_for="runs-group", class_name="small mb-0"),
                     dbc.Select(id="runs-group", value="scenario",
                                options=[{"label": text, "value": key} for key, text in GROUPINGS.items()])],
                    xs=6, md=2),
        ], class_name="g-2 mb-3"),
        html.Div(runs_results(runs, metrics[0] if metrics else None), id="runs-results"),
    ])


VERDICT_CHOICES = {"better": "Experiment better", "worse": "Experiment worse", "mixed": "Mixed",
                   "none": "No significant difference", "broken": "Cannot be read"}
