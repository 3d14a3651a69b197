"""The command line's conventions: --version names the version and commit, each failure has its own
exit code, a missing extra is one line naming it, progress bars only on a terminal."""
import os
import subprocess
import sys
from importlib.metadata import version

import pytest

from commentslab.services import cli
from commentslab.services.common.errors import MissingExtra, missing_extra


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "commentslab.services.cli", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_version_names_the_installed_version_and_the_baked_commit(monkeypatch):
    monkeypatch.setenv("COMMENTSLAB_COMMIT", "0123abc")
    done = run("--version", env=dict(os.environ))
    assert done.returncode == 0
    assert done.stdout.strip() == f"commentslab {version('commentslab')} (commit 0123abc)"


def test_usage_and_input_errors_have_their_own_codes(tmp_path):
    assert run("no-such-verb").returncode == cli.EXIT_USAGE == 2
    missing = run("export", str(tmp_path / "nope"), "--out", str(tmp_path / "r.jsonl"))
    assert missing.returncode == cli.EXIT_INPUT == 3
    assert missing.stderr.strip() == f"error: {tmp_path / 'nope'}: repository does not exist"


def test_an_internal_error_is_one_line_and_exit_4_with_the_traceback_under_verbose(monkeypatch, capsys):
    def bug(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "cmd_report", bug)
    assert cli.main(["report", "somewhere"]) == cli.EXIT_INTERNAL == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError" in err
    assert cli.main(["-v", "report", "somewhere"]) == 4
    assert "Traceback" in capsys.readouterr().err


def test_a_missing_extra_is_one_line_naming_it(monkeypatch, capsys):
    def needs_kfp(args):
        raise ModuleNotFoundError("No module named 'kfp'", name="kfp")

    monkeypatch.setattr(cli, "cmd_report", needs_kfp)
    assert cli.main(["report", "somewhere"]) == cli.EXIT_INPUT
    assert capsys.readouterr().err == ("error: kfp is not installed; this needs the 'kfp' extra: "
                                       "pip install 'commentslab[kfp]'\n")
    assert missing_extra(ModuleNotFoundError(name="azure.storage.blob")).extra == "azure"
    assert missing_extra(ModuleNotFoundError(name="numpy")) is None
    assert isinstance(missing_extra(ModuleNotFoundError(name="deepspeed")), MissingExtra)


@pytest.mark.parametrize(("flags", "level"), [(["-q"], "WARNING"), (["-v"], "DEBUG")])
def test_quiet_and_verbose_set_the_log_level_and_bars_stay_off_off_a_terminal(monkeypatch, flags, level):
    monkeypatch.delenv("COMMENTSLAB_LOG", raising=False)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setattr(cli, "cmd_report", lambda args: 0)
    assert cli.main([*flags, "report", "somewhere"]) == 0
    assert os.environ["COMMENTSLAB_LOG"] == level
    assert os.environ["TQDM_DISABLE"] == "1"  # pytest's stderr is not a terminal


@pytest.mark.parametrize("command", [["train", "--data", "D", "--arm", "control"], ["evaluate"]])
def test_a_one_model_command_on_a_config_of_several_models_says_how_to_pick_one(tmp_path, capsys, command):
    import yaml

    from commentslab.services.common.config import PROFILES_DIR

    profile = yaml.safe_load((PROFILES_DIR / "smoke.yaml").read_text())
    model = profile.pop("model")
    profile["models"] = [{"name": "small", **model}, {"name": "wide", **model, "hidden_size": 128}]
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(profile))
    args = [*command, "--profile", str(tmp_path / "two.yaml"), "--out", str(tmp_path / "out")]
    if command[0] == "evaluate":
        args += ["--checkpoint", "C", "--data", "D", "--arm", "control"]
    assert cli.main(args) == 3
    err = capsys.readouterr().err
    assert f"commentslab {command[0]} works on one base model" in err and "small, wide" in err
