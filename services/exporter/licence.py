"""The licence gate: which licence a repository is under, and whether the design lets us train on it.

Where the licence comes from, first hit wins:
1. an `SPDX-License-Identifier:` line in a LICENSE/LICENCE/COPYING file;
2. the text of that file, matched against the SPDX licence texts the way `identify` (pre-commit's detector)
   does: exact match after normalising, else under 5% edit distance;
3. the `license` of package.json, or of pyproject.toml's [project].
The expression is parsed with `license-expression` (SPDX): `A OR B` is allowed when either side is,
`A AND B` only when both are. A repository with no licence is excluded: "no licence" means no grant.
"""

from __future__ import annotations

import json
import math
import re
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFAULT_ALLOWED = ("MIT", "Apache-2.0")
LICENCE_FILE = re.compile(r"^(licen[cs]e|copying)([.-].*)?$", re.IGNORECASE)
SPDX_LINE = re.compile(r"SPDX-License-Identifier:\s*([^\n*]+?)\s*(?:\*/|-->)?\s*$", re.MULTILINE)
MAX_LICENCE_BYTES = 256 * 1024


@dataclass(frozen=True)
class LicenceVerdict:
    """A repository's licence, where it was found, and whether the gate lets it through."""

    repository: str
    spdx: str | None
    source: str | None  # the file it came from
    allowed: bool
    reason: str

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"repository": self.repository, "licence": self.spdx, "source": self.source,
                "allowed": self.allowed, "reason": self.reason}


@cache
def _licensing():
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def _allowed(expression, allowed: frozenset[str]) -> bool:
    from license_expression import AND, OR, LicenseSymbol, LicenseWithExceptionSymbol

    if isinstance(expression, LicenseWithExceptionSymbol):
        return _allowed(expression.license_symbol, allowed)
    if isinstance(expression, LicenseSymbol):
        return expression.key.lower() in allowed
    if isinstance(expression, OR):
        return any(_allowed(arg, allowed) for arg in expression.args)
    if isinstance(expression, AND):
        return all(_allowed(arg, allowed) for arg in expression.args)
    return False


def evaluate(expression: str, allowed: tuple[str, ...] | list[str] = DEFAULT_ALLOWED) -> tuple[bool, str, str]:
    """(allowed, normalised expression, reason) for an SPDX expression."""
    plain = {a.lower(): a for a in allowed}.get(expression.strip().lower())
    if plain is not None:  # one allowed id, the common case: no need to load the SPDX index (0.2 s)
        return True, plain, f"{plain} is allowed"
    licensing = _licensing()
    try:
        parsed = licensing.parse(expression, validate=True)
    except Exception as exc:  # license-expression raises several unrelated types for bad input
        return False, expression, f"licence expression {expression!r} is not valid SPDX ({exc})"
    if parsed is None:
        return False, expression, "empty licence expression"
    normalised = str(parsed)
    ok = _allowed(parsed, frozenset(a.lower() for a in allowed))
    reason = (f"{normalised} is allowed" if ok
              else f"{normalised} is not an allowed licence (allowed: {', '.join(allowed)})")
    return ok, normalised, reason


def _licence_files(repo: Path) -> list[Path]:
    try:
        return sorted(p for p in repo.iterdir() if p.is_file() and LICENCE_FILE.match(p.name))
    except OSError:
        return []


def _from_manifest(repo: Path) -> tuple[str, str] | None:
    package = repo / "package.json"
    if package.is_file():
        try:
            value = json.loads(package.read_text(encoding="utf-8")).get("license")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            value = None
        if isinstance(value, dict):
            value = value.get("type")
        if isinstance(value, str) and value.strip():
            return value.strip(), "package.json"
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file():
        try:
            value = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("license")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
            value = None
        if isinstance(value, dict):
            value = value.get("text")
        if isinstance(value, str) and value.strip() and len(value) < 200:
            return value.strip(), "pyproject.toml"
    return None


@cache
def _normalised_licences() -> tuple[tuple[str, str], ...]:
    """(SPDX id, normalised text) of every licence `identify` knows, normalised once per process."""
    from identify.identify import _norm_license
    from identify.vendor.licenses import LICENSES

    return tuple((spdx, _norm_license(text)) for spdx, text in LICENSES)


def licence_of_text(contents: str) -> str | None:
    """The SPDX id of a licence text: `identify.license_id`'s algorithm, without normalising ~500 licences per call.

    Exact match after normalising (copyright lines out, whitespace collapsed), else the closest licence
    under 5% edit distance, else None.
    """
    import ukkonen
    from identify.identify import _norm_license

    norm = _norm_license(contents)
    best, best_spdx = sys.maxsize, ""
    cutoff = math.ceil(0.05 * len(norm))
    for spdx, norm_license in _normalised_licences():
        if norm == norm_license:
            return spdx
        # skip the slow calculation if the lengths are very different
        if norm and abs(len(norm) - len(norm_license)) / len(norm) > 0.05:
            continue
        distance = ukkonen.distance(norm, norm_license, cutoff)
        if distance < cutoff and distance < best:
            best, best_spdx = distance, spdx
    return best_spdx if norm and best < cutoff else None


def detect_licence(repo: Path) -> tuple[str, str] | None:
    """(SPDX expression, source file) for a repository, or None when none is found."""
    for path in _licence_files(repo):
        try:
            if path.stat().st_size > MAX_LICENCE_BYTES:
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        tagged = SPDX_LINE.search(text)
        if tagged:
            return tagged.group(1).strip(), path.name
        found = licence_of_text(text)
        if found:
            return found, path.name
    return _from_manifest(repo)


def licence_gate(repo: Path, allowed: tuple[str, ...] | list[str] = DEFAULT_ALLOWED) -> LicenceVerdict:
    """The gate's verdict on one repository."""
    name = repo.resolve().name
    found = detect_licence(repo)
    if found is None:
        files = ", ".join(p.name for p in _licence_files(repo))
        why = f"its licence file ({files}) matches no SPDX licence" if files else "it has no licence file"
        return LicenceVerdict(name, None, None, False, f"{why}, and no SPDX identifier in its manifests; "
                                                       "without a licence nothing grants reuse")
    expression, source = found
    ok, normalised, reason = evaluate(expression, allowed)
    return LicenceVerdict(name, normalised, source, ok, reason)
