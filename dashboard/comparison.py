"""Per-problem comparison: a line diff of the two arms' code, test outcomes, and where the metadata plausibly helped."""

from __future__ import annotations

import difflib
import keyword
import re

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words too common in code and prose to count as evidence that the metadata was used.
_COMMON = set(keyword.kwlist) | {"self", "return", "the", "and", "for", "with", "int", "str", "list", "dict",
                                 "value", "values", "this", "that", "from", "None", "True", "False", "len"}


def code_diff(control: str, experiment: str) -> list[tuple[str, str]]:
    """(mark, line) pairs of a line diff from control to experiment: ``-`` only in control, ``+`` only in
    experiment, `` `` in both."""
    out = []
    for line in difflib.ndiff(control.splitlines(), experiment.splitlines()):
        if line.startswith("? "):
            continue  # ndiff's intraline hints: noise in a side-by-side view
        out.append((line[0], line[2:]))
    return out


def metadata_terms(metadata: dict | None) -> set[str]:
    """Identifiers the metadata names: parameter names and their type/value words, and identifier-like
    words (snake_case, camelCase or containing digits) from the comment text and AI metadata."""
    if not metadata:
        return set()
    terms: set[str] = set()
    for name, value in (metadata.get("params") or {}).items():
        terms.add(str(name))
        terms.update(_IDENTIFIER.findall(str(value)))
    text = " ".join([str(metadata.get("text") or ""), str(metadata.get("aiMetadata") or "")])
    for word in _IDENTIFIER.findall(text):
        if "_" in word or any(c.isdigit() for c in word) or (word[0].islower() and any(c.isupper() for c in word)):
            terms.add(word)
    return {t for t in terms if len(t) >= 2 and t not in _COMMON}


def metadata_hints(metadata: dict | None, control_code: str, experiment_code: str) -> list[str]:
    """Terms from the metadata that appear in the experiment's code and not in the control's, sorted:
    the places where the metadata plausibly helped."""
    control_words = set(_IDENTIFIER.findall(control_code))
    experiment_words = set(_IDENTIFIER.findall(experiment_code))
    return sorted(t for t in metadata_terms(metadata) if t in experiment_words and t not in control_words)


def outcomes(arm_row: dict | None) -> list[str]:
    """Each sample's test status for one arm's row ("passed", "failed", "timeout", ...); "not run" when absent."""
    if not arm_row:
        return ["not run"]
    statuses = arm_row.get("statuses")
    if statuses:
        return [str(s) for s in statuses]
    return ["passed" if p else "failed" for p in arm_row.get("passed", [])] or ["not run"]


def first_completion(problem: dict, arm: str) -> str:
    """The arm's first generated completion for a problem ("" when it has none)."""
    completions = (problem.get(arm) or {}).get("completions") or [""]
    return str(completions[0])


def diff_rows(before: str, after: str) -> list[tuple[str, int]]:
    """A line diff from ``before`` to ``after`` as (mark, line index): ``-`` a line only in before (its index
    there), ``+`` only in after, `` `` in both (its index in after)."""
    old, new = before.splitlines(), after.splitlines()
    rows: list[tuple[str, int]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [(" ", j) for j in range(j1, j2)]
            continue
        rows += [("-", i) for i in range(i1, i2)]
        rows += [("+", j) for j in range(j1, j2)]
    return rows


def metadata_lines(code: str, terms: set[str]) -> dict[int, list[str]]:
    """Line index -> the metadata terms that line of ``code`` uses (lines using none are left out)."""
    marked = {}
    for index, line in enumerate(code.splitlines()):
        used = sorted(t for t in terms if t in set(_IDENTIFIER.findall(line)))
        if used:
            marked[index] = used
    return marked


def failure_messages(arm_row: dict | None) -> list[str]:
    """The messages of an arm's failed samples (the failing test's last line), when the run recorded them."""
    if not arm_row:
        return []
    return [str(m) for m, passed in zip(arm_row.get("failures") or [], arm_row.get("passed") or [], strict=False)
            if m and not passed]
