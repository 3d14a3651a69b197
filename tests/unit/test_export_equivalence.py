"""The exporter's output, pinned: a varied repository exports to exactly the records it did before the speed work.

The repository mixes everything the exporter decides on: the benchmark's generated Python/JS/TS files
(moved code, an ignored folder), every sidecar version and variant, each anchor resolution and each
reject kind, planted secrets and e-mails in code, comments, params, AI metadata, replies and tests,
hashes that must stay, and files in languages without a parser. The digest of its records and report
was computed with the exporter as committed before the speed work on issue 3, before any of it; a change
that alters one value of the output fails here. Serial, parallel and written-to-JSONL exports must all
give those same records.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from commentslab.services.corpus.humaneval import LICENSE_TEXT
from commentslab.services.exporter import export as export_module
from commentslab.services.exporter.anchors import line_hash
from commentslab.services.exporter.export import ExportOptions, ExportReport, export_repository

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from export_benchmark import generate  # noqa: E402

# sha256 of the canonical JSON of (records, report) below, from the exporter before the speed work, then
# changed once on purpose: unquoted credentials (scrub.UNQUOTED_CREDENTIAL) are removed from comments and
# config files, which took two values this corpus had leaked (`password=<base64>` in an aiMetadata note,
# `API_KEY=<hex>` in a .env-style context) and nothing else; and changed again on purpose: authorIds are
# HMAC-SHA256 with the deployment's key (here "pinned") instead of sha256 of a salt and the name, so they
# cannot be recomputed from a list of names. With the former author_id the records are the former digest's.
# The report then gained `untested` (each record without usable tests, with why); the records and the rest
# of the report are unchanged: without that list the digest is the one before it,
# 069d20fb70d7788b004cd5f38ddf465af01adc0cd1f7257a6ff05f03caa16c13.
BASELINE_DIGEST = "76bdda56674956eab6a837007dea0b28115f7eb0af5daeba46025277f3448d0b"
BASELINE_RECORDS = 256

# Fake credentials in the shapes real ones have (none is live).
AWS = "AKIAZXCVBNMASDFGHJKL"
GITHUB = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"
STRIPE = "sk_live_" + "51HqLyjWDarjtT1zdp7dcXyZ"
SLACK = "xoxp-" + "210987654321-2109876543210-ZyXwVuTsRqPoNmLkJiHgFeDc"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI5ODc2NTQzMjEwIiwibmFtZSI6IkphbmUgUm9lIiwiaWF0IjoxNTE2MjM5MDIy"
       "fQ.4pcPyMD09olPSyXnrXCjTwXyr4BsezdI1AVTmud2fU4")
HEX_TOKEN = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
B64_TOKEN = "dGhpcyBpcyBhIHZlcnkgc2VjcmV0IHRva2VuIHZhbHVlIDEyMzQ1Njc4OTA="
KEY_BODY = "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi8nFaT1L0zHq4vV1aH5xKq2c8M4NrpRw7yRzbYcE6o8X1kVqP3yJ"
TELEGRAM = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def _python_source() -> str:
    return f'''"""Service client; owner: alice.ops@example.com."""
import os

AWS_ACCESS_KEY_ID = "{AWS}"
SIGNING_KEY = """-----BEGIN EC PRIVATE KEY-----
{KEY_BODY}
-----END EC PRIVATE KEY-----"""
CHECKSUM = "d41d8cd98f00b204e9800998ecf8427e"
SERVER = "93.184.216.34"


class Client:
    """Talks to the API."""

    def __init__(self, host, token=None):
        self.host = host
        self.token = token or "{GITHUB}"

    def login(self, user):
        api_token = "{HEX_TOKEN}"
        session = {{"user": user, "secret": "{B64_TOKEN}"}}
        return self.post("/login", session, api_token)

    @staticmethod
    def ping():
        return "pong"


def charge(amount, currency="eur"):
    stripe_key = "{STRIPE}"
    if amount <= 0:
        raise ValueError("amount")
    return post("https://api.stripe.com", amount, stripe_key)


async def notify(bot):
    telegram = "{TELEGRAM}"
    await bot.send(telegram, "done")
    return True
'''


def _script_source(typed: bool) -> str:
    t = ": string" if typed else ""
    return f'''import {{ send }} from "./net";

const slack = "{SLACK}";

export class Mailer {{
  constructor(from{t}) {{
    this.from = from;
  }}

  mail(to{t}) {{
    const db_password = "Sup3r-s3cret-Passw0rd";
    const jwt = "{JWT}";
    return send(slack, to, jwt, db_password);
  }}
}}

export const owner = () => {{
  const contact = "bob.builder@corp.example.org";
  return contact;
}};

function quiet(n) {{
  let total = 0;
  for (let i = 0; i < n; i++) {{
    total += i;
  }}
  return total;
}}
'''


TSX_SOURCE = '''import React from "react";

export const Badge = ({ label }: { label: string }) => {
  const text = label.toUpperCase();
  return <span className="badge">{text}</span>;
};

export function Panel({ title }: { title: string }) {
  const heading = title.trim();
  return <div>{heading}</div>;
}
'''

GO_SOURCE = "".join(f"// line {i}\n" for i in range(1, 9)) + 'const apiKey = "' + HEX_TOKEN[::-1] + '"\n' + "".join(
    f"// line {i}\n" for i in range(10, 21))


def _marker(mid: str, cid: str, lines: list[str], line: int, end: int, symbol: list[str], **extra) -> dict:
    marker = {"id": mid, "line": line, "endLine": end, "commentIds": [cid], "lineHash": line_hash(lines[line - 1]),
              "astAnchor": {"symbolPath": symbol, "symbolKind": "Function"}, "lineText": lines[line - 1].strip(),
              "prevLineText": lines[line - 2].strip() if line > 1 else "", "nextLineText": lines[line].strip()}
    marker.update(extra)
    return marker


def _write(repo: Path, name: str, content: str | bytes | dict) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")


def varied_repository(root: Path) -> Path:
    """A repository with every shape of input the exporter handles (see the module docstring)."""
    repo = root / "varied"
    generate(repo, 60)  # src/pkg000/module_000NN.{py,js,ts}, build/ ignored, LICENSE, .gitignore
    py = _python_source()
    py_lines = py.splitlines()
    at = {text.strip(): n for n, text in enumerate(py_lines, 1)}
    login, charge, notify = at["def login(self, user):"], at["def charge(amount, currency=\"eur\"):"], \
        at["async def notify(bot):"]
    _write(repo, "app/client.py", py)
    _write(repo, "app/client.py.comments", {"version": "2.1.0", "file": "client.py", "ghostMarkers": [
        _marker("g1", "c1", py_lines, login, login + 3, ["Client", "login"]),
        _marker("g2", "c2", py_lines, charge, charge + 4, ["charge"]),
        _marker("g3", "c3", py_lines, notify + 1, notify + 1, ["notify"], lineHash="0" * 16),
        _marker("g4", "c4", py_lines, 3, 3, ["gone"], lineHash="f" * 16),
        _marker("g5", "c5", py_lines, 9, 9, ["gone"], lineHash="e" * 16, prevLineText="x = 0", nextLineText="")],
        "comments": [
        {"id": "c1", "line": login, "text": f"Login posts token={HEX_TOKEN[:40]} for ${{user}}; ask carol@example.net",
         "author": "Ana Lima <ana.lima@example.com>", "created": "2025-10-01T10:00:00Z", "tag": "FIXME",
         "ghostMarkerId": "g1", "params": {"user": {"value": "dave@example.io", "type": "manual"}},
         "aiMetadata": {"complexity": {"cyclomatic": 1}, "tokens": {"heuristic": 40}, "provider": "openai",
                        "note": f"password={B64_TOKEN}"},
         "replies": [{"id": "r1", "text": f"rotate {AWS} please", "author": "Bo", "created": "2025-10-02"},
                     {"id": "r2", "text": "done, see erin@example.com", "author": "Cy"}], "status": "open"},
        {"id": "c2", "line": charge, "startLine": charge, "endLine": charge + 4, "text": "Charges ${n} cards",
         "ghostMarkerId": "g2", "params": [{"name": "n", "example": 3}, {"name": "key", "value": STRIPE}],
         "aiMeta": "low"},
        {"id": "c3", "line": notify + 1, "startLine": notify + 1, "endLine": notify + 2, "text": "the bot's token",
         "ghostMarkerId": "g3", "tag": "NOTE"},
        {"id": "c4", "line": 3, "text": "found by its neighbours", "ghostMarkerId": "g4"},
        {"id": "c5", "line": 9, "text": "orphaned: hash, symbol and neighbours are gone", "ghostMarkerId": "g5"}]})
    _write(repo, "app/tests/test_client.py",
           f"def check(candidate):\n    assert candidate('x') == '5f4dcc3b5aa765d61d8327deb882cf99'\n"
           f"    assert candidate.key == '{AWS}'\n    owner = 'frank@example.com'\n")
    for name, typed in (("mailer.js", False), ("mailer.ts", True)):
        script = _script_source(typed)
        lines = script.splitlines()
        mail = next(n for n, t in enumerate(lines, 1) if t.strip().startswith("mail("))
        quiet = next(n for n, t in enumerate(lines, 1) if t.startswith("function quiet"))
        _write(repo, f"web/{name}", "\n\n" + script)  # moved down two lines since the sidecar was written
        _write(repo, f"web/{name}.comments", {"version": "2.0.3", "file": name, "ghostMarkers": [
            {"id": "m1", "line": mail, "endLine": mail + 4, "commentId": "k1", "lineHash": line_hash(lines[mail - 1]),
             "anchor": {"symbolPath": ["Mailer", "mail"]}, "anchorType": "Method"},
            {"id": "m2", "line": quiet, "commentId": "k2", "lineHash": line_hash(lines[quiet - 1]), "anchor": "nope"},
            {"id": "m3", "line": 3, "commentId": "k3", "lineHash": "1" * 16,
             "prevLineText": "", "nextLineText": "", "anchor": "owner"}],
            "comments": [{"id": "k1", "line": mail, "text": "Mails with the db password", "author": "Dee"},
                         {"id": "k2", "line": quiet, "text": "sums ${n}", "params": {"n": 3}, "author": "dee"},
                         {"id": "k3", "line": 3, "text": "who owns it", "timestamp": "2025-01-01"}]})
    tsx = TSX_SOURCE.splitlines()
    _write(repo, "web/Badge.tsx", TSX_SOURCE)
    _write(repo, "web/Badge.tsx.comments", {"version": "1.0", "fileName": "Badge.tsx", "comments": [
        {"id": 1, "line": 4, "text": "Upper-cases", "author": "Eve", "timestamp": "2025-10-01T10:00:00Z"},
        {"id": 2, "line": 9, "startLine": 9, "endLine": 10, "text": "the heading", "tag": "QUESTION"},
        {"id": 3, "line": len(tsx) + 40, "text": "past the end"}]})
    _write(repo, "cmd/main.go", GO_SOURCE)
    _write(repo, "cmd/main.go.comments", {"version": "1.3", "file": "main.go", "comments": [
        {"id": "g1", "line": 9, "text": "the key", "author": "Fay"},
        {"id": "g2", "line": 15, "startLine": 15, "endLine": 17, "text": "three lines", "tag": "TODO"}]})
    _write(repo, "cmd/deploy.env", f"REGION=eu-west-1\nAPI_KEY={HEX_TOKEN}\nADMIN=root@example.com\n")
    _write(repo, "cmd/deploy.env.comments", {"version": "2.1.1", "file": "deploy.env", "comments": [
        {"id": "e1", "line": 2, "text": "set per environment"}, {"id": "e2", "line": 1, "text": "the region"}]})
    # Rejects of every kind, beside good files.
    good = "def add(a, b):\n    total = a + b\n    return total\n"
    _write(repo, "bad/broken.py", good)
    _write(repo, "bad/broken.py.comments", "{not json")
    _write(repo, "bad/future.py", good)
    _write(repo, "bad/future.py.comments", {"version": "3.0", "file": "future.py", "comments": []})
    _write(repo, "bad/lost.py.comments", {"version": "1.0", "file": "lost.py", "comments": []})
    _write(repo, "bad/escape.py.comments", {"version": "1.0", "file": "../../../etc/passwd", "comments": []})
    _write(repo, "bad/syntax.py", "def broken(:\n    pass\n")
    _write(repo, "bad/syntax.py.comments", {"version": "1.0", "file": "syntax.py",
                                            "comments": [{"id": "s", "line": 1, "text": "t"}]})
    _write(repo, "bad/latin.py", "x = 'caf\xe9'\n".encode("latin-1"))
    _write(repo, "bad/latin.py.comments", {"version": "1.0", "file": "latin.py",
                                           "comments": [{"id": "l", "line": 1, "text": "t"}]})
    _write(repo, "bad/blob.py", b"\x00\x01binary")
    _write(repo, "bad/blob.py.comments", {"version": "1.0", "file": "blob.py",
                                          "comments": [{"id": "b", "line": 1, "text": "t"}]})
    _write(repo, "bad/field.py", good)
    _write(repo, "bad/field.py.comments", {"version": "2.1.0", "file": "field.py",
                                           "comments": [{"id": "f", "line": "two", "text": "t"}]})
    _write(repo, "bad/doc.py", 'def only():\n    """Nothing else."""\n')
    _write(repo, "bad/doc.py.comments", {"version": "1.0", "file": "doc.py",
                                         "comments": [{"id": "d", "line": 1, "text": "empty"}]})
    # A nested .gitignore that ignores a file and re-includes another.
    _write(repo, "gen/.gitignore", "*.gen.py.comments\n!keep.gen.py.comments\n")
    for name in ("skip.gen.py", "keep.gen.py"):
        _write(repo, f"gen/{name}", good)
        _write(repo, f"gen/{name}.comments", {"version": "1.0", "file": name,
                                              "comments": [{"id": "a", "line": 2, "text": "adds"}]})
    return repo


def _canonical(records: list[dict], report: ExportReport) -> str:
    summary = report.to_dict()
    for volatile in ("repository", "seconds"):
        summary.pop(volatile)
    return json.dumps([[dict(r) for r in records], summary], sort_keys=True, ensure_ascii=False)


def export_digest(repo: Path, workers: int = 1) -> tuple[str, list[dict]]:
    """(sha256 of the canonical output, the records) of one export of `repo`."""
    report = ExportReport("varied")
    options = ExportOptions(workers=workers, pseudonym_key="pinned")
    records = list(export_repository(repo, report=report, options=options))
    return hashlib.sha256(_canonical(records, report).encode()).hexdigest(), records


@pytest.fixture(scope="module")
def varied(tmp_path_factory) -> Path:
    return varied_repository(tmp_path_factory.mktemp("equivalence"))


def test_the_varied_repository_exports_exactly_what_it_did_before_the_speed_work(varied):
    digest, records = export_digest(varied)
    assert len(records) == BASELINE_RECORDS
    assert digest == BASELINE_DIGEST


def test_parallel_workers_write_the_same_records_and_report_as_one_process(varied, monkeypatch):
    monkeypatch.setattr(export_module, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(export_module, "PARALLEL_CHUNK", 7)
    assert export_digest(varied, workers=2)[0] == BASELINE_DIGEST


def test_the_varied_repository_covers_what_it_claims_to(varied):
    report = ExportReport("varied")
    records = list(export_repository(varied, report=report, options=ExportOptions(workers=1, pseudonym_key="pinned")))
    summary = report.to_dict()
    assert set(summary["resolutions"]) == {"stored_line", "line_hash", "ast_symbol", "nearest_hash", "fingerprint",
                                           "orphaned"}
    assert {"invalid_json", "unknown_version", "missing_source", "outside_repository", "syntax_error", "not_utf8",
            "binary_file", "invalid_field", "orphaned", "line_out_of_range", "no_code_unit"} <= set(
        summary["errorsByKind"])
    assert {"AWS Access Key", "GitHub Token", "Stripe Access Key", "Slack Token", "JSON Web Token", "Private Key",
            "Secret Keyword", "Email"} <= set(summary["removals"])
    assert {r["language"] for r in records} == {"python", "javascript", "typescript", "tsx", "other"}
    written = json.dumps(records)
    for planted in (AWS, GITHUB, STRIPE, SLACK, JWT, KEY_BODY, "alice.ops@example.com", "carol@example.net"):
        assert planted not in written
    # A quoted token in code goes; detect-secrets itself leaves unquoted `KEY=value` in .env and comment text.
    assert 'api_token = \\"<secret>\\"' in written
    assert "d41d8cd98f00b204e9800998ecf8427e" in written and "5f4dcc3b5aa765d61d8327deb882cf99" in written
    assert not any("skip.gen.py" in r["provenance"]["path"] or "build/" in r["provenance"]["path"] for r in records)


def test_records_written_as_json_lines_are_the_same_records(varied, tmp_path):
    from commentslab.services.common.artifacts import read_jsonl
    from commentslab.services.exporter.export import run_export

    out = tmp_path / "records.jsonl"
    report = run_export(varied, out, options=ExportOptions(workers=1, pseudonym_key="pinned"))
    written = list(read_jsonl(out))
    assert len(written) == report.records == BASELINE_RECORDS
    assert hashlib.sha256(_canonical(written, report).encode()).hexdigest() == BASELINE_DIGEST


def test_nan_and_huge_numbers_in_a_sidecar_are_written_as_the_standard_library_writes_them(tmp_path):
    from commentslab.services.exporter.export import encode_record, run_export

    repo = tmp_path / "odd"
    _write(repo, "LICENSE", LICENSE_TEXT)
    _write(repo, "f.py", "def f(x):\n    y = x + 1\n    return y\n")
    _write(repo, "f.py.comments", '{"version": "1.0", "file": "f.py", "comments": [{"id": "c", "line": 2, "text": "t",'
                                  ' "params": {"nan": NaN, "inf": 1e999, "big": 123456789012345678901234567890},'
                                  ' "aiMetadata": {"score": -Infinity}}]}')
    _write(repo, "g.py", "def g(x):\n    y = x * 2\n    return y\n")
    _write(repo, "g.py.comments", {"version": "1.0", "file": "g.py", "comments": [
        {"id": "c", "line": 2, "text": "t", "params": {"big": 2 ** 70, "small": 0.1}}]})
    out = tmp_path / "records.jsonl"
    run_export(repo, out)
    lines = out.read_text().splitlines()
    assert '"params":{"nan":NaN,"inf":Infinity,"big":123456789012345678901234567890}' in lines[0]
    assert '"aiMetadata":{"score":-Infinity}' in lines[0]
    assert '"params":{"big":1180591620717411303424,"small":0.1}' in lines[1]  # orjson refuses it; json writes it
    record = {"a": [1, 2.5, None, True, "é\u2028\x00"], "b": {"c": -0.0, "d": 1e-7}}
    assert json.loads(encode_record(record)) == json.loads(json.dumps(record))
