"""Which training an out_dir holds, and where a killed one resumes.

The library writes the resumable checkpoints (`<out_dir>/resume/checkpoint-<step>/`: weights or adapter,
optimizer, scheduler, each process's RNG state and `trainer_state.json`, which holds the data position
and the log history). It writes `trainer_state.json` after everything else but renames nothing, so a kill
during a save leaves a folder without it: the newest folder that has it is the resume point.

`<out_dir>/mlflow_run.json` names the training (a fingerprint of config, arm and data) and its MLflow
run: a re-run with anything else starts over in a new run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from commentslab.services.common.logs import setup_logging

log = setup_logging(__name__)

STATE = "trainer_state.json"
_STEP = re.compile(r"^checkpoint-(\d+)$")


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


def latest(root: Path) -> tuple[Path, int] | None:
    """The newest complete checkpoint under `root` and its step, or None."""
    if not root.is_dir():
        return None
    found = sorted(((int(m.group(1)), p) for p in root.iterdir() if (m := _STEP.match(p.name)) and p.is_dir()),
                   reverse=True)
    for step, folder in found:
        try:
            json.loads((folder / STATE).read_text(encoding="utf-8"))
            return folder, step
        except (OSError, ValueError):
            log.warning("checkpoint %s is incomplete (killed while saving); trying an older one", folder)
    return None
