"""Quality gates on exported records: real linters on the code, and how complete each record's metadata is.

- Python: Pylint, errors only (`--errors-only`), without the checks that depend on what is installed
  here (import-error, no-name-in-module, relative-beyond-top-level).
- JavaScript / TypeScript / TSX: ESLint (parse errors; typescript-eslint's parser for TS) plus the
  TypeScript compiler's syntax diagnostics, from `make node-deps` (.tools/node).
Each linter runs once per batch of source files (the scrubbed files the records were cut from); a
message counts against a record when its line falls inside the record's code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from commentslab.services.common.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = Path(os.environ.get("COMMENTSLAB_NODE_MODULES", REPO_ROOT / ".tools" / "node" / "node_modules"))
LINT_SCRIPT = Path(__file__).with_name("lint_scripts.mjs")
PYLINT_DISABLED = ("import-error", "no-name-in-module", "relative-beyond-top-level")
SCRIPT_LANGUAGES = {"javascript", "typescript", "tsx"}
LINT_TIMEOUT = 1800

COMPLETENESS_CHECKS = ("text", "tag", "params", "complexity", "tokens", "parameters", "author", "anchor")


def metadata_completeness(metadata: dict, has_author: bool, has_anchor_hash: bool) -> tuple[float, list[str]]:
    """(score in [0, 1], missing parts): the share of the eight metadata parts a record carries.

    Parts: comment text, tag, params, aiMetadata's complexity, tokens and parameters, an author, and a
    ghost-marker line hash (an anchor that survives edits).
    """
    ai = metadata.get("aiMetadata") or {}
    present = {
        "text": bool(str(metadata.get("text") or "").strip()),
        "tag": bool(metadata.get("tag")),
        "params": bool(metadata.get("params")),
        "complexity": ai.get("complexity") not in (None, "", {}),
        "tokens": ai.get("tokens") not in (None, "", {}),
        "parameters": ai.get("parameters") not in (None, "", {}),
        "author": has_author,
        "anchor": has_anchor_hash,
    }
    missing = [name for name in COMPLETENESS_CHECKS if not present[name]]
    return round(1 - len(missing) / len(COMPLETENESS_CHECKS), 3), missing


def eslint_available() -> bool:
    """True when `make node-deps` has installed ESLint and node is on PATH."""
    from shutil import which

    return which("node") is not None and (NODE_MODULES / "eslint").is_dir()


def lint_python(files: dict[str, str]) -> dict[str, list[dict]]:
    """name -> Pylint error messages [{line, column, message, symbol}] for Python sources."""
    if not files:
        return {}
    with tempfile.TemporaryDirectory(prefix="commentslab-pylint-") as tmp:
        names = {}
        for index, (name, text) in enumerate(files.items()):
            path = Path(tmp) / f"m{index:06d}.py"
            path.write_text(text, encoding="utf-8")
            names[str(path)] = name
        command = [sys.executable, "-m", "pylint", "--errors-only", "--output-format=json",
                   f"--disable={','.join(PYLINT_DISABLED)}", "--persistent=n", "--score=n",
                   f"--jobs={min(2, os.cpu_count() or 1)}", *names]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=LINT_TIMEOUT, cwd=tmp)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InputError("pylint", f"could not run ({exc})") from exc
        # Pylint's exit status is a bit mask of message kinds; 32 means it could not run at all.
        if done.returncode & 32 or (done.returncode and not done.stdout.strip()):
            raise InputError("pylint", f"failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
        out: dict[str, list[dict]] = {name: [] for name in files}
        for message in json.loads(done.stdout or "[]"):
            name = names.get(str(Path(tmp) / Path(message.get("path", "")).name))
            if name is not None:
                out[name].append({"line": message.get("line", 0), "column": message.get("column", 0),
                                  "message": message.get("message", ""), "symbol": message.get("symbol", "")})
        return out


def lint_scripts(files: dict[str, tuple[str, str]]) -> dict[str, list[dict]]:
    """name -> ESLint/TypeScript syntax errors [{line, column, message}] for (language, text) sources."""
    if not files:
        return {}
    if not eslint_available():
        raise InputError(str(NODE_MODULES), "ESLint is not installed; run `make node-deps`")
    payload = json.dumps([{"name": n, "language": lang, "text": text} for n, (lang, text) in files.items()])
    try:
        done = subprocess.run(["node", str(LINT_SCRIPT), str(NODE_MODULES)], input=payload, capture_output=True,
                              text=True, timeout=LINT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError("eslint", f"could not run ({exc})") from exc
    if done.returncode:
        raise InputError("eslint", f"failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout)


def lint_sources(sources: Iterable[tuple[str, str, str]]) -> dict[str, list[dict]]:
    """name -> error messages for (name, language, text) sources, each linted by its language's linter."""
    python, scripts = {}, {}
    for name, language, text in sources:
        if language == "python":
            python[name] = text
        elif language in SCRIPT_LANGUAGES:
            scripts[name] = (language, text)
    return {**lint_python(python), **lint_scripts(scripts)}


def messages_in(messages: list[dict], start: int, end: int) -> list[dict]:
    """The messages whose line lies in start..end (1-based, inclusive)."""
    return [m for m in messages if start <= int(m.get("line") or 0) <= end]
