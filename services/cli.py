"""`commentslab`: every step as a verb on files, the services, the whole run, and the dashboard.

Each step verb works in-process by default, or through a running service with `--via HOST:PORT`
(the address `commentslab up` prints). Errors are one line naming the thing and the reason.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from services.common.errors import CommentslabError, InputError

DEFAULT_BASE_PORT = 50051


def _steps(via: str | None, service: str):
    from services.pipeline.steps import GrpcSteps, LocalSteps

    return GrpcSteps({service: via}) if via else LocalSteps()


def _config(args):
    from services.common.config import load_config

    return load_config(args.profile, args.set or [])


def cmd_corpus(args) -> int:
    from services.corpus.humaneval import write_humaneval_corpus

    summary = write_humaneval_corpus(Path(args.out))
    print(f"wrote {summary['problems']} problems to {args.out}")
    return 0


def cmd_export(args) -> int:
    report = _steps(args.via, "exporter").export(Path(args.repo), Path(args.out), args.context_lines)
    print(f"{report['records']} records from {report['sidecars']} sidecars -> {args.out}")
    for reject in report["rejects"]:
        print(f"  rejected {reject['path']}{' ' + reject['item'] if reject['item'] else ''}: {reject['reason']}")
    if not report["records"]:
        print(f"error: {args.repo}: no valid record to export", file=sys.stderr)
        return 1
    return 0


def cmd_split(args) -> int:
    cfg = _config(args)
    report = _steps(args.via, "splitter").split(Path(args.records), Path(args.out), cfg)
    for count in report["counts"]:
        print(f"{count['arm']:>11} {count['split']:>10} {count['rows']:>6}")
    for reject in report["rejects"]:
        print(f"  rejected {reject['item']}: {reject['reason']}")
    return 0


def cmd_train(args) -> int:
    cfg = _config(args)
    out = Path(args.out)
    tracking = args.tracking_uri or f"sqlite:///{(out / 'mlflow.db').resolve()}"
    result = _steps(args.via, "trainer").train(Path(args.data), args.arm, out, cfg, tracking)
    print(json.dumps(result, indent=2))
    return 0


def cmd_evaluate(args) -> int:
    from services.common.artifacts import read_jsonl, write_jsonl
    from services.pipeline.run import evaluate_arm, similarity_scorer
    from services.pipeline.steps import GrpcSteps, LocalSteps

    cfg = _config(args)
    steps = GrpcSteps({"model-server": args.via, "sandbox": args.sandbox or args.via}) if args.via else LocalSteps()
    rows = list(read_jsonl(Path(args.data)))
    if not rows:
        raise InputError(args.data, "has no test rows")
    steps.load(args.arm, Path(args.checkpoint))
    problems = evaluate_arm(steps, args.arm, rows, cfg, similarity_scorer(cfg))
    write_jsonl(Path(args.out), ({"id": r["id"], **p} for r, p in zip(rows, problems, strict=True)))
    passed = sum(1 for p in problems if p.get("pass@1", 0) > 0)
    print(f"{args.arm}: {passed}/{len(problems)} problems with a passing sample -> {args.out}")
    return 0


def cmd_stats(args) -> int:
    from services.common.artifacts import read_jsonl, write_json
    from services.pipeline.run import compare_arms

    cfg = _config(args)
    rows = list(read_jsonl(Path(args.data)))
    scored = {"control": list(read_jsonl(Path(args.control))), "experiment": list(read_jsonl(Path(args.experiment)))}
    for arm, problems in scored.items():
        if [p["id"] for p in problems] != [r["id"] for r in rows]:
            raise InputError(getattr(args, arm), f"its problems are not the test rows of {args.data}, in order")
    comparison = compare_arms(_steps(args.via, "stats"), scored, rows, cfg)
    write_json(Path(args.out), {"schemaVersion": 1, **comparison, "config": cfg.model_dump()})
    _print_headline(comparison)
    return 0


def _print_headline(results: dict) -> None:
    print(f"{'metric':<22}{'control':>10}{'experiment':>12}{'diff':>9}{'p':>9}")
    for metric in results["metrics"]:
        sig = results["significance"][metric]
        p = sig.get("mcnemar", sig["tTest"])["pValue"]
        print(f"{metric:<22}{results['control'][metric]:>10.3f}{results['experiment'][metric]:>12.3f}"
              f"{sig['difference']:>+9.3f}{p:>9.3f}")


def _parse_ports(text: str | None, base: int | None) -> dict[str, int]:
    from services.pipeline.launcher import SERVICES

    ports: dict[str, int] = {}
    if base:
        ports = {name: base + i for i, name in enumerate(SERVICES)}
    for item in filter(None, (text or "").split(",")):
        name, _, port = item.partition("=")
        if not port.isdigit():
            raise InputError("--ports", f"{item!r} is not NAME=PORT")
        ports[name.strip()] = int(port)
    return ports


def cmd_up(args) -> int:
    from services.pipeline.launcher import start_services

    services = start_services(args.host, _parse_ports(args.ports, args.base_port))
    for s in services.services:
        print(f"{s.name:<13} {s.address}   metrics http://{args.host}:{s.metrics_port}/metrics", flush=True)
    print("all services healthy; Ctrl-C stops them", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(1.0):
        for s in services.services:
            if s.process.poll() is not None:
                print(f"error: {s.name} exited with code {s.process.returncode}; stopping the rest", file=sys.stderr)
                services.stop()
                return 1
    print("stopping services ...", flush=True)
    services.stop()
    print("stopped", flush=True)
    return 0


def cmd_run(args) -> int:
    from services.pipeline.launcher import start_services
    from services.pipeline.run import run_experiment
    from services.pipeline.steps import GrpcSteps, LocalSteps

    cfg = _config(args)
    out = Path(args.out)
    repo = Path(args.repo) if args.repo else None
    if args.in_process:
        results = run_experiment(LocalSteps(), cfg, out, repo)
    else:
        services = start_services(args.host)
        print("services: " + ", ".join(f"{s.name}={s.address}" for s in services.services), flush=True)
        steps = GrpcSteps(services.addresses)
        try:
            results = run_experiment(steps, cfg, out, repo)
        finally:
            steps.close()
            services.stop()
    _print_headline(results)
    print(f"total {results['provenance']['wallSeconds']['total']:.0f}s; results in {out / 'results.json'}")
    print(f"see them: commentslab dashboard --results {out}")
    return 0


def cmd_dashboard(args) -> int:
    from dashboard.app import serve

    print(f"dashboard on http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    serve(Path(args.results), host=args.host, port=args.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="commentslab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p):
        p.add_argument("--profile", default="smoke", help="smoke, cpu, gpu, or a YAML file (default smoke)")
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override, e.g. train.steps=10")

    p = sub.add_parser("corpus", help="write a demo corpus")
    p.add_argument("name", choices=["humaneval"])
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_corpus)

    p = sub.add_parser("export", help="repository with .comments -> JSONL records")
    p.add_argument("repo")
    p.add_argument("--out", required=True, help="records JSONL file (report goes beside it)")
    p.add_argument("--context-lines", type=int, default=5)
    p.add_argument("--via", metavar="HOST:PORT", help="use a running Exporter service")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("split", help="records -> datasets/<arm>/{train,validation,test}.jsonl")
    p.add_argument("records")
    p.add_argument("--out", required=True)
    p.add_argument("--via", metavar="HOST:PORT", help="use a running Splitter service")
    with_config(p)
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("train", help="fine-tune one arm")
    p.add_argument("--data", required=True, help="the arm's dataset folder (datasets/<arm>)")
    p.add_argument("--arm", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite file in --out)")
    p.add_argument("--via", metavar="HOST:PORT", help="use a running Trainer service")
    with_config(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="generate and score one arm on its test rows")
    p.add_argument("--data", required=True, help="the arm's test.jsonl")
    p.add_argument("--arm", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True, help="per-problem scores JSONL")
    p.add_argument("--via", metavar="HOST:PORT", help="use a running ModelServer service")
    p.add_argument("--sandbox", metavar="HOST:PORT", help="the Sandbox service (with --via)")
    with_config(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("stats", help="compare two arms' per-problem scores")
    p.add_argument("--data", required=True, help="the test.jsonl both arms were scored on")
    p.add_argument("--control", required=True)
    p.add_argument("--experiment", required=True)
    p.add_argument("--out", required=True, help="comparison JSON")
    p.add_argument("--via", metavar="HOST:PORT", help="use a running Stats service")
    with_config(p)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("up", help="start the six services on loopback until Ctrl-C")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT, help="first of six consecutive ports")
    p.add_argument("--ports", help="NAME=PORT,... overrides (names: exporter, splitter, trainer, model-server, "
                                   "sandbox, stats)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("run", help="the whole experiment through the services")
    p.add_argument("--out", required=True)
    p.add_argument("--repo", help="an annotated repository (default: the HumanEval corpus)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--in-process", action="store_true", help="skip the services; run every step here")
    with_config(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("dashboard", help="serve the results dashboard")
    p.add_argument("--results", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8050)
    p.set_defaults(func=cmd_dashboard)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `commentslab` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CommentslabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
