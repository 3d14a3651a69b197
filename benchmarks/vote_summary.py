"""The vote summary endpoint (``GET /api/votes/summary``) at 10,000 votes, cold and warm, against the targets.

    python benchmarks/vote_summary.py [--votes 10000] [--rounds 5] [--baseline REV]

Serves a gateway (uvicorn, as in production) over a three-arm run whose SQLite store holds ``--votes`` votes
of 50 invited reviewers on 300 blind pairs (each pair judged by about 33 of them: the agreement and
random-reviewer checks have real work), then each round adds one vote and times
- cold: the first request after that vote (the summary is computed again: new vote count),
- warm: the next request (answered from the summary cached for that count).
Prints each round, the medians, their ratio to the targets (150 ms warm, 1 s cold: below 1 meets it), the
first request after start (imports and caches warming), and the load average before and after: other work
on the machine slows every figure, so compare runs only at similar load.

``--baseline REV`` measures the code of git revision REV the same way (its ``services/`` extracted to a
temporary folder, the same votes and results) and prints both side by side with the ratio REV / now.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS_MS = {"warm": 150.0, "cold": 1000.0}
ARMS = ("control", "experiment", "placebo")


def sample_run(folder: Path, problems: int = 100) -> Path:
    """A three-arm results.json with ``problems`` problems in ``folder`` (complete by the schema)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from sample_results import results_from_problems, scored

    rows = [{"id": f"id{i:03d}", "taskId": f"HumanEval/{i}", "prompt": f"def f{i}(x):\n", "reference": "    return x\n",
             **{arm: scored([f"    return {arm}\n"], [(i + n) % 3 == 0]) for n, arm in enumerate(ARMS)}}
            for i in range(problems)]
    (folder / "results.json").write_text(json.dumps(results_from_problems(rows, arms=ARMS)), encoding="utf-8")
    return folder


def fill_votes(engine, count: int, seed: int = 7, reviewers: int = 50, pairs: int = 300) -> None:
    """``count`` votes straight into the store's tables: invited reviewers, each pair judged at most once each."""
    from sqlalchemy import insert

    from commentslab.services.gateway import votes as store

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    names = {c.name for c in store.reviewers.columns}  # the columns this revision's table has
    people = [{"id": f"r{r:04d}", "name": f"reviewer {r}", "token_hash": f"{r:064x}", "invited": True, "client": "",
               "created_at": now} for r in range(reviewers)]
    pair_arms = [(a, b) for i, a in enumerate(ARMS) for b in ARMS[i + 1:]]
    slots = [(r, p) for r in range(reviewers) for p in range(pairs)]
    rows = []
    for n, (r, p) in enumerate(rng.sample(slots, count)):
        left, right = pair_arms[p % len(pair_arms)][::rng.choice((1, -1))]
        better = "experiment" if "experiment" in (left, right) else "placebo"
        roll = rng.random()
        choice = ("tie" if roll < 0.10 else "both_bad" if roll < 0.15 else
                  ("A" if left == better else "B") if roll < 0.70 else ("B" if left == better else "A"))
        rows.append({"reviewer_id": f"r{r:04d}", "pair_id": f"pair{p:04d}", "left_arm": left, "right_arm": right,
                     "choice": choice, "created_at": now + dt.timedelta(microseconds=n)})
    with engine.begin() as db:
        db.execute(insert(store.reviewers), [{k: v for k, v in person.items() if k in names} for person in people])
        db.execute(insert(store.votes), rows)


def one_more_vote(engine, n: int) -> None:
    """A new vote (reviewer 0 on a pair no one judged), so the next summary is for a new vote count."""
    from sqlalchemy import insert

    from commentslab.services.gateway import votes as store

    with engine.begin() as db:
        db.execute(insert(store.votes).values(reviewer_id="r0000", pair_id=f"extra{n}", left_arm="experiment",
                                              right_arm="control", choice="A", created_at=dt.datetime.now(dt.UTC)))


def timed_get(url: str) -> tuple[float, dict]:
    """Milliseconds for one GET of ``url`` and its JSON."""
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as reply:
        body = json.loads(reply.read())
    return 1000 * (time.perf_counter() - start), body


def measure(votes: int, rounds: int) -> dict:
    """First, cold and warm milliseconds of the summary endpoint over ``votes`` votes (this process's code)."""
    from sqlalchemy import create_engine

    from commentslab.services.gateway.server import start_in_thread

    os.environ.setdefault("COMMENTSLAB_MAINTAINER_TOKEN", "benchmark-maintainer-token")
    with tempfile.TemporaryDirectory() as folder:
        run = sample_run(Path(folder))
        url = f"sqlite:///{Path(folder) / 'votes.sqlite'}"
        gateway = start_in_thread(run, votes_url=url)  # creates the store's tables
        engine = create_engine(url)
        fill_votes(engine, votes)
        try:
            summary_url = gateway.url + "/api/votes/summary"
            first, body = timed_get(summary_url)
            assert body["votes"] == votes and body["bradleyTerry"], "the summary does not cover every vote"
            cold, warm = [], []
            for n in range(rounds):
                one_more_vote(engine, n)
                elapsed, body = timed_get(summary_url)
                assert body["votes"] == votes + n + 1, "the cold request answered from a stale summary"
                cold.append(elapsed)
                warm.append(timed_get(summary_url)[0])
        finally:
            gateway.stop()
    return {"first": first, "cold": cold, "warm": warm}


def measure_revision(revision: str, votes: int, rounds: int) -> dict:
    """``measure`` run on the code of git revision ``revision`` in a child process."""
    with tempfile.TemporaryDirectory() as tree:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "services", "proto"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        env = {**os.environ, "PYTHONPATH": tree}
        out = subprocess.run([sys.executable, __file__, "--worker", "--votes", str(votes), "--rounds", str(rounds)],
                             env=env, cwd=tree, check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def _line(label: str, values: list[float], target: float | None = None) -> str:
    median = statistics.median(values)
    text = f"{label:28s} median {median:8.1f} ms  runs " + " ".join(f"{v:.0f}" for v in values)
    return text + (f"  | median/target {median / target:.2f} (target {target:.0f} ms)" if target else "")


def main(argv: list[str] | None = None) -> None:
    """Measure, print each round, the medians and their ratios to the targets (and to a baseline)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", metavar="REV", help="also measure git revision REV, side by side")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one JSON line, for --baseline
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.votes, args.rounds)))
        return
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    load_before = os.getloadavg()
    now = measure(args.votes, args.rounds)
    before = measure_revision(args.baseline, args.votes, args.rounds) if args.baseline else None
    print(f"\n/api/votes/summary at {args.votes:,} votes (3 arms, 50 reviewers), {args.rounds} rounds, uvicorn on "
          "loopback")
    print("load average (1, 5, 15 min) before " + ", ".join(f"{v:.2f}" for v in load_before) + ", after "
          + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} CPUs")
    for name, result in (("working tree", now), (args.baseline, before)):
        if result is None:
            continue
        print(f"{name}: first request after start {result['first']:.0f} ms")
        for kind in ("cold", "warm"):
            print(_line(f"  {kind}", result[kind], TARGETS_MS[kind]))
    if before:
        for kind in ("cold", "warm"):
            ratio = statistics.median(before[kind]) / statistics.median(now[kind])
            print(f"{kind}: {args.baseline} / working tree = {ratio:.1f}x")
    missed = [kind for kind in ("cold", "warm") if statistics.median(now[kind]) > TARGETS_MS[kind]]
    if missed:
        sys.exit(f"target missed: {', '.join(missed)}")


if __name__ == "__main__":
    main()
