"""Export throughput on a generated repository of 10,000 annotated files (target: >= 5,000 annotations/s).

    python benchmarks/export_benchmark.py [--files 10000] [--runs 3] [--keep DIR]

The repository is written once: Python, JavaScript and TypeScript files (60/25/15), each with four
annotated functions in a v2.1 sidecar (ghost markers with line hashes, params, AI metadata); one file
in ten has moved code, so its anchors resolve by AST symbol or nearest hash; an ignored folder of
annotated files that the .gitignore must keep out; an MIT LICENSE for the licence gate. Each run
exports the whole repository with the default options (licence gate, PII/secret scrubbing, anchors,
parsers, JSONL written to disk) and reports annotations per second, serially (one process) and with
one worker process per CPU, side by side; the median of each is compared with the target. CPU seconds
(this process and its workers) and the load average are printed too: on a shared machine other work
takes cores, and annotations per CPU-second shows what the exporter itself costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commentslab.services.corpus.humaneval import LICENSE_TEXT  # noqa: E402
from commentslab.services.exporter.anchors import line_hash  # noqa: E402
from commentslab.services.exporter.export import (
    ExportOptions,  # noqa: E402
    run_export,  # noqa: E402
)

TARGET = 5000.0
FUNCTIONS_PER_FILE = 4
WORDS = ["total", "items", "price", "count", "user", "order", "index", "value", "result", "buffer", "limit",
         "offset", "name", "score", "weight", "delta", "cache", "queue", "node", "edge"]


def _python_function(rng: random.Random, name: str) -> list[str]:
    a, b, c = rng.sample(WORDS, 3)
    return [
        f"def {name}({a}, {b}={rng.randint(1, 9)}):",
        f'    """Combine {a} with {b} and return the {c}."""',
        f"    {c} = 0",
        f"    for i in range({b}):",
        f"        if {a} > i * {rng.randint(2, 7)}:",
        f"            {c} += {a} - i",
        "        else:",
        f"            {c} -= {rng.randint(1, 3)}",
        f"    return {c}",
        "",
        "",
    ]


def _script_function(rng: random.Random, name: str, typed: bool) -> list[str]:
    a, b, c = rng.sample(WORDS, 3)
    sig = f"{a}: number, {b}: number" if typed else f"{a}, {b}"
    ret = ": number" if typed else ""
    return [
        "/** Combine the inputs. */",
        f"export function {name}({sig}){ret} {{",
        f"  let {c} = 0;",
        f"  for (let i = 0; i < {b}; i++) {{",
        f"    if ({a} > i * {rng.randint(2, 7)}) {{",
        f"      {c} += {a} - i;",
        "    } else {",
        f"      {c} -= {rng.randint(1, 3)};",
        "    }",
        "  }",
        f"  return {c};",
        "}",
        "",
    ]


def write_file(folder: Path, index: int, rng: random.Random, moved: bool) -> None:
    """One source file with FUNCTIONS_PER_FILE functions and its v2.1 sidecar."""
    kind = "py" if index % 20 < 12 else "js" if index % 20 < 17 else "ts"
    lines: list[str] = ["import math", "", ""] if kind == "py" else ["'use strict';", ""]
    starts = []
    for f in range(FUNCTIONS_PER_FILE):
        name = f"{rng.choice(WORDS)}_{index}_{f}" if kind == "py" else f"{rng.choice(WORDS)}{index}x{f}"
        block = _python_function(rng, name) if kind == "py" else _script_function(rng, name, kind == "ts")
        offset = 0 if kind == "py" else 1  # the JSDoc line sits above the function
        starts.append((name, len(lines) + 1 + offset, len(lines) + len(block) - (2 if kind == "py" else 1)))
        lines.extend(block)
    source = "\n".join(lines) + "\n"
    path = folder / f"module_{index:05d}.{kind}"
    markers, comments = [], []
    for f, (name, start, end) in enumerate(starts):
        cid, mid = f"c-{index}-{f}", f"gm-{index}-{f}"
        markers.append({"id": mid, "line": start, "endLine": end, "commentIds": [cid],
                        "astAnchor": {"symbolPath": [name], "symbolKind": "Function"},
                        "lineHash": line_hash(lines[start - 1]), "lineText": lines[start - 1].strip(),
                        "prevLineText": lines[start - 2].strip(), "nextLineText": lines[start].strip()})
        comments.append({"id": cid, "line": start, "startLine": start, "endLine": end,
                         "text": "${functionName} loops ${count} times over its input", "author": f"dev{index % 50}",
                         "created": "2025-10-01T10:00:00Z", "tag": "NOTE", "ghostMarkerId": mid,
                         "params": {"functionName": {"value": name, "type": "dynamic"},
                                    "count": {"value": 2, "type": "computed"}},
                         "aiMetadata": {"complexity": {"cyclomatic": 3, "cognitive": 4},
                                        "tokens": {"heuristic": 60}, "provider": "openai", "model": "gpt-4o"},
                         "status": "open"})
    if moved:  # code moved since the sidecar was written: anchors must follow it
        source = "\n\n\n" + source
    path.write_text(source, encoding="utf-8")
    sidecar = {"file": path.name, "version": "2.1.0", "ghostMarkers": markers, "comments": comments}
    (folder / f"{path.name}.comments").write_text(json.dumps(sidecar), encoding="utf-8")


def generate(repo: Path, files: int, seed: int = 7) -> int:
    """Write the benchmark repository; returns the number of annotations (outside the ignored folder)."""
    rng = random.Random(seed)
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "LICENSE").write_text(LICENSE_TEXT, encoding="utf-8")
    (repo / ".gitignore").write_text("build/\n", encoding="utf-8")
    for index in range(files):
        folder = repo / "src" / f"pkg{index // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        write_file(folder, index, rng, moved=index % 10 == 0)
    ignored = repo / "build"
    ignored.mkdir(exist_ok=True)
    for index in range(20):
        write_file(ignored, files + index, rng, moved=False)
    return files * FUNCTIONS_PER_FILE


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _run(repo: Path, out: Path, workers: int, expected: int, label: str) -> tuple[float, float]:
    """One export; returns (annotations per wall second, annotations per CPU second)."""
    cpu, start = _cpu_seconds(), time.perf_counter()
    report = run_export(repo, out, options=ExportOptions(workers=workers))
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    out.unlink()
    if report.records != expected:
        raise SystemExit(f"error: exported {report.records} records, expected {expected}: "
                         f"{report.to_dict()['errorsByKind']}")
    rate = report.comments / seconds
    print(f"{label}: {report.comments} annotations in {seconds:.2f}s = {rate:,.0f}/s "
          f"({report.comments / cpu:,.0f} per CPU-second; load average {os.getloadavg()[0]:.1f}); "
          f"anchors {dict(report.resolutions)}", flush=True)
    return rate, report.comments / cpu


def main(argv: list[str] | None = None) -> int:
    """Generate the repository, export it `--runs` times serially and in parallel, print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="write the repository here and keep it")
    args = parser.parse_args(argv)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="commentslab-bench-"))
    repo = root / "repo"
    workers = os.cpu_count() or 1
    try:
        start = time.perf_counter()
        expected = generate(repo, args.files)
        print(f"generated {args.files} annotated files ({expected} annotations) in {time.perf_counter() - start:.1f}s",
              flush=True)
        serial, parallel = [], []
        for run in range(1, args.runs + 1):
            serial.append(_run(repo, root / "serial.jsonl", 1, expected, f"run {run} serial"))
            if workers > 1:
                parallel.append(_run(repo, root / "parallel.jsonl", workers, expected,
                                     f"run {run} {workers} workers"))
        print(f"\nmachine: {platform.platform()}, {workers} CPUs, Python {platform.python_version()}; "
              f"{args.runs} runs each, medians:")
        best = 0.0
        for label, rates in (("serial", serial), (f"{workers} workers", parallel)):
            if rates:
                wall, per_cpu = statistics.median(r[0] for r in rates), statistics.median(r[1] for r in rates)
                best = max(best, wall)
                print(f"  {label:>10}: {wall:,.0f} annotations/s ({wall / TARGET:.2f}x the {TARGET:,.0f}/s target), "
                      f"{per_cpu:,.0f} per CPU-second")
        if serial and parallel:
            print(f"  parallel / serial: {statistics.median(r[0] for r in parallel) / statistics.median(r[0] for r in serial):.2f}x")
        print(f"target {'met' if best >= TARGET else 'NOT met'}")
        return 0 if best >= TARGET else 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
