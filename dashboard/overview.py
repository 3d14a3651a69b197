"""The Overview's content from results.json: per-metric rows, a plain-language verdict, the provenance line.

Handles results from every pipeline version: the interval (``bootstrap``), the corrected p-value
(``pHolm``), the primary test's name and the run's own ``verdict`` are shown when present.
"""

from __future__ import annotations

import math

from commentslab.services.evaluator.table_export import Table

MISSING = "—"


def number(value: object, spec: str) -> str:
    """``value`` formatted with ``spec``, or "—" when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return MISSING
    return format(value, spec)


def p_text(value: object) -> str:
    """A p-value to three decimals, "< 0.001" below that, "—" when unknown."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 0.001:
        return "< 0.001"
    return number(value, ".3f")


def shown_arms(results: dict) -> list[str]:
    """The arms with scores, in display order: control, placebo (when present), experiment."""
    arms = [arm for arm in ("control", "placebo", "experiment") if isinstance(results.get(arm), dict)]
    return arms


def primary_test(significance: dict) -> tuple[str, float | None]:
    """The primary test's name and p-value for one metric: as recorded, else McNemar, else the paired t-test."""
    if significance.get("primaryTest") and isinstance(significance.get("pValue"), int | float):
        return significance["primaryTest"], significance["pValue"]
    if "mcnemar" in significance:
        return "McNemar exact", significance["mcnemar"].get("pValue")
    if "tTest" in significance:
        return "paired t-test", significance["tTest"].get("pValue")
    return MISSING, significance.get("pValue")


def absolute_improvement(results: dict, metric: str) -> float | None:
    """experiment - control for one metric: ``improvement[metric].absolute``, else computed; None if unknown."""
    absolute = ((results.get("improvement") or {}).get(metric) or {}).get("absolute")
    if isinstance(absolute, int | float):
        return float(absolute)
    control, experiment = results["control"].get(metric), results["experiment"].get(metric)
    if isinstance(control, int | float) and isinstance(experiment, int | float):
        return float(experiment - control)
    return None


def interval_text(significance: dict) -> str:
    """The difference's 95% interval as "[low, high]" (``bootstrap`` or ``interval``), "—" when not computed."""
    interval = significance.get("bootstrap") or significance.get("interval") or {}
    low, high = interval.get("low"), interval.get("high")
    if number(low, "+.3f") == MISSING or number(high, "+.3f") == MISSING:
        return MISSING
    return f"[{low:+.3f}, {high:+.3f}]"


def headline_rows(results: dict) -> list[dict[str, str]]:
    """One display row per metric: each arm's score, the difference (experiment - control), its 95%
    interval, the primary test and its p-value, the Holm-corrected p-value, and whether it is significant.

    Scores are shown to three decimals, the difference signed, p-values below 0.001 as "< 0.001";
    a missing value is shown as "—".
    """
    rows = []
    for metric in results["metrics"]:
        significance = (results.get("significance") or {}).get(metric) or {}
        test, p_value = primary_test(significance)
        significant = significance.get("significant")
        row = {"metric": metric}
        for arm in shown_arms(results):
            row[arm] = number(results[arm].get(metric), ".3f")
        row.update({
            "improvement": number(absolute_improvement(results, metric), "+.3f"),
            "interval": interval_text(significance),
            "test": test,
            "pValue": p_text(p_value),
            "pHolm": p_text(significance.get("pHolm")),
            "significant": MISSING if significant is None else ("yes" if significant else "no"),
        })
        rows.append(row)
    return rows


def columns(results: dict) -> list[tuple[str, str]]:
    """(row key, column title) for the headline table, with a placebo column only when there is a placebo arm."""
    arms = [(arm, arm.capitalize()) for arm in shown_arms(results)]
    return [("metric", "Metric"), *arms, ("improvement", "Difference (exp. − control)"),
            ("interval", "95% interval"), ("test", "Primary test"), ("pValue", "p-value"),
            ("pHolm", "Holm-corrected p"), ("significant", "Significant")]


def headline_table(results: dict) -> Table:
    """The headline table as the export bar downloads it (CSV and LaTeX): the Overview's columns and rows."""
    cols = columns(results)
    return Table(columns=tuple(title for _, title in cols),
                 rows=tuple(tuple(row[key] for key, _ in cols) for row in headline_rows(results)),
                 caption="Control vs experiment per metric (difference = experiment − control).",
                 label="tab:commentslab-metrics")


def verdict(results: dict) -> str:
    """A plain sentence: the run's own verdict when recorded, else which metrics differ significantly, if any."""
    if isinstance(results.get("verdict"), str) and results["verdict"]:
        return results["verdict"]
    better, worse, different = [], [], []
    for metric, row in zip(results["metrics"], headline_rows(results), strict=True):
        if row["significant"] != "yes":
            continue
        shown_p = row["pHolm"] if row["pHolm"] != MISSING else row["pValue"]
        label = f"{metric} (p {shown_p if shown_p.startswith('<') else '= ' + shown_p})"
        difference = absolute_improvement(results, metric)
        if difference is not None and difference > 0:
            better.append(label)
        elif difference is not None and difference < 0:
            worse.append(label)
        else:
            different.append(label)
    n = next((s.get("n") for s in (results.get("significance") or {}).values() if isinstance(s, dict) and "n" in s),
             None)
    on_n = f" on {n} test problems" if n else ""
    if not better and not worse and not different:
        return f"There is no significant difference between the experiment and control arms on any metric{on_n}."
    parts = []
    if better:
        parts.append(f"significantly better than control on {', '.join(better)}")
    if worse:
        parts.append(f"significantly worse than control on {', '.join(worse)}")
    if different:
        parts.append(f"significantly different from control on {', '.join(different)}")
    return f"The experiment arm is {' and '.join(parts)}{on_n}."


def provenance_line(results: dict) -> str:
    """Profile, commit, creation time, scenario and machine of the run, on one line."""
    provenance = results.get("provenance") or {}
    commit = str(provenance.get("commit") or "unknown")
    machine = provenance.get("machine") or {}
    where = f" · {machine.get('cpus')} CPUs, torch {machine.get('torch')}" if machine else ""
    return (f"Profile {provenance.get('profile', 'unknown')} · commit {commit[:12]} · "
            f"created {provenance.get('createdAt', 'unknown')} · scenario {results.get('scenario', 'unknown')}{where}")


def reference_line(results: dict) -> str | None:
    """What made promoted reference results, in one sentence (None for a run that was not promoted): the
    design (model, method, folds, seeds, arms, samples) and the hardware it ran on."""
    label = results.get("reference") or {}
    design, hardware = label.get("design") or {}, label.get("hardware") or {}
    if not design:
        return None
    kind = "GPU reference design" if design.get("hardware") == "cuda" else "CPU reference design"
    seeds = design.get("seeds")
    samples = design.get("samples")
    ks = ", ".join(f"pass@{k}" for k in design.get("k") or [])
    return (f"Reference results, the {kind} ({design.get('profile')}): {design.get('model')}, "
            f"{design.get('method')} fine-tuning; {design.get('folds')} folds over {design.get('problems')} problems, "
            f"{seeds} training seed{'s' if seeds != 1 else ''}, arms {', '.join(design.get('arms') or [])}; "
            f"{samples} sample{'s' if samples != 1 else ''} per problem ({ks}). Ran on {hardware.get('kind', '?')}: "
            f"{hardware.get('model', 'unknown')} ({hardware.get('count', '?')} "
            f"{'GPUs' if hardware.get('kind') == 'GPU' else 'cores'}).")


def is_rate(metric: str) -> bool:
    """Whether a metric is a share of problems (pass@k, exact and AST match), shown in percent and points."""
    return metric.startswith("pass@") or metric in ("exact_match", "ast_match")


def score_text(metric: str, value: object) -> str:
    """A score as a visitor reads it: "25.0%" for a rate, "0.452" for a similarity; "—" when unknown."""
    return number(value * 100, ".1f") + "%" if is_rate(metric) and number(value, "f") != MISSING else (
        number(value, ".3f"))


def difference_text(metric: str, value: object) -> str:
    """A difference: "+12.5 points" for a rate, "+0.070" otherwise; "—" when unknown."""
    if number(value, "f") == MISSING:
        return MISSING
    return f"{value * 100:+.1f} points" if is_rate(metric) else f"{value:+.3f}"


def headline_metrics(results: dict) -> list[str]:
    """The metrics the arm cards show large: pass@1 and the largest pass@k the run scored (the first metric
    when it scored no pass@k)."""
    passes = sorted((m for m in results["metrics"] if m.startswith("pass@") and m[5:].isdigit()),
                    key=lambda m: int(m[5:]))
    if not passes:
        return results["metrics"][:1]
    return [passes[0], passes[-1]] if len(passes) > 1 else passes


def final_loss(results: dict, arm: str) -> float | None:
    """The arm's last training loss: the mean over its runs (folds x seeds) when it has several."""
    entry = (results.get("training") or {}).get(arm) or {}
    runs = [r for r in entry.get("runs") or [] if isinstance(r, dict)] or [entry]
    losses = []
    for run in runs:
        loss = run.get("finalLoss")
        if not isinstance(loss, int | float):
            logged = [h["loss"] for h in run.get("history") or [] if isinstance(h.get("loss"), int | float)]
            loss = logged[-1] if logged else None
        if isinstance(loss, int | float) and math.isfinite(loss):
            losses.append(float(loss))
    return sum(losses) / len(losses) if losses else None


def interval_of(results: dict, metric: str) -> tuple[float, float] | None:
    """The 95% interval of experiment − control for a metric, when the run computed one."""
    significance = (results.get("significance") or {}).get(metric) or {}
    interval = significance.get("bootstrap") or significance.get("interval") or {}
    low, high = interval.get("low"), interval.get("high")
    if number(low, "f") == MISSING or number(high, "f") == MISSING:
        return None
    return float(low), float(high)


def arm_difference(results: dict, arm: str, metric: str) -> float | None:
    """arm − control for one metric (the experiment's recorded improvement when there is one)."""
    if arm == "experiment":
        return absolute_improvement(results, metric)
    value, control = results[arm].get(metric), results["control"].get(metric)
    if isinstance(value, int | float) and isinstance(control, int | float):
        return float(value - control)
    return None


def change_sentence(results: dict, arm: str, metric: str) -> str:
    """The design's headline line for one arm: "pass@1 12.5% → 25.0%, +12.5 points (95% interval −2.0 to
    +30.0)"; the interval only for experiment − control, the comparison the run tested."""
    before, after = score_text(metric, results["control"].get(metric)), score_text(metric, results[arm].get(metric))
    text = f"{metric} {before} → {after}, {difference_text(metric, arm_difference(results, arm, metric))}"
    interval = interval_of(results, metric) if arm == "experiment" else None
    if interval:
        scale, unit = (100, ".1f") if is_rate(metric) else (1, ".3f")
        text += f" (95% interval {interval[0] * scale:+{unit}} to {interval[1] * scale:+{unit}})"
    return text


def detectable_difference(results: dict) -> str:
    """How small a difference the run could have detected, in words: the minimum detectable pass@1
    difference (5% significance, 80% power) from the run's own spread when it measured one, else from the
    design's stated assumptions."""
    power = results.get("power") or {}
    metric = next((m for m in results["metrics"] if m == "pass@1"), results["metrics"][0])
    observed = ((power.get("observedMdd") or {}).get(metric))
    if observed is None:
        observed = ((results.get("significance") or {}).get(metric) or {}).get("mdd")
    design = power.get("design") or {}
    evaluation = results.get("evaluation") or {}
    size = []
    if evaluation.get("problems") or design.get("problems"):
        size.append(f"{evaluation.get('problems') or design.get('problems')} test problems")
    if evaluation.get("samples") or design.get("samples"):
        samples = evaluation.get("samples") or design.get("samples")
        size.append(f"{samples} sample{'s' if samples != 1 else ''} each")
    if evaluation.get("seeds") or design.get("seeds"):
        seeds = evaluation.get("seeds") or design.get("seeds")
        size.append(f"{seeds} training seed{'s' if seeds != 1 else ''}")
    with_size = f"With {', '.join(size)}, this" if size else "This"
    if number(observed, "f") != MISSING and observed > 0:
        source, mdd = "judged from the spread of this run's own scores", float(observed)
    elif number(design.get("mdd"), "f") != MISSING and metric.startswith("pass@"):
        source, mdd = "judged from the design's stated assumptions", float(design["mdd"])
    else:
        return "The run did not record how small a difference it could have detected."
    amount = f"{mdd * 100:.0f} percentage points" if is_rate(metric) else f"{mdd:.3f}"
    return (f"{with_size} run could only reliably detect {metric} differences larger than about {amount} "
            f"({source}; 5% significance, 80% power). A smaller real effect could go unseen.")
