"""Resumable training checkpoints, written atomically under `<out_dir>/resume/`.

A checkpoint is a folder `step-00000040/` holding

  trainable.safetensors   the trained weights (the whole model in full fine-tuning, the adapter in LoRA)
  optimizer.pt            the optimizer state (DeepSpeed keeps its own, sharded, in `deepspeed/`)
  rng-rank<R>.pt          each process's torch (CPU and CUDA) and Python RNG states
  trainer_state.json      step, data order position, history, early-stopping state, MLflow run id and
                          the fingerprint of what was trained (config, arm, dataset), written last

It is written to `step-00000040.tmp/`, renamed into place, and then `latest` names it (written to a
temporary file and renamed, so a kill at any moment leaves the previous checkpoint or the new one, never
half of one). Older checkpoints beyond `keep` are removed. The learning-rate schedule is a pure function
of the step, so the step is the scheduler's position.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from services.common.logs import setup_logging

log = setup_logging(__name__)

STATE = "trainer_state.json"
LATEST = "latest"


def fingerprint(config: dict, arm: str, dataset_files: list[Path]) -> str:
    """What a checkpoint was trained from: resuming with anything else starts over."""
    digest = hashlib.sha256(json.dumps({"config": config, "arm": arm}, sort_keys=True).encode())
    for path in dataset_files:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def write_json_atomic(path: Path, data) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def step_dir(root: Path, step: int) -> Path:
    return root / f"step-{step:08d}"


def begin(root: Path, step: int) -> Path:
    """A fresh temporary folder for the checkpoint of `step` (every process writes into the same one)."""
    tmp = root / f"step-{step:08d}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return tmp


def clear_temporary(root: Path, step: int) -> None:
    """Remove a temporary folder left by a kill, before the checkpoint of `step` is written again."""
    tmp = root / f"step-{step:08d}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)


def commit(root: Path, tmp: Path, step: int, state: dict, keep: int) -> Path:
    """Write the state file last, move the folder into place, point `latest` at it, prune old ones."""
    write_json_atomic(tmp / STATE, state)
    final = step_dir(root, step)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    tmp_latest = root / f"{LATEST}.tmp{os.getpid()}"
    tmp_latest.write_text(final.name, encoding="utf-8")
    os.replace(tmp_latest, root / LATEST)
    for old in sorted(p for p in root.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def latest(root: Path) -> tuple[Path, dict] | None:
    """The newest complete checkpoint (folder, state), or None."""
    if not root.is_dir():
        return None
    candidates = []
    pointer = root / LATEST
    if pointer.is_file():
        candidates.append(root / pointer.read_text(encoding="utf-8").strip())
    candidates += sorted((p for p in root.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp")),
                         reverse=True)
    for folder in candidates:
        try:
            return folder, json.loads((folder / STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("checkpoint %s is incomplete; trying an older one", folder)
    return None
