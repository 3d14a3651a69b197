"""`commentslab pipeline compile | run-local | submit` as a user types them. Submission goes to a local HTTP
stand-in of the Kubeflow Pipelines v2beta1 API (no cluster here): it records what the kfp client sends
and answers as the API does, or refuses, or is not there at all."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from commentslab.services.cli import main


class StandIn(BaseHTTPRequestHandler):
    """The three calls `create_run_from_pipeline_package` makes: find the experiment, create it, create the run."""

    refuse = False
    requests: list[tuple[str, str, dict]] = []

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.requests.append(("GET", self.path, {}))
        if self.path.startswith("/apis/v2beta1/experiments"):
            return self._answer(200, {"experiments": [], "total_size": 0})
        return self._answer(200, {"multi_user": False})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        self.requests.append(("POST", self.path, body))
        if self.path == "/apis/v2beta1/experiments":
            return self._answer(200, {"experiment_id": "exp-1", "display_name": body.get("display_name")})
        if self.refuse:
            return self._answer(400, {"error": "invalid pipeline spec: unknown executor", "code": 3})
        return self._answer(200, {"run_id": "run-42", "display_name": body.get("display_name"),
                                  "experiment_id": body.get("experiment_id")})

    def log_message(self, *args):
        pass


@pytest.fixture
def kfp_api():
    StandIn.requests = []
    StandIn.refuse = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", StandIn
    server.shutdown()
    server.server_close()


def test_compile_writes_the_pipeline_the_ui_uploads(tmp_path, capsys):
    out = tmp_path / "p.yaml"
    assert main(["pipeline", "compile", "--out", str(out)]) == 0
    spec = next(yaml.safe_load_all(out.read_text()))  # the pipeline, then its Kubernetes platform spec
    assert spec["pipelineInfo"]["name"] == "commentslab-paired-experiment"
    assert "controls" in str(spec["root"]["dag"]["tasks"])
    assert str(out) in capsys.readouterr().out


def test_submit_sends_the_compiled_pipeline_with_the_runs_parameters(kfp_api, tmp_path, capsys):
    host, api = kfp_api
    package = tmp_path / "p.yaml"
    main(["pipeline", "compile", "--out", str(package)])
    code = main(["pipeline", "submit", "--host", host, "--package", str(package), "--folds", "5",
                 "--seeds", "1,2,3", "--arms", "control,experiment,placebo", "--run-name", "nightly",
                 "--set", "generate.n=20"])
    assert code == 0, capsys.readouterr().err
    assert "submitted run run-42" in capsys.readouterr().out
    runs = [body for method, path, body in api.requests if (method, path) == ("POST", "/apis/v2beta1/runs")]
    assert len(runs) == 1
    run = runs[0]
    assert run["display_name"] == "nightly" and run["experiment_id"] == "exp-1"
    # With Kubernetes settings (node selectors, tolerations, the workspace volume) the client sends the
    # pipeline and its platform spec together.
    spec = run["pipeline_spec"].get("pipeline_spec", run["pipeline_spec"])
    assert spec["pipelineInfo"]["name"] == "commentslab-paired-experiment"
    assert "platform_spec" in run["pipeline_spec"]
    parameters = run["runtime_config"]["parameters"]
    assert parameters["folds"] == 5 and parameters["seeds"] == [1, 2, 3]
    assert parameters["arms"] == ["control", "experiment", "placebo"] and parameters["overrides"] == ["generate.n=20"]


def test_a_host_that_refuses_the_pipeline_is_named_with_what_it_said(kfp_api, capsys):
    host, api = kfp_api
    api.refuse = True
    assert main(["pipeline", "submit", "--host", host]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and host in err and "HTTP 400" in err and "invalid pipeline spec" in err


def test_a_host_that_does_not_answer_is_named_with_what_to_check(capsys):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        host = f"http://127.0.0.1:{sock.getsockname()[1]}"
    assert main(["pipeline", "submit", "--host", host]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and host in err and "does not answer" in err and "port-forward" in err


@pytest.mark.parametrize(("args", "named"), [
    (["--arms", "experiment,placebo"], "control and experiment"),
    (["--arms", "control,experiment,nonsense"], "nonsense"),
    (["--folds", "0"], "data.folds"),
    (["--seeds", "one"], "--seeds"),
])
def test_a_bad_setting_stops_before_anything_is_sent_or_started(kfp_api, tmp_path, capsys, args, named):
    host, api = kfp_api
    assert main(["pipeline", "submit", "--host", host, *args]) == 3
    assert named in capsys.readouterr().err
    assert main(["pipeline", "run-local", "--out", str(tmp_path / "out"), *args]) == 3
    assert named in capsys.readouterr().err
    assert api.requests == [] and not (tmp_path / "out").exists()
