"""Checkpoint URIs to local folders: file:// and paths as they are, az:// folders downloaded to a cache once."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from commentslab.services.common.artifacts import is_blob, list_files, read_bytes, to_path
from commentslab.services.common.errors import InputError
from commentslab.services.common.logs import setup_logging
from commentslab.services.common.models import CHECKPOINT_INFO, cache_dir

log = setup_logging(__name__)
COMPLETE = ".download-complete"


class CheckpointNotFound(InputError):
    """A checkpoint URI with nothing behind it."""


def local_checkpoint(uri: str | Path) -> Path:
    """A local folder holding the checkpoint at `uri` (an az:// prefix is downloaded under the cache once)."""
    if not is_blob(str(uri)):
        path = to_path(uri)
        if not path.exists():
            raise CheckpointNotFound(str(uri), "does not exist; pass the checkpoint folder the trainer wrote")
        if not path.is_dir():
            raise InputError(str(uri), "is a file, not a checkpoint folder")
        return path
    prefix = str(uri).rstrip("/")
    target = cache_dir() / "checkpoints" / hashlib.sha256(prefix.encode()).hexdigest()[:16]
    if (target / COMPLETE).is_file():
        return target
    blobs = [str(b) for b in list_files(prefix)]
    if not blobs:
        raise CheckpointNotFound(prefix, "holds no blobs; pass the checkpoint prefix the trainer wrote")
    if not any(b.endswith("/" + CHECKPOINT_INFO) for b in blobs):
        raise InputError(prefix, f"is not a commentslab checkpoint (no {CHECKPOINT_INFO})")
    log.info("downloading %d blobs of %s to %s", len(blobs), prefix, target)
    for blob in blobs:
        local = target / blob[len(prefix) + 1:]
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(local.name + ".part")
        tmp.write_bytes(read_bytes(blob))
        os.replace(tmp, local)
    (target / COMPLETE).write_text(prefix, encoding="utf-8")
    return target
