"""The secrets pre-filter only skips work: detect-secrets on the lines it flags finds exactly what it finds on every line.

`candidate_lines` searches a file with cheap tests (required strings, implied patterns, credential
assignments on lower-cased ASCII) before detect-secrets' per-line scan. These tests run the full scan
over every line and the pre-filtered scan over the candidates, on planted secrets and on random lines
built from the pieces secrets are made of, and require identical findings.
"""

from __future__ import annotations

import random
import re

from commentslab.services.exporter.scrub import (
    CREDENTIAL_ASSIGNMENT,
    CREDENTIAL_ASSIGNMENT_LOWER,
    IMPLIED_GATES,
    _secrets_on_lines,
    candidate_lines,
)

PLANTED = [
    'AWS_ACCESS_KEY_ID = "AKIAZXCVBNMASDFGHJKL"',
    'token = "ghp_Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"',
    "stripe_key = 'sk_live_51HqLyjWDarjtT1zdp7dcXyZ'",
    'const slack = "xoxp-210987654321-2109876543210-ZyXwVuTsRqPoNmLkJiHgFeDc";',
    "jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.4pcPyMD09olPSyXnrXCjTwXyr4BsezdI1AVTmud2fU4'",
    "-----BEGIN RSA PRIVATE KEY-----",
    'password = "Tr0ub4dor&3horse"',
    'api_token = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"',
    'session = {"secret": "dGhpcyBpcyBhIHZlcnkgc2VjcmV0IHRva2VuIHZhbHVlIDEyMzQ1Njc4OTA="}',
    "server = '93.184.216.34'",
    "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
    'ibm_cloud_iam_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF01"',
    "cloudant_password = 'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01'",
    'softlayer_api_key: "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123"',
    "https://user:Sup3rS3cret@example.com/path",
    "AccountKey=" + "A" * 86 + "==",
    "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    'npm_token = "//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789"',
]
PIECES = ["key", "KEY", "Key", "pass", "PASSWORD", "pwd", "pw", "token", "secret", "auth", "api", "aws", "ibm",
          "cloud", "iam", "cloudant", "softlayer", "cos", "hmac", "cl", "gh", "ghp_", "xox", "AKIA", "sk_live_", "eyJ",
          "SG.", "AC", "SK", "AP", "glpat-", "pypi-", "BEGIN ", "PRIVATE KEY", " = ", "=", ": ", ":=", "=>", "'", '"',
          "[", "]", "_", "-", ".", "/", "://", "@", " ", "\t", "0", "12", "345", "93.184.216", ".34", "12345678:",
          "\u212a", "\u017f", "\u0130", "é", "ü", "\u00df"]
ALPHABETS = ["abcdef0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "0123456789"]


def _random_line(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 8)):
        if rng.random() < 0.7:
            parts.append(rng.choice(PIECES))
        else:
            parts.append("".join(rng.choice(rng.choice(ALPHABETS)) for _ in range(rng.randint(4, 70))))
    return "".join(parts)


def _findings(lines: list[str], numbers: set[int], filename: str) -> dict:
    return {n: sorted(found) for n, found in _secrets_on_lines(lines, numbers, filename).items()}


def _same_findings(lines: list[str], filename: str) -> None:
    full = _findings(lines, set(range(len(lines))), filename)
    filtered = _findings(lines, candidate_lines("\n".join(lines)), filename)
    assert filtered == full


def test_planted_secrets_are_found_alike_with_and_without_the_prefilter():
    lines = [f"    {line}" for line in PLANTED] + ["def f(x):", "    return x + 1", ""]
    full = _findings(lines, set(range(len(lines))), "planted.py")
    assert len(full) >= 12  # the corpus is worth something: most planted lines are findings
    _same_findings(lines, "planted.py")
    _same_findings(lines, "comment.txt")


def test_random_lines_are_found_alike_with_and_without_the_prefilter():
    rng = random.Random(20251125)
    for batch in range(40):
        lines = [_random_line(rng) for _ in range(50)]
        lines += rng.sample(PLANTED, 3)
        rng.shuffle(lines)
        _same_findings(lines, ("x.py", "x.js", "comment.txt", "deploy.env")[batch % 4])


def test_the_literal_first_gates_match_where_the_digit_first_patterns_do():
    rng = random.Random(5)
    originals = {"IPPublicDetector": re.compile(r"\d\.\d{1,3}\.\d"), "TelegramBotTokenDetector": re.compile(r"\d{8}:")}
    for _ in range(3000):
        text = "".join(rng.choice(["1", "22", "333", "4444", ".", ":", "a", " ", "١", "99999999"])
                       for _ in range(rng.randint(1, 14)))
        for name, original in originals.items():
            assert (IMPLIED_GATES[name].search(text) is None) == (original.search(text) is None), (name, text)


def test_credential_assignments_on_lower_cased_ascii_are_the_case_insensitive_ones():
    rng = random.Random(9)
    for _ in range(3000):
        text = _random_line(rng).encode("ascii", "ignore").decode()
        expected = [m.span() for m in CREDENTIAL_ASSIGNMENT.finditer(text)]
        assert [m.span() for m in CREDENTIAL_ASSIGNMENT_LOWER.finditer(text.lower())] == expected, text
    # Why only ASCII: case-insensitive matching folds the long s into `s`, which lower-casing does not.
    assert CREDENTIAL_ASSIGNMENT.search("pa\u017fs = 1")
    assert not CREDENTIAL_ASSIGNMENT_LOWER.search("pa\u017fs = 1".lower())
    assert candidate_lines("pa\u017fs = 'x'\nibm_cloud_iam_pa\u017fs = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEF01'")
