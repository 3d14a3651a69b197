"""PII and secrets out of everything an export writes: authors hashed, e-mails and secrets removed.

Secrets are found by detect-secrets (its plugins and its false-positive filters, with network
verification off: nothing leaves the machine), e-mail addresses by a pattern, private-key blocks by
their armour lines. Every removal is counted by kind for the export report.

detect-secrets examines a line with ~27 plugins and a dozen filters, about 0.3 ms a line; too slow to
run on every line of a large repository. So each file is first searched, whole, with the plugins' own
patterns (the cheap necessary condition for each plugin reporting anything on a line), and only the
lines those patterns touch go through detect-secrets' full per-line scan. A line no pattern touches
cannot yield a secret, so the result is the same as scanning every line.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections import Counter
from functools import cache, lru_cache
from typing import NamedTuple

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY((?: BLOCK)?)-----.*?-----END \1PRIVATE KEY\2-----", re.DOTALL)
# Characters that end a token when a found secret is widened to the whole token holding it (detect-secrets
# reports the group a pattern captures, e.g. `ghp` of a GitHub token).
_TOKEN_EDGE = r"""[^\s'"`,;(){}\[\]<>=]*"""
EMAIL_MARK, SECRET_MARK, KEY_MARK = "<email>", "<secret>", "<private-key>"

# detect-secrets' assignment-style detectors (IBM, Cloudant, Softlayer) scan every position with a
# look-behind, which makes them the slowest patterns. Each requires a credential word followed by an
# optional quote and bracket, spaces, and an assignment (`=`, `:`, `=>`, spaces), so they only run on
# lines holding that. tests/unit/test_sidecar_scrub.py checks each pattern still has both parts.
CREDENTIAL_WORD = re.compile(r"key|pw|pass|token|secret", re.IGNORECASE)
CREDENTIAL_ASSIGNMENT = re.compile(r"""(?:key|pw|pass|token)["']?\]? *[=: ]""", re.IGNORECASE)
# The same search on lower-cased ASCII text, six times faster (IGNORECASE defeats the first-character
# skip). Only for ASCII: IGNORECASE also folds the Kelvin sign into `k` and the long s into `s`.
CREDENTIAL_ASSIGNMENT_LOWER = re.compile(CREDENTIAL_ASSIGNMENT.pattern)
ASSIGNMENT_SUFFIX = r"""(?:"|\'|)(?:\]|)(?: *)(?:=|:|:=|=>| +|::)"""
GATED_DETECTORS = {"IbmCloudIamDetector", "IbmCosHmacDetector", "CloudantDetector", "SoftlayerDetector"}
# detect-secrets' two generic high-entropy detectors also fire on hashes and test vectors, which are data
# (HumanEval's md5 example, a hex literal in a docstring); removing them corrupts the code. Their findings
# count only on a line that names a credential. Every format-specific detector (AWS, GitHub, Stripe,
# Slack, JWT, private keys, ...) and the keyword detector count everywhere.
# Patterns that require no distinctive literal get a cheap regex they imply instead (an IPv4 address has
# digit-dot-digit-dot-digit; a Telegram token eight digits and a colon): a file without it is skipped.
# Each gate starts with its literal (`.`, `:`) and looks behind for the digits, so the search skips to that
# character instead of trying a digit class at every position; it matches where `\d\.\d{1,3}\.\d` and
# `\d{8}:` do.
IMPLIED_GATES = {"IPPublicDetector": re.compile(r"\.(?<=\d\.)\d{1,3}\.\d"),
                 "TelegramBotTokenDetector": re.compile(r":(?<=\d{8}:)")}
ENTROPY_TYPES = {"Base64 High Entropy String", "Hex High Entropy String"}
CREDENTIAL_CONTEXT = re.compile(r"key|token|secret|pass|pwd|auth|cred|bearer|session|cookie|signature|salt",
                                re.IGNORECASE)


# detect-secrets' keyword detector misses an unquoted `PASSWORD=hunter2` or `api_key: 9f8e7d6c` in prose
# and in .env-style files. In comments and config files such a value is removed too: a credential word,
# `=` or `:`, and a value of 6+ characters holding a digit or one of !@#%^&*+=/~ (so `token: none`,
# `secret: [REDACTED]` or `${password}` stay). Not in code, where `password = read_password()` is code, not a secret.
UNQUOTED_CREDENTIAL = re.compile(
    r"(?i)\b[\w.-]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|access[_-]?key|auth[_-]?key)[\w.-]*"
    r"[ \t]*[:=][ \t]*(?P<value>(?![$\\{(])(?=[^\s'\"`,;()]*[\d!@#%^&*+=/~])[^\s'\"`,;()]+)")
PROSE_OR_CONFIG = (".txt", ".env", ".ini", ".cfg", ".conf", ".properties", ".toml", ".yaml", ".yml", ".md")


def _unquoted_credentials(text: str) -> tuple[str, int]:
    """`text` with unquoted credential values replaced by the secret marker, and how many."""
    count = 0

    def redact(m: re.Match) -> str:
        nonlocal count
        value = m.group("value")
        if len(value) < 6 or value == SECRET_MARK:
            return m.group(0)
        count += 1
        return m.group(0)[: m.start("value") - m.start()] + SECRET_MARK

    return UNQUOTED_CREDENTIAL.sub(redact, text), count


@lru_cache(maxsize=1 << 16)  # a repository's authors repeat: hash each once
def author_id(author: str | None, key: str) -> str | None:
    """A stable pseudonym: the first 16 hex of HMAC-SHA256(key, author trimmed and lower-cased); None when
    there is no author. Without ``key`` (services/exporter/pseudonym_key.py) no name can be matched to it."""
    if not author:
        return None
    return hmac.new(key.encode(), author.strip().lower().encode(), hashlib.sha256).hexdigest()[:16]


class _Planned(NamedTuple):
    """A plugin pattern with the cheap tests that can rule it out for a whole file."""

    pattern: re.Pattern
    literals: tuple[str, ...] | None  # one of these (case-folded) is in every match; None: no such strings
    implied: re.Pattern | None  # a pattern every match also matches (IMPLIED_GATES)


class _Plan(NamedTuple):
    """detect-secrets' patterns grouped by how `candidate_lines` runs them."""

    whole_file: tuple[_Planned, ...]  # on the text
    lowered: tuple[_Planned, ...]  # on the lower-cased text
    gated: tuple[_Planned, ...]  # on the lines holding a credential assignment
    entropy: tuple[tuple[re.Pattern, object], ...]  # (pattern, plugin) of the high-entropy plugins


@cache
def _detector() -> _Plan:
    """detect-secrets configured with its default plugins and filters, verification off; its patterns, planned."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.core.scan import _process_line_based_plugins  # noqa: F401  (fail early if renamed)
    from detect_secrets.plugins.base import RegexBasedDetector
    from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
    from detect_secrets.plugins.keyword import DENYLIST_REGEX, KeywordDetector
    from detect_secrets.settings import configure_settings_from_baseline, get_plugins, get_settings

    # Every plugin, the default false-positive filters; the verification filter stays off, so no found
    # credential is ever sent to its service.
    configure_settings_from_baseline({"plugins_used": [
        {"name": plugin.__name__} for plugin in get_mapping_from_secret_type_to_class().values()]})
    get_plugins.cache_clear()
    assert "detect_secrets.filters.common.is_ignored_due_to_verification_policies" not in get_settings().filters
    whole_file: list[re.Pattern] = []
    lowered: list[re.Pattern] = []  # run on the lower-cased text: IGNORECASE makes alternations slow
    gated: list[re.Pattern] = []
    entropy: list[tuple[re.Pattern, object]] = []
    implied: dict[int, re.Pattern] = {}
    for plugin in get_plugins():
        name = type(plugin).__name__
        if isinstance(plugin, RegexBasedDetector):
            # MULTILINE: `^`/`$` then mean what they mean on one line.
            patterns = [re.compile(r.pattern, r.flags | re.MULTILINE) for r in plugin.denylist]
            (gated if name in GATED_DETECTORS else whole_file).extend(patterns)
            if name in IMPLIED_GATES:
                implied.update({id(p): IMPLIED_GATES[name] for p in patterns})
        elif isinstance(plugin, HighEntropyStringsPlugin):
            # A string of length L has Shannon entropy at most log2(L): shorter strings can't pass the limit.
            shortest = math.ceil(2 ** plugin.entropy_limit)
            pattern = plugin.regex.pattern
            if not pattern.endswith("+)(\\1)"):
                raise RuntimeError(f"detect-secrets changed {name}'s pattern; revisit scrub.py")
            pattern = pattern[: -len("+)(\\1)")] + f"{{{shortest},}})(\\1)"
            entropy.append((re.compile(pattern, plugin.regex.flags | re.MULTILINE), plugin))
        elif isinstance(plugin, KeywordDetector):
            keyword = DENYLIST_REGEX if isinstance(DENYLIST_REGEX, str) else DENYLIST_REGEX.pattern
            lowered.append(re.compile(keyword.lower(), re.MULTILINE))
        else:  # a plugin this module does not know: every line is a candidate for it
            whole_file.append(re.compile(r"^.", re.MULTILINE))

    def planned(patterns: list[re.Pattern]) -> tuple[_Planned, ...]:
        out = []
        for pattern in patterns:
            found = required_literals(pattern)
            # Shortest strings first: the likeliest to be present, which ends a pattern's look-ups early.
            literals = tuple(sorted(found, key=lambda x: (len(x), x))) if found else None
            out.append(_Planned(pattern, literals, implied.get(id(pattern))))
        return tuple(out)

    return _Plan(planned(whole_file), planned(lowered), planned(gated), tuple(entropy))


def load_detectors() -> None:
    """Configure detect-secrets and plan its patterns now (e.g. before forking workers, which then share them)."""
    _detector()


def required_literals(pattern: re.Pattern) -> frozenset[str] | None:
    """Strings one of which every match of `pattern` contains (case-folded), or None when there are none."""
    sets = required_literal_sets(pattern)
    return max(sets, key=lambda o: (min(map(len, o)), -len(o))) if sets else None


def required_literal_sets(pattern: re.Pattern) -> list[frozenset[str]]:
    """Every requirement found in `pattern`: sets of strings, one of each set in every match (case-folded).

    Read from the compiled pattern's parse tree: a literal run is required, a group or a repeat with a
    minimum of one passes its own requirement up, an alternation requires one of its branches'.
    Of the requirements found, the most selective (longest shortest string) wins.
    """
    try:
        import re._parser as sre_parse  # Python 3.11+
    except ImportError:  # pragma: no cover
        import sre_parse  # type: ignore[no-redef]
    constants = sre_parse  # the opcodes live beside the parser

    def best(options: list[frozenset[str]]) -> frozenset[str] | None:
        options = [o for o in options if o and all(o)]
        return max(options, key=lambda o: (min(map(len, o)), -len(o))) if options else None

    def walk(items, top: bool = False):
        found: list[frozenset[str]] = []
        run: list[str] = []

        def flush() -> None:
            if run:
                found.append(frozenset(["".join(run).casefold()]))
                run.clear()

        for op, arg in items:
            if op is constants.LITERAL:
                run.append(chr(arg))
                continue
            flush()
            if op is constants.SUBPATTERN:
                inner = walk(arg[-1])
                if inner:
                    found.append(inner)
            elif op in (constants.MAX_REPEAT, constants.MIN_REPEAT, getattr(constants, "POSSESSIVE_REPEAT", None)):
                low, _, sub = arg
                inner = walk(sub) if low >= 1 else None
                if inner:
                    found.append(inner)
            elif op is constants.BRANCH:
                branches = [walk(alt) for alt in arg[1]]
                if all(branches):
                    found.append(frozenset().union(*branches))
        flush()
        return [o for o in found if o and all(o)] if top else best(found)

    return walk(sre_parse.parse(pattern.pattern, pattern.flags), top=True)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    pos = find("\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = find("\n", pos + 1)
    return starts


def _possible(planned: tuple[_Planned, ...], text: str, folded: str, looked_up: dict) -> list[re.Pattern]:
    """The patterns that may match in `text`: each needs one of its strings present and its implied pattern found.

    `looked_up` remembers, per file, each string's and each implied pattern's answer.
    """
    out = []
    for pattern, literals, implied in planned:
        if literals is not None:
            for literal in literals:
                present = looked_up.get(literal)
                if present is None:
                    present = looked_up[literal] = literal in folded
                if present:
                    break
            else:
                continue
        if implied is not None:
            found = looked_up.get(implied)
            if found is None:
                found = looked_up[implied] = implied.search(text) is not None
            if not found:
                continue
        out.append(pattern)
    return out


def candidate_lines(text: str) -> set[int]:
    """0-based lines of `text` that some detect-secrets plugin's pattern touches."""
    import bisect

    plan = _detector()
    folded = text.casefold()
    looked_up: dict = {}
    hits: set[int] = set()
    starts_of: dict[int, list[int]] = {}

    def mark(subject: str, start: int, end: int) -> None:
        # Line starts of the text searched (the lower-cased copy may differ in length, never in lines).
        starts = starts_of.get(id(subject))
        if starts is None:
            starts = starts_of[id(subject)] = _line_starts(subject)
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, max(start, end - 1)) - 1
        hits.update(range(first, last + 1))

    for pattern in _possible(plan.whole_file, text, folded, looked_up):
        for m in pattern.finditer(text):
            mark(text, m.start(), m.end())
    lowered = _possible(plan.lowered, text, folded, looked_up)
    lower = None
    if lowered:
        lower = text.lower()
        for pattern in lowered:
            for m in pattern.finditer(lower):
                mark(lower, m.start(), m.end())
    for pattern, plugin in plan.entropy:
        for m in pattern.finditer(text):
            if plugin.calculate_shannon_entropy(m.group(2)) > plugin.entropy_limit:
                mark(text, m.start(), m.end())
    gated = _possible(plan.gated, text, folded, looked_up)
    if gated:
        if text.isascii():  # lower-cased ASCII has the same length, so positions carry over to `text`
            assignments = CREDENTIAL_ASSIGNMENT_LOWER.finditer(lower if lower is not None else text.lower())
        else:
            assignments = CREDENTIAL_ASSIGNMENT.finditer(text)
        for m in assignments:
            # The whole line around each credential assignment goes to the gated patterns.
            start = text.rfind("\n", 0, m.start()) + 1
            end = text.find("\n", m.end())
            line = text[start : end if end != -1 else len(text)]
            if any(p.search(line) for p in gated):
                mark(text, start, start + 1)
    return hits


def _secrets_on_lines(lines: list[str], numbers: set[int], filename: str,
                      entropy: bool = True) -> dict[int, list[tuple[str, str]]]:
    """0-based line -> [(type, secret value)] from detect-secrets' full scan of those lines.

    `entropy=False` drops the generic high-entropy findings altogether (for tests, whose expected
    values are hashes and vectors by nature).
    """
    from detect_secrets.core.scan import _process_line_based_plugins

    _detector()
    found: dict[int, list[tuple[str, str]]] = {}
    for secret in _process_line_based_plugins([(n + 1, lines[n]) for n in sorted(numbers)], filename):
        if secret.type in ENTROPY_TYPES and (not entropy or not CREDENTIAL_CONTEXT.search(lines[secret.line_number - 1])):
            continue
        if secret.secret_value:
            found.setdefault(secret.line_number - 1, []).append((secret.type, secret.secret_value))
    return found


def _redact(line: str, values: list[str]) -> str:
    for value in sorted(set(values), key=len, reverse=True):
        line = re.sub(_TOKEN_EDGE + re.escape(value) + _TOKEN_EDGE, SECRET_MARK, line)
    return line


class Scrubber:
    """Removes e-mails, private keys and detect-secrets findings; `removals` counts them by kind."""

    def __init__(self):
        self.removals: Counter = Counter()

    def scan(self, text: str, extras: list[str]) -> tuple[set[int] | None, set[int]]:
        """(candidate lines of `text` or None, indexes of `extras` that may hold PII or secrets), in one pass.

        A file's source and all its comments' texts are searched together: one scan instead of two.
        """
        extras = [e.replace("\n", " ") for e in extras]
        source_lines = text.count("\n") + 1
        hits = candidate_lines(text + "\n" + "\n".join(extras)) if extras else candidate_lines(text)
        dirty = {i for i, e in enumerate(extras)
                 if (source_lines + i) in hits or "@" in e or "PRIVATE KEY" in e or UNQUOTED_CREDENTIAL.search(e)}
        return {h for h in hits if h < source_lines}, dirty

    def scrub_source(self, text: str, filename: str, candidates: set[int] | None = None,
                     entropy: bool = True) -> tuple[str, Counter]:
        """`text` with every finding replaced by a marker; line count unchanged (anchors rely on it).

        `candidates`: the lines `scan` found for this same text (saves the search). `entropy=False`:
        keep high-entropy strings (test code), still removing every format-specific secret.
        """
        counts: Counter = Counter()

        def key_block(m: re.Match) -> str:
            counts["Private Key"] += 1
            return KEY_MARK + "\n" * m.group(0).count("\n")

        if "PRIVATE KEY" in text:
            text, blocks = PRIVATE_KEY_BLOCK.subn(key_block, text)
            if blocks:
                candidates = None  # the text changed: search it again
        numbers = candidate_lines(text) if candidates is None else candidates
        if numbers:
            lines = text.split("\n")
            for number, found in _secrets_on_lines(lines, numbers, filename, entropy).items():
                for kind, _ in found:
                    counts[kind] += 1
                lines[number] = _redact(lines[number], [value for _, value in found])
            text = "\n".join(lines)
        if filename.lower().endswith(PROSE_OR_CONFIG) or filename.lower().startswith(".env"):
            text, unquoted = _unquoted_credentials(text)
            if unquoted:
                counts["Secret Keyword"] += unquoted
        if "@" in text:
            text, emails = EMAIL.subn(EMAIL_MARK, text)
            if emails:
                counts["Email"] += emails
        self.removals.update(counts)
        return text, counts

    def scrub_text(self, text: str) -> str:
        """A comment's or reply's text, scrubbed the same way (scanned as plain text)."""
        return self.scrub_source(text, "comment.txt")[0] if text else text

    def scrub_value(self, value: object) -> object:
        """Strings inside params and AI metadata (nested), scrubbed; other values as they are."""
        if isinstance(value, str):
            return self.scrub_text(value) if len(value) >= 6 else value
        if isinstance(value, dict):
            return {k: self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub_value(v) for v in value]
        return value
