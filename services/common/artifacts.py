"""The one artifact store: URIs in, paths and JSON out, every step's output with a manifest.

Only `file://` (and plain paths) are served here; `az://container/path` is the cluster's store and is
refused with a clear error until that backend lands.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from services.common.errors import InputError

MANIFEST = "manifest.json"
REPO_ROOT = Path(__file__).resolve().parents[2]


def to_path(uri: str | Path) -> Path:
    """The local path of a `file://` URI or plain path."""
    text = str(uri)
    parsed = urlparse(text)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme == "file" else text)
    raise InputError(text, f"URI scheme {parsed.scheme!r} is not supported here; use a file:// URI or a path")


def to_uri(path: str | Path) -> str:
    """The `file://` URI of a local path."""
    return Path(path).resolve().as_uri()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, or of a folder's files (names and bytes, sorted)."""
    digest = hashlib.sha256()
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in paths:
        if path.is_dir():
            digest.update(str(p.relative_to(path)).encode())
        with p.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_json(path: Path) -> dict:
    """A JSON file as a dict, or an InputError naming the file and the reason."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(str(path), "file does not exist") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), f"not readable as JSON ({exc})") from exc


def write_json(path: Path, data: object) -> Path:
    """Write JSON atomically (temp file + rename) so a killed run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_jsonl(path: Path) -> Iterator[dict]:
    """Rows of a JSONL file; a malformed line raises an InputError naming the file and line."""
    if not path.is_file():
        raise InputError(str(path), "file does not exist")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{number}", f"not valid JSON ({exc.msg})") from exc


def write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    """Write rows as JSONL atomically; returns the number written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def code_version() -> str:
    """The git commit of the code (with `-dirty` when the tree has changes), or `unknown`."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit + ("-dirty" if dirty else "")) if commit else "unknown"


@dataclass
class Manifest:
    """What a step's output was made from: a step whose manifest matches is skipped on re-run."""

    step: str
    inputs: dict[str, str]  # name -> sha256 of the input file or folder
    config: dict
    code_version: str = field(default_factory=code_version)
    outputs: dict = field(default_factory=dict)

    def key(self) -> dict:
        """The fields that decide whether a rerun can reuse the output."""
        return {"step": self.step, "inputs": self.inputs, "config": self.config, "code": self.code_version}


def manifest_for(step: str, inputs: dict[str, Path], config: dict) -> Manifest:
    """A manifest naming each input by its content hash."""
    return Manifest(step=step, inputs={k: sha256_file(p) for k, p in inputs.items()}, config=config)


def completed(out_dir: Path, manifest: Manifest) -> dict | None:
    """The stored outputs when `out_dir` holds a manifest with the same key, else None."""
    path = out_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    same = {k: stored.get(k) for k in ("step", "inputs", "config")} == {
        k: v for k, v in manifest.key().items() if k != "code"
    } and stored.get("code_version") == manifest.code_version
    # A dirty tree can't promise the code is the same, so it never reuses.
    if same and not manifest.code_version.endswith("-dirty") and manifest.code_version != "unknown":
        return stored.get("outputs", {})
    return None


def write_manifest(out_dir: Path, manifest: Manifest) -> Path:
    """Record that `out_dir` is complete for this manifest; written last, after the outputs."""
    return write_json(out_dir / MANIFEST, asdict(manifest))
