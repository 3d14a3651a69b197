"""The seccomp profiles: containerd's RuntimeDefault rules as data, and the chart's sandbox profile = RuntimeDefault + pivot_root."""

import json

from commentslab.services.sandbox import seccomp_profile

CAP_SYS_ADMIN = {"caps": ["CAP_SYS_ADMIN"]}


def _rules_for(profile: dict, name: str) -> list[dict]:
    return [rule for rule in profile["syscalls"] if name in rule["names"]]


def test_the_charts_profile_is_the_one_built_from_the_installed_base():
    built = seccomp_profile.sandbox_profile(seccomp_profile.load_base())

    assert json.loads(seccomp_profile.CHART_PROFILE.read_text()) == built


def test_runtime_default_allows_namespaces_and_mounts_only_with_cap_sys_admin_and_never_pivot_root():
    profile = seccomp_profile.runtime_default_profile(seccomp_profile.load_base())

    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == 1
    for name in ("unshare", "mount", "umount2", "setns", "sethostname"):
        assert [r.get("includes") for r in _rules_for(profile, name)] == [CAP_SYS_ADMIN], name
    clone = _rules_for(profile, "clone")
    assert [r.get("includes") or r.get("excludes") for r in clone] == [CAP_SYS_ADMIN, CAP_SYS_ADMIN]
    assert clone[1]["args"] == [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    (clone3_errno,) = [r for r in _rules_for(profile, "clone3") if r["action"] == "SCMP_ACT_ERRNO"]
    assert (clone3_errno["errnoRet"], clone3_errno["excludes"]) == (38, CAP_SYS_ADMIN)
    assert _rules_for(profile, "pivot_root") == []


def test_the_sandbox_profile_adds_pivot_root_and_nothing_else():
    base = seccomp_profile.load_base()
    default, sandbox = seccomp_profile.runtime_default_profile(base), seccomp_profile.sandbox_profile(base)

    assert sandbox["syscalls"][:-1] == default["syscalls"]
    assert sandbox["syscalls"][-1] == {"names": ["pivot_root"], "action": "SCMP_ACT_ALLOW"}
