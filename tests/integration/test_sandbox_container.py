"""The Sandbox service inside a container configured as the chart's pod: it contains, or says loudly why it cannot.

Each case runs tests/sandbox_in_pod.py in podman (runc) under one set of settings (tests/pod_container.py):
the chart's sandbox pod must serve, contain the whole adversarial suite and pass both HumanEval
controls and both controls of the JS fixture repository (node and the locked npm packages in the pod); every setting it needs is shown to be needed by taking it away, and the settings the other
services run under (the sandbox's before it had its own) must leave it NOT_SERVING with the reason,
refusing work, with `commentslab sandbox check` exiting non-zero.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from pod_container import Pod, build_rootfs, hardened_service_pod, run_in_pod, sandbox_pod
from sandbox_attacks import ATTACKS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pod_root():
    # Not under pytest's 0700 temporary folder: the pod's root (an unprivileged id on this machine) must
    # be able to reach its root file system.
    folder = Path(tempfile.mkdtemp(prefix="commentslab-pod-"))
    folder.chmod(0o755)
    yield folder, build_rootfs(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _report(pod: Pod, pod_root) -> dict:
    folder, rootfs = pod_root
    done = run_in_pod(pod, folder, rootfs, ["tests/sandbox_in_pod.py"])
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _without(pod: Pod, name: str, **changes) -> Pod:
    return dataclasses.replace(pod, name=name, security_context={**pod.security_context, **changes})


def test_the_chart_sandbox_pod_serves_contains_every_attack_and_passes_its_controls(pod_root):
    report = _report(sandbox_pod(), pod_root)

    assert (report["health"], report["reason"]) == ("SERVING", "")
    statuses = {name: attack["status"] for name, attack in report["attacks"].items()}
    assert statuses == {name: expected for name, (_, expected) in ATTACKS.items()}
    assert report["attacks"]["network"]["stdout"] == "reached []\n"
    assert report["attacks"]["host files and secrets"]["stdout"] == "found []\n"
    assert report["attacks"]["kill the parent"]["stdout"] == "still here\n"
    assert report["serverAlive"] and report["healthAfter"] == "SERVING"
    controls = report["controls"]
    assert (controls["positive"]["passed"], controls["negative"]["notPassed"]) == (164, 164), controls
    js = report["jsControls"]
    assert (js["positive"]["passed"], js["negative"]["notPassed"]) == (7, 7), js
    assert report["sandboxCheck"]["returncode"] == 0
    assert "pass@1 = 1.0000" in report["sandboxCheck"]["stdout"]


@pytest.mark.parametrize(("pod", "cause"), [
    (hardened_service_pod(), "may not create namespaces"),
    (_without(sandbox_pod(), "RuntimeDefault seccomp", seccompProfile={"type": "RuntimeDefault"}), "pivot_root"),
    (_without(sandbox_pod(), "no NET_ADMIN", capabilities={
        "drop": ["ALL"], "add": [c for c in sandbox_pod().security_context["capabilities"]["add"] if c != "NET_ADMIN"]}),
     "NET_ADMIN"),
], ids=["the other services' settings", "RuntimeDefault seccomp", "no NET_ADMIN"])
def test_a_pod_that_cannot_isolate_is_not_serving_refuses_work_and_fails_the_check_with_its_reason(pod, cause, pod_root):
    report = _report(pod, pod_root)

    assert report["health"] == "NOT_SERVING"
    assert cause in report["reason"]
    assert report["refusal"].startswith("FAILED_PRECONDITION: sandbox unavailable: ")
    assert cause in report["refusal"] and "\n" not in report["refusal"]
    assert report["batchError"] == "SandboxUnavailable"
    check = report["sandboxCheck"]
    assert check["returncode"] != 0
    assert check["stderr"].strip().splitlines()[-1].startswith("error: ")
    assert cause in check["stderr"]
    assert report["serverAlive"]
