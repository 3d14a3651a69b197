"""The adversarial suite: hostile programs are contained, each reported with its own status, nothing survives."""

import json
import os
import time

import psutil
import pytest
from sandbox_attacks import ATTACKS

from commentslab.services.sandbox import bubblewrap, execute
from commentslab.services.sandbox.execute import Limits, run_many, run_program, timeout_report

TIGHT = Limits(cpu_seconds=1, wall_seconds=4, memory_mb=256, max_output_bytes=4096)
SANDBOX_UIDS = range(1_000_000, 2_000_000_000)


def sandbox_processes() -> list[psutil.Process]:
    """Processes on this machine running under a sandbox uid (a program or something it left behind)."""
    found = []
    for process in psutil.process_iter(["uids", "status"]):
        try:
            if process.info["uids"].real in SANDBOX_UIDS and process.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.NoSuchProcess, TypeError):
            pass
    return found


def wait_until_no_sandbox_process(seconds: float = 3.0) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := sandbox_processes()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left



@pytest.fixture
def attack(host_listener, tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("COMMENTSLAB_SECRET=hunter2")
    monkeypatch.setenv("COMMENTSLAB_SECRET", "hunter2")

    def program(name: str) -> str:
        source, _ = ATTACKS[name]
        return source.replace("{host_port}", str(host_listener)).replace("{secret_path}", str(secret)).replace(
            "{host_pid}", str(os.getpid()))

    return program


@pytest.mark.parametrize("name", list(ATTACKS))
def test_each_attack_ends_with_its_own_status_and_leaves_nothing_running(attack, name):
    started = time.monotonic()

    result = run_program(attack(name), limits=TIGHT)

    assert result.status == ATTACKS[name][1], (result.exit_code, result.stdout[-300:], result.stderr[-500:])
    assert time.monotonic() - started < TIGHT.wall_seconds + 3
    assert wait_until_no_sandbox_process() == []


def test_a_fork_bomb_is_held_to_the_process_limit(attack):
    result = run_program(attack("fork bomb"), limits=Limits(cpu_seconds=1, wall_seconds=3, max_processes=16))

    assert result.status == "timeout"
    assert wait_until_no_sandbox_process() == []
    # The machine still forks: the limit was the program's own, not this user's.
    assert run_program("import os\npid = os.fork()\nos._exit(0) if pid == 0 else os.waitpid(pid, 0)\n").passed


def test_disk_filling_stops_at_the_sandbox_quota(attack):
    result = run_program(attack("disk filling"), limits=TIGHT)

    written = int(result.stdout.split()[-1])
    assert written <= 64
    assert "No space left on device" in result.stderr


def test_one_file_is_capped_by_the_file_size_limit(attack):
    result = run_program(attack("one huge file"), limits=Limits(max_file_bytes=1 << 20))

    assert result.status == "failed"
    assert "File too large" in result.stderr


def test_no_network_reaches_out_of_the_sandbox(attack):
    result = run_program(attack("network"), limits=Limits(wall_seconds=15))

    assert result.stdout.strip() == "reached []"


def test_no_host_file_or_secret_is_visible(attack):
    result = run_program(attack("host files and secrets"))

    assert result.stdout.strip() == "found []"


def test_killing_the_parent_kills_only_the_program(attack):
    result = run_program(attack("kill the parent"))

    assert (result.status, result.stdout) == ("passed", "still here\n")
    assert psutil.Process(os.getpid()).is_running()
    # The runner that served it is alive and serves the next program.
    assert run_program("print('next')\n").stdout == "next\n"


def test_gigabytes_of_output_are_capped(attack):
    result = run_program(attack("gigabytes of output"), limits=TIGHT)

    assert result.status == "timeout"
    assert result.stdout == "x" * TIGHT.max_output_bytes


def test_recursion_errors_fail_and_a_blown_c_stack_crashes(attack):
    recursion, blown = run_many([attack("deep recursion"), attack("deep recursion past the C stack")], limits=TIGHT)

    assert (recursion.status, blown.status) == ("failed", "crashed")
    assert "RecursionError" in recursion.stderr
    assert blown.exit_code == -11


def test_a_program_runs_under_a_uid_of_its_own_with_no_capabilities():
    program = (
        "import os\n"
        "status = open('/proc/self/status').read()\n"
        "caps = [l.split()[1] for l in status.splitlines() if l.startswith(('CapEff', 'CapPrm', 'CapBnd'))]\n"
        "print(os.getuid(), caps, sorted(os.listdir('/')))\n"
    )

    first, second = run_many([program, program], workers=1)

    uid_a, uid_b = int(first.stdout.split()[0]), int(second.stdout.split()[0])
    if os.geteuid() == 0:
        assert uid_a != uid_b and uid_a in SANDBOX_UIDS and uid_b in SANDBOX_UIDS
    assert "'0000000000000000', '0000000000000000'" in first.stdout
    assert "'work'" not in first.stdout and "'etc'" not in first.stdout and "'home'" not in first.stdout


def test_a_timeout_is_rerun_once_and_counted(monkeypatch):
    real_attempt = execute._attempt
    calls = []

    def loaded_machine(program, language, limits):
        # The first attempt meets a busy machine: it runs an endless loop in its place.
        calls.append(program)
        return real_attempt("while True:\n    pass\n" if len(calls) == 1 else program, language, limits)

    monkeypatch.setattr(execute, "_attempt", loaded_machine)

    (result,) = run_many(["print('done')\n"], limits=TIGHT, timeout_retries=1)

    assert (result.status, result.attempts, result.timed_out_attempts) == ("passed", 2, 1)
    assert result.flaky_timeout
    report = timeout_report([result, run_program("print(1)\n")])
    assert report == {"runs": 2, "timedOutOnce": 1, "flakyTimeouts": 1, "timeouts": 0, "flakyTimeoutRate": 0.5}


def test_a_real_timeout_stands_after_its_rerun():
    (result,) = run_many(["while True:\n    pass\n"], limits=TIGHT, timeout_retries=1)

    assert (result.status, result.attempts, result.timed_out_attempts) == ("timeout", 2, 2)
    assert not result.flaky_timeout


def test_javascript_programs_are_contained_too():
    program = (
        "const fs = require('fs'); const net = require('net'); const cp = require('child_process');\n"
        "const seen = [];\n"
        "for (const p of ['/etc', '/home', '/root', '/work']) {\n"
        "  try { seen.push(p + ':' + fs.readdirSync(p).join(',')); } catch (e) {} }\n"
        "try { fs.readFileSync('/etc/passwd'); seen.push('passwd'); } catch (e) {}\n"
        "for (let i = 0; i < 40; i++) {\n"
        "  cp.spawn('/usr/bin/sleep', ['30'], { stdio: 'ignore' }).on('error', () => {}).unref(); }\n"
        "const socket = net.connect(443, '1.1.1.1');\n"
        "socket.on('connect', () => { seen.push('network'); });\n"
        "socket.on('error', () => { console.log(JSON.stringify({seen, env: Object.keys(process.env).sort()})); });\n"
    )

    result = run_program(program, language="javascript", limits=Limits(wall_seconds=10, max_processes=32))

    assert result.status == "passed", result.stderr[-500:]
    # Only the folders leading to the Python installation exist (a pyenv Python lives under /root).
    prefix = bubblewrap.python_interpreter()[1]
    expected = [f"/root:{prefix.split('/')[2]}"] if prefix.startswith("/root/") else []
    assert json.loads(result.stdout) == {"seen": expected, "env": ["HOME", "LANG", "PATH"]}
    assert wait_until_no_sandbox_process() == []
