"""The public comparison dashboard (Dash): seven views over the gateway's API.

The dashboard never reads run files or reaches the model server itself; every view asks the FastAPI
gateway (services/gateway). Without ``gateway_url`` it starts one in-process on a loopback port.
Callbacks stay thin: they call the gateway and hand data to commentslab.dashboard.pages, whose builders hold the
layout logic; the statistics, diff hints and table exports live in plain modules with unit tests.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dash_bootstrap_components as dbc
import flask
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from werkzeug.middleware.proxy_fix import ProxyFix

from commentslab.dashboard import pages
from commentslab.dashboard.code_view import code_style_css
from commentslab.dashboard.compression import compression_settings
from commentslab.dashboard.gateway_client import GatewayClient, GatewayError, refusal_detail
from commentslab.dashboard.overview import headline_rows, headline_table, verdict
from commentslab.dashboard.run_list import RUN_VIEWS, run_from_search, run_href
from commentslab.services.evaluator.table_export import table_csv, table_latex
from commentslab.services.gateway.results_store import ResultsError, load_results

# plotly.js's official basic bundle at the version deps/node/package-lock.json locks (plotly.js-basic-dist-min);
# tests/unit/test_plotly_bundle.py keeps the two the same, `make plotly-bundle` copies a new version in.
PLOTLY_BUNDLE = Path(__file__).with_name("vendor") / "plotly-basic.min.js"
# A relayed playground request: 4000 + 2000 characters, JSON-escaped, fit well within this.
MAX_RELAYED_BODY = 64 * 1024
NDJSON = "application/x-ndjson"
# Dash's page with the document's language declared (screen readers pick their voice from it).
INDEX_STRING = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""
# The theme switch sets Bootstrap's colour mode on the whole document; the choice persists in the browser.
APPLY_THEME = """(dark) => {
    document.documentElement.setAttribute('data-bs-theme', dark ? 'dark' : 'light');
}"""

# Kept importable from here: the tests and the CLI read results through these names.
__all__ = ["ResultsError", "create_app", "headline_rows", "load_results", "verdict"]


def create_app(results_dir: Path | None = None, gateway_url: str | None = None, proxy_hops: int = 0,
               plotly_bundle: Path = PLOTLY_BUNDLE, **gateway_options) -> Dash:
    """A Dash app over the gateway at ``gateway_url``, or over one started in-process for ``results_dir``
    (``gateway_options`` go to commentslab.services.gateway.app.create_app: model_server, votes_url, daily_limit, ...).
    ``proxy_hops``: how many proxies (an ingress) stand in front and append to ``X-Forwarded-For``; the
    visitor's address relayed to the gateway for the daily limit is then the one the first proxy saw.
    ``plotly_bundle``: the plotly.js file the charts load (default: the basic partial bundle)."""
    if gateway_url is None:
        from commentslab.services.gateway.server import start_in_thread

        gateway_url = start_in_thread(Path(results_dir), **gateway_options).url
    client = GatewayClient(gateway_url)
    server = flask.Flask(__name__)
    server.config.update(compression_settings())  # read when Dash(compress=True) sets up Flask-Compress
    app = Dash(__name__, server=server, title="commentslab results", suppress_callback_exceptions=True,
               compress=True, index_string=INDEX_STRING)
    serve_plotly_bundle(app, plotly_bundle)
    serve_code_style(app)
    if proxy_hops:
        app.server.wsgi_app = ProxyFix(app.server.wsgi_app, x_for=proxy_hops)
    relay_playground(app, client)
    app.layout = html.Div([
        dcc.Location(id="url"),
        dcc.Store(id="reviewer-token", storage_type="session"),
        pages.nav(),
        dbc.Container(html.Main(id="page"), fluid="xl", class_name="pb-5"),
    ])
    app.clientside_callback(APPLY_THEME, Input("theme-switch", "value"))

    # The views of one run keep the run a visitor opened from the results database as they move between them;
    # their links then carry a query, which the links' own "exact" matching of the path would not recognise.
    @app.callback([Output(f"nav-{path.strip('/') or 'overview'}", "href") for path in RUN_VIEWS]
                  + [Output(f"nav-{path.strip('/') or 'overview'}", "active") for path in RUN_VIEWS],
                  Input("url", "pathname"), Input("url", "search"))
    def keep_run(pathname: str | None, search: str | None):
        run = run_from_search(search)
        return [run_href(path, run) for path in RUN_VIEWS] + [(pathname or "/") == path for path in RUN_VIEWS]

    def banner(run: str | None):
        """The run banner when the served folder holds several runs (or a run was asked for by name)."""
        try:
            listing = client.runs()
        except GatewayError:  # no folder to list (the view says what is missing) or an older gateway
            return None, {"runs": [], "total": 0}, None
        shown = run or listing.get("default")
        entry = next((r for r in listing["runs"] if r["id"] == shown), None)
        if entry is None or (listing["total"] < 2 and run is None):
            return None, listing, entry
        return pages.run_banner(entry, listing["total"]), listing, entry

    def with_banner(page, run: str | None):
        shown, _, _ = banner(run)
        return html.Div([shown, page]) if shown is not None else page

    @app.callback(Output("page", "children"), Input("url", "pathname"), Input("url", "search"))
    def render(pathname: str | None, search: str | None):
        run = run_from_search(search)
        try:
            if pathname in (None, "/"):
                results = client.results(run)
                shown, listing, entry = banner(run)
                experiment = (entry or {}).get("experiment")
                siblings = [r for r in listing["runs"] if experiment and r.get("experiment") == experiment]
                return pages.overview_page(results, shown, siblings)
            if pathname == "/runs":
                return pages.runs_page(client.runs())
            if pathname == "/training":
                return with_banner(pages.training_page(client.training(run)), run)
            if pathname == "/comparison":
                return with_banner(pages.comparison_page(client.problems(limit=pages.PAGE_SIZE, run=run)), run)
            if pathname == "/playground":
                return pages.playground_page()
            if pathname == "/results":
                return with_banner(pages.results_page(client.results(run)), run)
            if pathname == "/human-eval":
                client.results()  # nothing to judge without results: say so up front
                return pages.human_eval_page()
            if pathname == "/review":
                try:
                    return pages.review_page(client.review_items(), None)
                except GatewayError as exc:
                    return pages.review_page(None, str(exc))
        except GatewayError as exc:
            return pages.error_page(str(exc))
        return html.P(f"No view at {pathname}.", id="not-found")

    @app.callback(Output("runs-results", "children"),
                  Input("runs-scenario", "value"), Input("runs-model", "value"), Input("runs-profile", "value"),
                  Input("runs-verdict", "value"), Input("runs-metric", "value"), Input("runs-group", "value"),
                  prevent_initial_call=True)
    def filter_runs(scenario, model, profile, verdict_kind, metric, group_by):
        chosen = {name: None if value in (None, "", pages.ANY) else value for name, value in
                  (("scenario", scenario), ("model", model), ("profile", profile), ("verdict", verdict_kind))}
        try:
            listing = client.runs(**chosen)
        except GatewayError as exc:
            return [pages.error_page(str(exc))]
        return pages.runs_results(listing["runs"], metric or None, group_by or "scenario")

    @app.callback(Output("training-graphs", "children"), Output("training-signature", "data"),
                  Input("training-refresh", "n_intervals"), Input("training-series", "value"),
                  Input("training-split", "value"), State("training-signature", "data"), State("url", "search"),
                  prevent_initial_call=True)
    def refresh_training(_, series, split, shown, search):
        try:
            histories = client.training(run_from_search(search))
        except GatewayError:
            raise PreventUpdate from None
        signature = pages.training_signature(histories)
        if ctx.triggered_id == "training-refresh" and signature == shown:
            raise PreventUpdate  # nothing new logged: keep the drawn charts (and the visitor's zoom)
        return pages.training_graphs(histories, bool(split), series or "loss"), signature

    @app.callback(Output("comparison-list", "children"), Output("comparison-page", "data"),
                  Output("comparison-page-label", "children"), Output("comparison-prev", "disabled"),
                  Output("comparison-next", "disabled"),
                  Input("comparison-search", "value"), Input("outcome-filter", "value"), Input("fold-filter", "value"),
                  Input("disagree-only", "value"), Input("comparison-prev", "n_clicks"),
                  Input("comparison-next", "n_clicks"), State("comparison-page", "data"), State("url", "search"),
                  prevent_initial_call=True)
    def filter_problems(search, outcome, fold, disagree, _previous, _next, page_number, query):
        # A new search or filter starts again at the first page; the buttons move within the same matches.
        step = {"comparison-prev": -1, "comparison-next": 1}.get(ctx.triggered_id)
        page_number = max(1, (page_number or 1) + step) if step else 1
        try:
            found = client.problems(disagree_only="disagree" in (disagree or []), limit=pages.PAGE_SIZE,
                                    offset=(page_number - 1) * pages.PAGE_SIZE, search=search or "",
                                    fold=int(fold) if fold not in (None, "", pages.ANY) else None,
                                    outcomes=[outcome] if outcome not in (None, "", pages.ANY) else [],
                                    run=run_from_search(query))
        except GatewayError as exc:
            return [pages.error_page(str(exc))], 1, "", True, True
        count = pages.page_count(found["total"])
        return (pages.comparison_cards(found), page_number, pages.page_label(page_number, count), page_number <= 1,
                page_number >= count)

    @app.callback(Output("download-csv", "data"), Input("download-csv-button", "n_clicks"), State("url", "search"),
                  prevent_initial_call=True)
    def download_csv(_, search):
        results = client.results(run_from_search(search))
        return {"content": table_csv(headline_table(results)), "filename": "commentslab-metrics.csv",
                "type": "text/csv"}

    @app.callback(Output("download-latex", "data"), Input("download-latex-button", "n_clicks"), State("url", "search"),
                  prevent_initial_call=True)
    def download_latex(_, search):
        results = client.results(run_from_search(search))
        return {"content": table_latex(headline_table(results)), "filename": "commentslab-metrics.tex",
                "type": "application/x-tex"}

    vote_buttons = [Input(f"vote-{choice}", "n_clicks") for choice in pages.VOTE_LABELS]

    @app.callback(
        Output("reviewer-token", "data"), Output("current-pair", "data"), Output("pair-info", "children"),
        Output("pair-a", "children"), Output("pair-b", "children"), Output("reviewer-status", "children"),
        Output("vote-message", "children"), Output("eval-summary", "children"),
        Input("eval-init", "data"), Input("register", "n_clicks"), *vote_buttons,
        State("reviewer-name", "value"), State("reviewer-token", "data"), State("current-pair", "data"),
    )
    def human_eval(_init, _register, *rest):
        *_votes, name, token, pair = rest
        trigger = ctx.triggered_id
        status, message = no_update, ""
        try:
            if trigger == "register":
                token = client.register(name or "")["token"]
                status = f"Registered as {name}. Your votes are anonymous to other visitors."
            elif isinstance(trigger, str) and trigger.startswith("vote-"):
                if not token or not pair:
                    raise GatewayError("register as a reviewer first, then judge the pair shown")
                recorded = client.vote(token, pair["pairId"], trigger.removeprefix("vote-"))
                message = (f"Recorded: {pages.VOTE_LABELS[recorded['choice']]}. A was {recorded['leftArm']}, "
                           f"B was {recorded['rightArm']}.")
            elif token:
                status = "Signed in as a reviewer."
        except GatewayError as exc:
            message = str(exc)
        try:
            summary = pages.eval_summary(client.vote_summary())
        except GatewayError as exc:
            summary = html.P(str(exc), style={"color": "#a00"})
        if not token:
            return (None, None, "Register with a name to start judging blind pairs.", "", "",
                    status if status is not no_update else "", message, summary)
        try:
            nxt = client.next_pair(token)
        except GatewayError as exc:
            if exc.status == 401:  # a token from a gateway that forgot it: start over
                return None, None, str(exc), "", "", "", message, summary
            return token, None, str(exc), "", "", status, message, summary
        if nxt["done"]:
            # the gateway says why: every pair judged, or a run with no sample to draw a blind pair from
            return token, None, nxt.get("reason") or "You have judged every pair.", "", "", status, message, summary
        info = (f"Pair for {nxt['taskId']} · your votes today: {nxt['votesToday']} of {nxt['dailyCap']}. "
                "Which completion is better? The models stay hidden until you vote.")
        return token, {"pairId": nxt["pairId"]}, info, nxt["a"]["code"], nxt["b"]["code"], status, message, summary

    @app.callback(Output("review-message", "children"), Output("review-table", "children"),
                  Input("review-accept", "n_clicks"), Input("review-reject", "n_clicks"),
                  State("review-record", "value"), State("review-reason", "value"), State("reviewer-token", "data"),
                  prevent_initial_call=True)
    def review(_accept, _reject, record, reason, token):
        if not token:
            return "Register as a reviewer on the Human evaluation view first.", no_update
        if not record:
            return "Choose a record.", no_update
        try:
            item = client.review_decide(token, record, ctx.triggered_id == "review-accept", reason or "")
            refreshed = pages.review_page(client.review_items(), None)
        except GatewayError as exc:
            return str(exc), no_update
        table = next(c for c in refreshed.children if getattr(c, "id", None) == "review-table")
        return f"{item['recordId']} is now {item['status']}.", table.children

    return app


def serve_plotly_bundle(app: Dash, bundle: Path = PLOTLY_BUNDLE) -> None:
    """Answer Dash's request for plotly.js with ``bundle``: by default plotly's basic partial bundle.

    The full plotly.js is 4.8 MB that the browser needs 1.5 s or more to evaluate, for some forty trace types;
    the dashboard draws two (``scatter`` and ``bar``, dashboard/figures.py), which the basic bundle (scatter,
    bar, pie: 1.2 MB) holds. dcc.Graph fetches plotly.js from this one fixed URL when ``window.Plotly`` is not
    there yet, so the route is taken over here (a static route wins over Dash's component-suite pattern).
    """
    body = Path(bundle).read_bytes()
    version = hashlib.sha256(body).hexdigest()[:16]

    def plotly_bundle() -> flask.Response:
        # From memory, not send_file: Flask-Compress streams a file response through its compressor on every
        # request (and not with gzip), where a body in memory is compressed once and kept (compression.py).
        response = flask.Response(body, mimetype="text/javascript")
        response.set_etag(version)
        response.cache_control.no_cache = True  # the URL never changes: revalidate, a 304 while it is current
        return response

    route = f"{app.config.routes_pathname_prefix}_dash-component-suites/plotly/package_data/plotly.min.js"
    app.server.add_url_rule(route, "plotly_bundle", plotly_bundle)
    # Loaded with the page (deferred: after the HTML is parsed, while the first view's data is on its way),
    # so a chart opened the moment the page shows is drawn at once. Measured (benchmarks/dashboard_load.py):
    # the basic bundle costs the first page little, where the full plotly.js would hold it back by seconds.
    app.config.external_scripts.append(
        {"src": f"{app.config.requests_pathname_prefix}_dash-component-suites/plotly/package_data/plotly.min.js",
         "defer": "defer"})


def serve_code_style(app: Dash) -> None:
    """Serve the code blocks' token colours (Pygments' light and dark styles, code_view.code_style_css) as one
    stylesheet of the page, built once from the installed Pygments."""
    body = code_style_css().encode()
    version = hashlib.sha256(body).hexdigest()[:16]

    def code_style() -> flask.Response:
        response = flask.Response(body, mimetype="text/css")
        response.set_etag(version)
        response.cache_control.no_cache = True
        return response

    # Under /assets/: Flask-Compress keeps its compressed body like every static file's (compression.py).
    app.server.add_url_rule(f"{app.config.routes_pathname_prefix}assets/code-style.css", "code_style", code_style)
    app.config.external_stylesheets.append(f"{app.config.requests_pathname_prefix}assets/code-style.css?v={version}")


def relay_playground(app: Dash, client: GatewayClient) -> None:
    """Serve ``POST <prefix>api/generate`` on the dashboard's own origin, relayed to the gateway as it streams.

    The page (assets/playground_stream.js) reads the stream with fetch; relaying keeps it same-origin, so
    neither CORS nor a public gateway is needed (in the chart the gateway is optional and, when off, lives
    in-process on loopback), and the visitor's address is passed on for the daily limit. A refusal (the
    daily limit, a prompt too long, no model server) comes as one ``{"event": "error", "status", "error"}``
    line with HTTP 200: it is an answer the page shows, not a failed load in the browser's console.
    """

    def refused(status: int, detail: str) -> flask.Response:
        line = json.dumps({"event": "error", "status": status, "error": detail}) + "\n"
        return flask.Response(line, content_type=NDJSON)

    @app.server.route(f"{app.config.routes_pathname_prefix}api/generate", methods=["POST"])
    def relay_generate() -> flask.Response:
        body = flask.request.stream.read(MAX_RELAYED_BODY + 1)
        if len(body) > MAX_RELAYED_BODY:
            return refused(413, "the request is too large: a prompt holds at most 4000 characters")
        try:
            reply = client.relay_generate(body, visitor=flask.request.remote_addr)
        except GatewayError as exc:
            return refused(502, str(exc))
        if reply.status_code >= 400:
            with reply:
                return refused(reply.status_code, refusal_detail(reply))

        def lines():
            try:
                yield from reply.iter_content(chunk_size=None)
            finally:
                reply.close()  # the visitor left or the stream ended: the gateway then cancels the generation

        # No proxy buffering (ingress-nginx honours this header), so each line reaches the visitor as it is made.
        return flask.Response(lines(), headers={"X-Accel-Buffering": "no"}, content_type=NDJSON)
