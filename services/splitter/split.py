"""Records -> train/validation/test splits (or K folds) and one dataset per arm, deterministic for a seed.

Splits group by source file (or by repository), so no group contributes to two splits; groups are
shuffled by a seeded hash and dealt out per stratum (language, scenario), so every split has its share
of each. Exact duplicates are dropped everywhere; near-duplicates (MinHash over code shingles) are
removed from the later split when they would cross a split boundary. Arms are data (arms.yaml): each
names which metadata parts its prompts render, so every other byte (code, completion, order) is
identical across arms.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from commentslab.services.common.artifacts import (
    Location,
    is_blob,
    read_jsonl,
    to_path,
    write_json,
    write_jsonl,
)
from commentslab.services.common.config import SplitOptions
from commentslab.services.common.errors import InputError
from commentslab.services.common.layout import review_queue, split_dataset_file, split_report
from commentslab.services.review.queue import ACCEPTED, REJECTED
from commentslab.services.splitter.template import arm_input

SPLITS = ("train", "validation", "test")
REQUIRED = ("id", "prompt", "completion", "metadata", "language", "provenance")
ARMS_FILE = Path(__file__).with_name("arms.yaml")
METADATA_PARTS = ("text", "params", "aiMetadata")
GROUP_BY = ("file", "repository")
DEFAULT_NEAR_DUP = SplitOptions.model_fields["near_duplicate_threshold"].default
_TOKEN = re.compile(r"\w+|[^\w\s]")
_SHINGLE = 5
_NUM_PERM = 64

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ArmSpec:
    """An arm: which metadata parts its prompts render, and whether they come from another record."""

    name: str
    render: tuple[str, ...] = ()
    shuffle: bool = False


def load_arms(path: Path | None = None) -> dict[str, ArmSpec]:
    """Arm name -> spec from a YAML file (default: the shipped arms.yaml)."""
    path = Path(path) if path else ARMS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(str(path), f"cannot read the arms file ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(str(path), "the arms file must map arm names to {render: [...], shuffle: bool}")
    specs = {}
    for name, spec in data.items():
        spec = spec or {}
        render = spec.get("render") or [] if isinstance(spec, dict) else None
        if not isinstance(render, list) or any(part not in METADATA_PARTS for part in render):
            raise InputError(str(path), f"arm {name!r}: render must be a list of {', '.join(METADATA_PARTS)}")
        specs[str(name)] = ArmSpec(str(name), tuple(render), bool(spec.get("shuffle", False)))
    return specs


def resolve_arms(arms: Iterable[str | ArmSpec], specs: dict[str, ArmSpec] | None = None) -> list[ArmSpec]:
    """The specs of the named arms, or an InputError naming an unknown one and the known ones."""
    specs = specs if specs is not None else load_arms()
    out = []
    for arm in arms:
        if isinstance(arm, ArmSpec):
            out.append(arm)
        elif arm in specs:
            out.append(specs[arm])
        else:
            raise InputError(f"arm {arm!r}", f"is not defined; known arms: {', '.join(sorted(specs))}")
    if not out:
        raise InputError("arms", "at least one arm is needed")
    return out


def select_metadata(metadata: dict, parts: Iterable[str]) -> dict | None:
    """The parts of a record's metadata an arm renders (`text` brings its tag), or None for none."""
    parts = set(parts)
    if not parts:
        return None
    out: dict = {}
    if "text" in parts:
        out["text"], out["tag"] = metadata.get("text"), metadata.get("tag")
    if "params" in parts:
        out["params"] = metadata.get("params") or {}
    if "aiMetadata" in parts:
        out["aiMetadata"] = metadata.get("aiMetadata") or {}
    return out


def _flags(record: dict) -> list[str]:
    quality = record.get("quality")
    return list(quality.get("flags") or []) if isinstance(quality, dict) else []


def validate(records: Iterable[dict], review: dict[str, str] | None = None) -> tuple[list[dict], list[dict]]:
    """(good, rejects): required fields present, ids unique, exact duplicates dropped, review decisions applied.

    A record the exporter flagged goes in only once a reviewer accepted it; one a reviewer rejected
    never goes in.
    """
    review = review or {}
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
        decision = review.get(record["id"])
        if decision == REJECTED:
            rejects.append({"item": where, "reason": "rejected in review"})
            continue
        flags = _flags(record)
        if flags and decision != ACCEPTED:
            rejects.append({"item": where, "reason": f"held for review ({'; '.join(flags)})"})
            continue
        digest = hashlib.sha256((record["prompt"] + "\0" + record["completion"]).encode()).hexdigest()
        if digest in seen_code:
            rejects.append({"item": where, "reason": "exact duplicate of an earlier record"})
            continue
        seen_ids.add(record["id"])
        seen_code.add(digest)
        good.append(record)
    return good, rejects


def group_key(record: dict, group_by: str = "file") -> str:
    """The unit that never spans splits: the source file, or the whole repository."""
    prov = record["provenance"]
    if group_by == "repository":
        return str(prov.get("repository", ""))
    return f"{prov.get('repository', '')}/{prov.get('path', '')}"


def stratum(record: dict) -> tuple[str, str]:
    """What each split should hold its share of: (language, scenario)."""
    return str(record.get("language", "")), str(record.get("scenario", ""))


def _hash_order(keys: Iterable[str], salt: str) -> list[str]:
    # Hash order (not set or input order) makes the result independent of input order.
    return sorted(keys, key=lambda k: (hashlib.sha256(f"{salt}:{k}".encode()).hexdigest(), k))


def _groups_by_stratum(groups: dict[str, list[dict]]) -> dict[tuple[str, str], list[str]]:
    by_stratum: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key, rows in groups.items():
        # A group of mixed languages counts where most of its records are (ties: the smallest).
        counts = Counter(stratum(r) for r in rows)
        by_stratum[min(counts, key=lambda s: (-counts[s], s))].append(key)
    return by_stratum


def _fill(groups: dict[str, list[dict]], names: tuple[str, ...], fractions: tuple[float, ...],
          salt: str) -> dict[str, list[str]]:
    """Deal groups, per stratum in seeded hash order, to `names` until each holds its fraction of records."""
    out: dict[str, list[str]] = {name: [] for name in names}
    for _, keys in sorted(_groups_by_stratum(groups).items()):
        total = sum(len(groups[k]) for k in keys)
        bounds = [sum(fractions[: i + 1]) * total for i in range(len(names))]
        placed = 0
        for key in _hash_order(keys, salt):
            index = next((i for i, b in enumerate(bounds) if placed < b - 1e-9), len(names) - 1)
            out[names[index]].append(key)
            placed += len(groups[key])
    return out


def _group(records: list[dict], group_by: str) -> dict[str, list[dict]]:
    if group_by not in GROUP_BY:
        raise InputError("group_by", f"{group_by!r} is not one of {', '.join(GROUP_BY)}")
    groups: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        groups[group_key(record, group_by)].append(record)
    return groups


def _rows(groups: dict[str, list[dict]], keys: Iterable[str]) -> list[dict]:
    return [r for key in sorted(keys) for r in sorted(groups[key], key=lambda r: r["id"])]


def assign_splits(records: list[dict], ratios: tuple[float, float, float], seed: int,
                  group_by: str = "file") -> dict[str, list[dict]]:
    """Group records, then deal the groups of each stratum to train, validation, test by the ratios."""
    _check_ratios(ratios)
    groups = _group(records, group_by)
    dealt = _fill(groups, SPLITS, tuple(ratios), str(seed))
    return {split: _rows(groups, dealt[split]) for split in SPLITS}


def _check_ratios(ratios: tuple[float, ...]) -> None:
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise InputError("ratios", f"{list(ratios)}: need three non-negative numbers (train, validation, test) "
                                   "summing to 1")


# ---- near-duplicates -------------------------------------------------------------------------------------

def code_shingles(record: dict) -> set[bytes]:
    """Token 5-grams of the code a record asks for: the end of its prompt (signature, docstring) and completion.

    Not the whole prompt: files that open with the same licence header are not duplicates.
    """
    head = "\n".join(str(record.get("prompt", "")).splitlines()[-15:])
    tokens = _TOKEN.findall(head + "\n" + str(record.get("completion", "")))
    if len(tokens) < _SHINGLE:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i : i + _SHINGLE]).encode() for i in range(len(tokens) - _SHINGLE + 1)}


_PERMUTATIONS: list = []


def _minhash(shingles: set[bytes]):
    from datasketch import MinHash

    if not _PERMUTATIONS:  # drawing the permutations dominates a small MinHash's cost: draw them once
        template = MinHash(num_perm=_NUM_PERM, seed=1)
        _PERMUTATIONS.append((template.permutations, template.scheme))
    permutations, scheme = _PERMUTATIONS[0]
    m = MinHash(num_perm=_NUM_PERM, seed=1, permutations=permutations, scheme=scheme)
    m.update_batch(shingles)
    return m


class NearDuplicateIndex:
    """MinHash LSH over records' code shingles: which indexed records a record nearly duplicates."""

    def __init__(self, threshold: float = DEFAULT_NEAR_DUP, signatures: dict[str, object] | None = None):
        from datasketch import MinHashLSH

        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=_NUM_PERM)
        # Shared between the indexes of one run, so each record is hashed once.
        self._hashes: dict[str, object] = signatures if signatures is not None else {}

    def signature(self, record: dict):
        """The record's MinHash (cached by id)."""
        if record["id"] not in self._hashes:
            self._hashes[record["id"]] = _minhash(code_shingles(record))
        return self._hashes[record["id"]]

    def add(self, record: dict) -> None:
        """Index a record."""
        if record["id"] not in self._lsh:
            self._lsh.insert(record["id"], self.signature(record))

    def matches(self, record: dict) -> list[str]:
        """Ids of indexed records whose estimated Jaccard similarity with `record` reaches the threshold."""
        mine = self.signature(record)
        return sorted(k for k in self._lsh.query(mine)
                      if k != record["id"] and mine.jaccard(self._hashes[k]) >= self.threshold)


def remove_cross_split_near_duplicates(splits: dict[str, list[dict]], threshold: float,
                                       signatures: dict | None = None) -> list[dict]:
    """Drop validation/test records that nearly duplicate a record of an earlier split; returns what was dropped."""
    index = NearDuplicateIndex(threshold, signatures)
    removed = []
    for split in SPLITS:
        if split != "train":
            kept = []
            for record in splits[split]:
                twins = index.matches(record)
                if twins:
                    removed.append({"item": record["id"], "split": split, "nearDuplicateOf": twins[0],
                                    "reason": f"near-duplicate of {twins[0]} in an earlier split"})
                else:
                    kept.append(record)
            splits[split] = kept
        for record in splits[split]:
            index.add(record)
    return removed


def _merge_near_duplicate_groups(groups: dict[str, list[dict]], threshold: float,
                                 signatures: dict | None = None) -> tuple[dict[str, list[dict]], int]:
    """Union groups whose records nearly duplicate each other, so they land in one fold."""
    index = NearDuplicateIndex(threshold, signatures)
    parent = {k: k for k in groups}
    owner = {}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    merges = 0
    for key in sorted(groups):
        for record in groups[key]:
            for twin in index.matches(record):
                a, b = find(key), find(owner[twin])
                if a != b:
                    parent[max(a, b)] = min(a, b)
                    merges += 1
            index.add(record)
            owner[record["id"]] = key
    merged: dict[str, list[dict]] = defaultdict(list)
    for key in sorted(groups):
        merged[find(key)].extend(groups[key])
    return merged, merges


# ---- arms -------------------------------------------------------------------------------------------------

def placebo_metadata(rows: list[dict], seed: int) -> list[dict]:
    """Metadata shuffled across the rows (a derangement where possible), deterministic for the seed."""
    metas = [r["metadata"] for r in rows]
    if len(metas) < 2:
        return metas
    order = list(range(len(metas)))
    rng = random.Random(seed)
    rng.shuffle(order)
    position = {row: i for i, row in enumerate(order)}
    # Rotating a shuffled order by one guarantees no row keeps its own metadata.
    return [metas[order[(position[i] + 1) % len(order)]] for i in range(len(metas))]


def build_arm(rows: list[dict], arm: str | ArmSpec, split: str, test_metadata: str, seed: int) -> list[dict]:
    """Rows of one arm and split, each with `arm` and `input` (the prompt the model sees)."""
    spec = arm if isinstance(arm, ArmSpec) else resolve_arms([arm])[0]
    render = bool(spec.render) and (split != "test" or test_metadata == "rendered")
    metas = placebo_metadata(rows, seed) if spec.shuffle else [r["metadata"] for r in rows]
    return [
        {**row, "arm": spec.name,
         "input": arm_input(row["prompt"], select_metadata(meta, spec.render) if render else None, row["language"])}
        for row, meta in zip(rows, metas, strict=True)
    ]


def metadata_repeats_target(record: dict, min_chars: int = 25) -> bool:
    """True when the comment text quotes a line of the code the model must write (a leak at train time)."""
    text = str(record.get("metadata", {}).get("text") or "")
    return any(len(line.strip()) >= min_chars and line.strip() in text
               for line in str(record.get("completion", "")).splitlines())


def _write_arms(splits: dict[str, list[dict]], out_dir: Path | str, fold: int | None, arms: list[ArmSpec],
                test_metadata: str, seed: int, progress: ProgressFn | None) -> list[dict]:
    counts = []
    total = len(arms) * len(SPLITS)
    for arm in arms:
        for split in SPLITS:
            rows = build_arm(splits[split], arm, split, test_metadata, seed)
            write_jsonl(split_dataset_file(out_dir, fold, arm.name, split), rows)
            counts.append({"arm": arm.name, "split": split, "rows": len(rows)})
            if progress:
                progress("write", len(counts), total)
    return counts


def leakage_checks(splits: dict[str, list[dict]], group_by: str, threshold: float,
                   signatures: dict | None = None) -> dict:
    """What must not cross a split boundary, counted; every count 0 means the check passed."""
    files = {s: {group_key(r, "file") for r in splits[s]} for s in SPLITS}
    repos = {s: {group_key(r, "repository") for r in splits[s]} for s in SPLITS}
    code = {s: {hashlib.sha256((r["prompt"] + "\0" + r["completion"]).encode()).hexdigest() for r in splits[s]}
            for s in SPLITS}

    def crossing(sets: dict[str, set]) -> int:
        return len((sets["train"] & sets["validation"]) | (sets["train"] & sets["test"])
                   | (sets["validation"] & sets["test"]))

    index = NearDuplicateIndex(threshold, signatures)
    near = 0
    for split in SPLITS:
        if split != "train":
            near += sum(1 for r in splits[split] if index.matches(r))
        for r in splits[split]:
            index.add(r)
    checks = {
        "filesSpanningSplits": crossing(files),
        "exactDuplicatesAcrossSplits": crossing(code),
        "nearDuplicatesAcrossSplits": near,
    }
    if group_by == "repository":
        checks["repositoriesSpanningSplits"] = crossing(repos)
    return checks


def split_records(
    records: Iterable[dict],
    out_dir: Path | str,
    seed: int = 1234,
    ratios: tuple[float, float, float] = (0.70, 0.15, 0.15),
    arms: Iterable[str | ArmSpec] = ("control", "experiment"),
    test_metadata: str = "none",
    *,
    group_by: str = "file",
    near_duplicate_threshold: float = DEFAULT_NEAR_DUP,
    review: dict[str, str] | None = None,
    arm_specs: dict[str, ArmSpec] | None = None,
    progress: ProgressFn | None = None,
) -> dict:
    """Write `datasets/<arm>/<split>.jsonl` and `split_report.json` under `out_dir` (names from
    commentslab.services.common.layout); returns the report."""
    arm_list = resolve_arms(arms, arm_specs)
    _check_ratios(tuple(ratios))
    good, rejects = validate(records, review)
    if progress:
        progress("validate", len(good), len(good) + len(rejects))
    splits = assign_splits(good, tuple(ratios), seed, group_by)
    signatures: dict = {}
    near = remove_cross_split_near_duplicates(splits, near_duplicate_threshold, signatures)
    if progress:
        progress("dedupe", len(near), len(good))
    counts = _write_arms(splits, out_dir, None, arm_list, test_metadata, seed, progress)
    checks = leakage_checks(splits, group_by, near_duplicate_threshold, signatures)
    report = {
        "mode": "split",
        "seed": seed,
        "ratios": list(ratios),
        "groupBy": group_by,
        "arms": [a.name for a in arm_list],
        "armSpecs": {a.name: {"render": list(a.render), "shuffle": a.shuffle} for a in arm_list},
        "testMetadata": test_metadata,
        "records": sum(len(splits[s]) for s in SPLITS),
        "counts": counts,
        "strata": {s: dict(Counter("/".join(stratum(r)) for r in splits[s])) for s in SPLITS},
        "duplicatesRemoved": {
            "exact": sum(1 for r in rejects if r["reason"].startswith("exact duplicate")),
            "nearAcrossSplits": len(near),
        },
        "nearDuplicates": near,
        "rejects": rejects,
        "leakage": {**checks, "metadataRepeatsTarget": sum(metadata_repeats_target(r) for s in SPLITS
                                                           for r in splits[s])},
        "leakageChecksPassed": all(v == 0 for v in checks.values()),
        "filesSpanningSplits": checks["filesSpanningSplits"],
    }
    write_json(split_report(out_dir), report)
    return report


def split_folds(
    records: Iterable[dict],
    out_dir: Path | str,
    folds: int,
    seed: int,
    arms: Iterable[str | ArmSpec],
    test_metadata: str,
    *,
    ratios: tuple[float, float, float] = (0.70, 0.15, 0.15),
    group_by: str = "file",
    near_duplicate_threshold: float = DEFAULT_NEAR_DUP,
    review: dict[str, str] | None = None,
    arm_specs: dict[str, ArmSpec] | None = None,
    progress: ProgressFn | None = None,
) -> dict:
    """K-fold: write `folds/<i>/datasets/<arm>/{train,validation,test}.jsonl` for i in 0..K-1 and the whole
    split's `split_report.json`; returns the report.

    Groups (files, or repositories; near-duplicate groups merged) are dealt to K folds per stratum,
    each to the fold with the fewest records so far, so every record is in exactly one fold's test
    split. Fold i tests on its own groups; validation is carved from the rest at
    ratios[1] / (ratios[0] + ratios[1]) (0.15/0.85 by default), and the remainder trains.
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise InputError("folds", f"{folds!r}: k-fold needs an integer K of at least 2")
    arm_list = resolve_arms(arms, arm_specs)
    _check_ratios(tuple(ratios))
    good, rejects = validate(records, review)
    signatures: dict = {}
    groups, merges = _merge_near_duplicate_groups(_group(good, group_by), near_duplicate_threshold, signatures)
    if len(groups) < folds:
        raise InputError("folds", f"{folds} folds need at least {folds} groups ({group_by}s); there are {len(groups)}: "
                                  "lower data.folds or add records")
    fold_of: dict[str, int] = {}
    sizes = [0] * folds
    for _, keys in sorted(_groups_by_stratum(groups).items()):
        in_stratum = [0] * folds
        # Largest groups first keeps folds even; hash order breaks ties reproducibly.
        ordered = _hash_order(keys, f"{seed}:folds")
        for key in sorted(ordered, key=lambda k: -len(groups[k])):
            fold = min(range(folds), key=lambda f: (in_stratum[f], sizes[f], f))
            fold_of[key] = fold
            in_stratum[fold] += len(groups[key])
            sizes[fold] += len(groups[key])
    val_share = ratios[1] / (ratios[0] + ratios[1]) if ratios[0] + ratios[1] > 0 else 0.0
    fold_reports = []
    tested: Counter = Counter()
    for fold in range(folds):
        rest = {k: v for k, v in groups.items() if fold_of[k] != fold}
        dealt = _fill(rest, ("validation", "train"), (val_share, 1 - val_share), f"{seed}:fold{fold}")
        splits = {
            "train": _rows(groups, dealt["train"]),
            "validation": _rows(groups, dealt["validation"]),
            "test": _rows(groups, [k for k in groups if fold_of[k] == fold]),
        }
        tested.update(r["id"] for r in splits["test"])
        counts = _write_arms(splits, out_dir, fold, arm_list, test_metadata, seed, None)
        checks = leakage_checks(splits, group_by, near_duplicate_threshold, signatures)
        fold_report = {"fold": fold, "counts": counts, "records": {s: len(splits[s]) for s in SPLITS},
                       "leakage": checks, "leakageChecksPassed": all(v == 0 for v in checks.values())}
        write_json(split_report(out_dir, fold), fold_report)
        fold_reports.append(fold_report)
        if progress:
            progress("folds", fold + 1, folds)
    report = {
        "mode": "folds",
        "folds": folds,
        "seed": seed,
        "ratios": list(ratios),
        "groupBy": group_by,
        "arms": [a.name for a in arm_list],
        "armSpecs": {a.name: {"render": list(a.render), "shuffle": a.shuffle} for a in arm_list},
        "testMetadata": test_metadata,
        "records": len(good),
        "groups": len(groups),
        "nearDuplicateGroupsMerged": merges,
        "duplicatesRemoved": {"exact": sum(1 for r in rejects if r["reason"].startswith("exact duplicate"))},
        "rejects": rejects,
        "foldReports": fold_reports,
        "everyRecordTestedOnce": len(tested) == len(good) and all(n == 1 for n in tested.values()),
        "leakageChecksPassed": all(f["leakageChecksPassed"] for f in fold_reports),
    }
    write_json(split_report(out_dir), report)
    return report


def run_split(records: Location, out: Location, seed: int, options: SplitOptions,
              progress: ProgressFn | None = None) -> dict:
    """Split the JSONL `records` (local or az://) into `out` as `options` say: one split, or K folds.

    The review queue's decisions decide flagged records: `options.review_queue`, else the queue the
    export left beside local records, if any.
    """
    from commentslab.services.review.queue import ReviewQueue

    queue = Path(options.review_queue) if options.review_queue else None
    if queue is None and not is_blob(records) and review_queue(to_path(records)).is_file():
        queue = review_queue(to_path(records))
    common = {"group_by": options.group_by, "near_duplicate_threshold": options.near_duplicate_threshold,
              "review": ReviewQueue(queue).decisions() if queue else None,
              "arm_specs": load_arms(Path(options.arms_file)) if options.arms_file else None, "progress": progress}
    ratios = tuple(options.ratios)
    if options.folds > 1:
        return split_folds(read_jsonl(records), out, options.folds, seed, options.arms, options.test_metadata,
                           ratios=ratios, **common)
    return split_records(read_jsonl(records), out, seed, ratios, options.arms, options.test_metadata, **common)
