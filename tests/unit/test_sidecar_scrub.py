"""PII and secrets: a planted-secrets corpus shows every planted item removed, counted by kind; authors hashed."""

import hashlib
import hmac
import json
import re

from commentslab.services.corpus.humaneval import LICENSE_TEXT
from commentslab.services.exporter.export import ExportOptions, ExportReport, export_repository
from commentslab.services.exporter.scrub import (
    ASSIGNMENT_SUFFIX,
    CREDENTIAL_WORD,
    GATED_DETECTORS,
    Scrubber,
    _detector,
    author_id,
    candidate_lines,
    required_literal_sets,
    required_literals,
)

# Fake credentials in the shapes real ones have (none is live).
AWS = "AKIAQWERTYUIOPASDFGH"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIy"
       "fQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
PASSWORD = "Tr0ub4dor&3horse"
DB_PASSWORD = "s3cr3t-Passw0rd-db"
TOKEN = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
KEY_BODY = "MIIEowIBAAKCAQEAx2mZ9Kq3Jv1lE0Xq8p0rS5tU7vW9yZ1aB3cD5eF7gH9iJ1kL3mN5oP7qR9sT1uV3wX5yZ7"
EMAILS = ["ana.lima@example.com", "bob+ops@corp.example.org", "carol@example.net", "dave@example.io"]

PY_SOURCE = f'''import os

AWS_ACCESS_KEY_ID = "{AWS}"
PRIVATE_KEY = """-----BEGIN RSA PRIVATE KEY-----
{KEY_BODY}
{KEY_BODY[::-1]}
-----END RSA PRIVATE KEY-----"""


def connect(host):
    """Connect as the service user; ask {EMAILS[0]} for access."""
    password = "{PASSWORD}"
    headers = {{"Authorization": "token {GITHUB}"}}
    return open_session(host, password, headers)


def charge(amount):
    stripe_key = "{STRIPE}"
    return post("https://api.stripe.com", amount, stripe_key)
'''
JS_SOURCE = f'''const slack = "{SLACK}";

export function notify(text) {{
  const db_password = "{DB_PASSWORD}";
  const jwt = "{JWT}";
  return send(slack, text, jwt, db_password);
}}

export function owner() {{
  const contact = "{EMAILS[1]}";
  return contact;
}}
'''
PLANTED = {
    "AWS Access Key": [AWS], "GitHub Token": [GITHUB], "Stripe Access Key": [STRIPE], "Slack Token": [SLACK],
    "JSON Web Token": [JWT], "Private Key": [KEY_BODY, KEY_BODY[::-1]], "Secret Keyword": [PASSWORD, DB_PASSWORD],
    "Email": EMAILS, "Token in a comment": [TOKEN],
}


def _planted_repo(tmp_path):
    repo = tmp_path / "planted"
    repo.mkdir()
    (repo / "LICENSE").write_text(LICENSE_TEXT)
    (repo / "client.py").write_text(PY_SOURCE)
    (repo / "notify.js").write_text(JS_SOURCE)
    py_lines = PY_SOURCE.splitlines()
    connect = py_lines.index("def connect(host):") + 1
    charge = py_lines.index("def charge(amount):") + 1
    (repo / "client.py.comments").write_text(json.dumps({"version": "2.1.0", "file": "client.py", "comments": [
        {"id": "c1", "line": connect, "text": f"Login uses the api_key=\"{TOKEN}\" in staging; ping {EMAILS[2]}",
         "author": "Ana Lima <ana.lima@example.com>", "replies": [{"id": "r1", "text": f"ask {EMAILS[3]}",
                                                                  "author": "Bo"}]},
        {"id": "c2", "line": charge, "text": "Charges the card", "author": "Bo",
         "params": {"owner": {"value": EMAILS[0], "type": "manual"}}}]}))
    (repo / "notify.js.comments").write_text(json.dumps({"version": "1.0", "file": "notify.js", "comments": [
        {"id": "j1", "line": 4, "text": "Sends to Slack", "author": "Cy"},
        {"id": "j2", "line": 10, "text": "Who owns this", "author": "Cy"}]}))
    return repo


def test_every_planted_secret_and_email_is_removed_and_counted_by_kind(tmp_path):
    report = ExportReport("planted")
    records = list(export_repository(_planted_repo(tmp_path), report=report))
    assert len(records) == 4
    written = json.dumps(records) + json.dumps(report.to_dict())
    for kind, values in PLANTED.items():
        for value in values:
            assert value not in written, f"{kind} {value[:12]}... survived the export"
    assert not re.search(r"BEGIN RSA PRIVATE KEY", written)
    removals = report.to_dict()["removals"]
    # Each planted item counted under its detector's kind (the key block once, as one key).
    for kind in ("AWS Access Key", "GitHub Token", "Stripe Access Key", "Slack Token", "JSON Web Token",
                 "Private Key"):
        assert removals.get(kind) == 1, (kind, removals)
    assert removals["Secret Keyword"] >= 3  # two passwords in code, the api_key in the comment
    assert removals["Email"] == 5  # four planted, one of them twice (docstring and params)
    texts = {r["provenance"]["commentId"]: r for r in records}
    assert "<secret>" in texts["c1"]["metadata"]["text"] and "<email>" in texts["c1"]["metadata"]["text"]
    assert texts["c1"]["metadata"]["replies"][0]["text"] == "ask <email>"
    assert texts["c2"]["metadata"]["params"]["owner"] == "<email>"
    assert 'password = "<secret>"' in texts["c1"]["completion"]
    # Records whose code or comment lost something go to review.
    assert "secrets or e-mails removed from the code" in texts["j1"]["quality"]["flags"]
    assert {f["recordId"] for f in report.flagged} == {r["id"] for r in records}


def test_authors_are_a_stable_keyed_hash():
    assert author_id("Ana", "key-1") == author_id(" ana ", "key-1") != author_id("Ana", "key-2")
    assert author_id(None, "key-1") is None and len(author_id("Ana", "key-1")) == 16
    assert author_id("Ana", "key-1") == hmac.new(b"key-1", b"ana", hashlib.sha256).hexdigest()[:16]


def test_author_ids_in_records_follow_the_key(tmp_path):
    repo = _planted_repo(tmp_path)
    first = [r["provenance"]["authorId"] for r in export_repository(repo, options=ExportOptions(pseudonym_key="a"))]
    again = [r["provenance"]["authorId"] for r in export_repository(repo, options=ExportOptions(pseudonym_key="a"))]
    other = [r["provenance"]["authorId"] for r in export_repository(repo, options=ExportOptions(pseudonym_key="b"))]
    assert first == again and first != other and "Ana" not in json.dumps(first)


def test_hashes_and_test_vectors_in_ordinary_code_are_kept():
    code = ("def test_md5():\n    assert md5('Hello world') == '3e25960a79dbc69b674cd4ec67a72c62'\n"
            "    num = \"123456789ABCDEF0\"\n")
    scrubbed, counts = Scrubber().scrub_source(code, "t.py")
    assert scrubbed == code and not counts


def test_the_prefilter_finds_every_line_detect_secrets_flags():
    from detect_secrets.core.scan import _process_line_based_plugins

    lines = [line for source in (PY_SOURCE, JS_SOURCE) for line in source.splitlines()]
    flagged = {s.line_number - 1 for s in _process_line_based_plugins(list(enumerate(lines, 1)), "x.py")}
    assert flagged and flagged <= candidate_lines("\n".join(lines))


def test_gated_detectors_still_require_a_credential_word_and_literals_are_read_from_patterns():
    from detect_secrets.settings import get_plugins

    _detector()
    for plugin in get_plugins():
        if type(plugin).__name__ in GATED_DETECTORS:
            for pattern in plugin.denylist:
                if pattern.pattern.startswith("(?:(?<=\\W)|(?<=^))"):
                    # Some mandatory part of the pattern is a credential word, whichever branch matches,
                    # and an assignment follows it: what CREDENTIAL_ASSIGNMENT looks for.
                    assert any(all(CREDENTIAL_WORD.search(x) for x in found)
                               for found in required_literal_sets(pattern)), pattern.pattern
                    assert re.search(r"(?:key|pwd|password|pass|token)\)" + re.escape(ASSIGNMENT_SUFFIX),
                                     pattern.pattern), pattern.pattern
    assert required_literals(re.compile(r"AKIA[0-9A-Z]{16}")) == {"akia"}
    branches = required_literals(re.compile(r"(?:password|secret)=\d"))
    assert branches and all(any(x in match for x in branches) for match in ("password=1", "secret=2"))
    assert required_literals(re.compile(r"[a-z]+\d*")) is None


def test_tests_lose_their_secrets_but_keep_expected_hashes(tmp_path):
    repo = _planted_repo(tmp_path)
    (repo / "tests").mkdir()
    (repo / "tests" / "test_client.py").write_text(
        f"def check(candidate):\n    assert candidate('password') == '5f4dcc3b5aa765d61d8327deb882cf99'\n"
        f"    assert candidate.key == '{AWS}'\n")
    records = [r for r in export_repository(repo) if r["provenance"]["path"] == "client.py"]
    assert records and all(AWS not in r["tests"] for r in records)
    assert all("'5f4dcc3b5aa765d61d8327deb882cf99'" in r["tests"] for r in records)
    assert all("secrets or e-mails removed from the tests" in r["quality"]["flags"] for r in records)
