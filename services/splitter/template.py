"""The one documented template that renders `.comments` metadata into a prompt (the experiment arm).

The block is a run of Python comments placed before the prompt, so the prompt stays valid code:

    # .comments metadata
    # comment [NOTE]: <comment text with placeholders filled>
    # params: functionName=has_close_elements, paramCount=2, returnType=bool
    # ai: complexity.cyclomatic=5, complexity.cognitive=10, ..., parameters.returnType=bool
    <prompt>

`params` keep their order; AI metadata is flattened to dotted keys in sorted order, dropping
bookkeeping (provider, model, analyzedAt, confidence) that says nothing about the code. The control
arm renders nothing; the placebo arm renders another record's metadata with this same template.

Every key, value and tag is rendered on its line: a line break in one (``\n``, ``\r``, or any other
that a tokenizer, an editor or JavaScript ends a line at) becomes a space, so no metadata, a visitor's
in the playground included, can end the comment and put code before the prompt.
"""

from __future__ import annotations

import json
import re

COMMENT_PREFIX = {"python": "# ", "javascript": "// ", "typescript": "// ", "tsx": "// "}
_BOOKKEEPING = {"provider", "model", "analyzedAt", "confidence"}
# str.splitlines' line boundaries, which include JavaScript's (\u2028, \u2029) and Python's (\n, \r).
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")


def one_line(value: object) -> str:
    """``value`` as text with every line break replaced by a space."""
    return _LINE_BREAKS.sub(" ", str(value))


def flatten(value: object, prefix: str = "") -> list[tuple[str, str]]:
    """Dotted-key scalars of a nested metadata value, lists of objects as compact JSON."""
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for key in sorted(value):
            if key in _BOOKKEEPING:
                continue
            out.extend(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        if all(isinstance(v, dict) and "name" in v for v in value) and value:
            text = ", ".join(
                f"{v['name']}: {v.get('type') or 'Any'}" + ("?" if v.get("optional") else "") for v in value
            )
            return [(prefix, f"({text})")]
        return [(prefix, json.dumps(value, ensure_ascii=False))]
    if value is None:
        return []
    return [(prefix, str(value))]


def render_metadata(metadata: dict, language: str = "python") -> str:
    """The metadata block for a record's metadata, ending in a newline; empty when there is none."""
    mark = COMMENT_PREFIX.get(language, "# ")
    lines = []
    text = " ".join(str(metadata.get("text") or "").split())
    if text:
        tag = f" [{one_line(metadata['tag'])}]" if metadata.get("tag") else ""
        lines.append(f"comment{tag}: {one_line(text)}")
    params = metadata.get("params") or {}
    if params and isinstance(params, dict):
        lines.append("params: " + ", ".join(f"{one_line(k)}={one_line(v)}" for k, v in params.items()))
    ai = flatten(metadata.get("aiMetadata") or {})
    if ai:
        lines.append("ai: " + ", ".join(f"{one_line(k)}={one_line(v)}" for k, v in ai))
    if not lines:
        return ""
    return "".join(f"{mark}{line}\n" for line in [".comments metadata", *lines])


def arm_input(prompt: str, metadata: dict | None, language: str = "python") -> str:
    """The prompt an arm trains or is tested on: metadata block (if any) + prompt."""
    return (render_metadata(metadata, language) if metadata else "") + prompt
