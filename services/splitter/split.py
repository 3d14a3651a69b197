"""Records -> train/validation/test splits and one dataset per arm, deterministic for a seed.

Splits group by source file, so no file contributes to two splits. Arms differ only in what metadata
their prompts render: control none, experiment all, placebo another record's (same split), so every
other byte (code, completion, order) is identical across arms.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from services.common.artifacts import write_json, write_jsonl
from services.splitter.template import arm_input

SPLITS = ("train", "validation", "test")
REQUIRED = ("id", "prompt", "completion", "metadata", "language", "provenance")


def validate(records: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """(good, rejects): required fields present and non-empty, ids unique, exact duplicates dropped."""
    good, rejects = [], []
    seen_ids: set[str] = set()
    seen_code: set[str] = set()
    for index, record in enumerate(records):
        where = record.get("id", f"row {index + 1}") if isinstance(record, dict) else f"row {index + 1}"
        if not isinstance(record, dict):
            rejects.append({"item": where, "reason": "not a JSON object"})
            continue
        missing = [k for k in REQUIRED if not record.get(k) and record.get(k) != {}]
        if missing:
            rejects.append({"item": where, "reason": f"missing {', '.join(missing)}"})
            continue
        if not str(record["completion"]).strip():
            rejects.append({"item": where, "reason": "empty completion"})
            continue
        if record["id"] in seen_ids:
            rejects.append({"item": where, "reason": "duplicate id"})
            continue
        digest = hashlib.sha256((record["prompt"] + "\0" + record["completion"]).encode()).hexdigest()
        if digest in seen_code:
            rejects.append({"item": where, "reason": "exact duplicate of an earlier record"})
            continue
        seen_ids.add(record["id"])
        seen_code.add(digest)
        good.append(record)
    return good, rejects


def group_key(record: dict) -> str:
    """The unit that never spans splits: the source file."""
    prov = record["provenance"]
    return f"{prov.get('repository', '')}/{prov.get('path', '')}"


def assign_splits(records: list[dict], ratios: tuple[float, float, float], seed: int) -> dict[str, list[dict]]:
    """Shuffle file groups with the seed, then fill train, validation, test to the ratios by record count."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        groups[group_key(record)].append(record)
    # Hash-ordering (not set order, not insertion order) makes the result independent of input order.
    keys = sorted(groups, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    total = len(records)
    bounds = (ratios[0] * total, (ratios[0] + ratios[1]) * total)
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    placed = 0
    for key in keys:
        split = "train" if placed < bounds[0] else "validation" if placed < bounds[1] else "test"
        out[split].extend(sorted(groups[key], key=lambda r: r["id"]))
        placed += len(groups[key])
    return out


def placebo_metadata(rows: list[dict], seed: int) -> list[dict]:
    """Metadata shuffled across the rows (a derangement where possible), deterministic for the seed."""
    metas = [r["metadata"] for r in rows]
    if len(metas) < 2:
        return metas
    order = list(range(len(metas)))
    rng = random.Random(seed)
    rng.shuffle(order)
    # Rotating a shuffled order by one guarantees no row keeps its own metadata.
    return [metas[order[(order.index(i) + 1) % len(order)]] for i in range(len(metas))]


def build_arm(rows: list[dict], arm: str, split: str, test_metadata: str, seed: int) -> list[dict]:
    """Rows of one arm and split, each with `arm` and `input` (the prompt the model sees)."""
    render = arm != "control" and (split != "test" or test_metadata == "rendered")
    metas = placebo_metadata(rows, seed) if arm == "placebo" else [r["metadata"] for r in rows]
    return [
        {**row, "arm": arm, "input": arm_input(row["prompt"], meta if render else None, row["language"])}
        for row, meta in zip(rows, metas, strict=True)
    ]


def split_records(
    records: Iterable[dict],
    out_dir: Path,
    seed: int = 1234,
    ratios: tuple[float, float, float] = (0.70, 0.15, 0.15),
    arms: Iterable[str] = ("control", "experiment"),
    test_metadata: str = "none",
) -> dict:
    """Write `datasets/<arm>/<split>.jsonl` under `out_dir` and `split_report.json`; returns the report."""
    good, rejects = validate(records)
    splits = assign_splits(good, ratios, seed)
    counts = []
    for arm in arms:
        for split in SPLITS:
            rows = build_arm(splits[split], arm, split, test_metadata, seed)
            write_jsonl(out_dir / "datasets" / arm / f"{split}.jsonl", rows)
            counts.append({"arm": arm, "split": split, "rows": len(rows)})
    files = {s: {group_key(r) for r in splits[s]} for s in SPLITS}
    report = {
        "seed": seed,
        "ratios": list(ratios),
        "arms": list(arms),
        "testMetadata": test_metadata,
        "records": len(good),
        "counts": counts,
        "rejects": rejects,
        "filesSpanningSplits": len((files["train"] & files["test"]) | (files["train"] & files["validation"])
                                   | (files["validation"] & files["test"])),
    }
    write_json(out_dir / "split_report.json", report)
    return report
