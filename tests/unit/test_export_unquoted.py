"""Unquoted credentials (`PASSWORD=hunter2`) that detect-secrets misses are removed from comments and config files."""

import json

from commentslab.services.corpus.humaneval import LICENSE_TEXT
from commentslab.services.exporter.export import export_repository
from commentslab.services.exporter.scrub import Scrubber


def test_unquoted_credentials_in_prose_are_removed_and_counted_but_code_and_placeholders_stay():
    scrubber = Scrubber()
    text = "Set PASSWORD=hunter2 and api_key: 9f8e7d6c5b; DB_PASS=s3cr3t! too. token: none, password: ${password}"
    assert scrubber.scrub_text(text) == (
        "Set PASSWORD=<secret> and api_key: <secret>; DB_PASS=<secret> too. token: none, password: ${password}")
    assert scrubber.removals["Secret Keyword"] == 3
    code = "password = read_password(user)\ntoken = tokens[0]\n"
    assert scrubber.scrub_source(code, "auth.py")[0] == code
    assert scrubber.scrub_source("API_TOKEN=ab12cd34ef\n", ".env")[0] == "API_TOKEN=<secret>\n"


def test_an_unquoted_password_in_a_comment_never_reaches_the_records(tmp_path):
    (tmp_path / "LICENSE").write_text(LICENSE_TEXT)
    (tmp_path / "app.py").write_text("def connect(host):\n    return host\n")
    sidecar = {"file": "app.py", "version": "2.1.0", "comments": [{
        "id": "c1", "line": 1, "text": "Staging login: ADMIN_PASSWORD=Tr0ub4dor&3 (rotate monthly)",
        "author": "dev", "created": "2025-01-01T00:00:00Z", "lineHash": "", "astAnchor": None}]}
    (tmp_path / "app.py.comments").write_text(json.dumps(sidecar))
    records = [dict(r) for r in export_repository(tmp_path)]
    dumped = json.dumps(records)
    assert records and "Tr0ub4dor" not in dumped and "ADMIN_PASSWORD=<secret>" in dumped
