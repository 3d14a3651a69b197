"""The chart's README lists every value of values.yaml with its default, and values.schema.json makes
`helm lint` refuse an unknown key or a value of the wrong type."""
import json
import re
import subprocess
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "commentslab"


def _default(value) -> str:
    text = json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= 60 else "(see values.yaml)"


def _expected_rows() -> dict[str, str | None]:
    """key -> default as the README shows it (None for a section's own row, which has no default)."""
    rows: dict[str, str | None] = {}
    for key, value in yaml.safe_load((CHART / "values.yaml").read_text()).items():
        if isinstance(value, dict) and value:
            for sub, inner in value.items():
                rows[f"{key}.{sub}"] = _default(inner)
        else:
            rows[key] = _default(value)
    return rows


def _readme_rows() -> dict[str, str | None]:
    rows: dict[str, str | None] = {}
    for key, default in re.findall(r"(?m)^\| `([^`]+)` \| (`[^|]*`|) \|", (CHART / "README.md").read_text()):
        rows[key] = default[1:-1] if default else None
    return rows


def test_the_readme_values_table_matches_values_yaml():
    documented = {key: default for key, default in _readme_rows().items() if default is not None}
    assert documented == _expected_rows(), "helm/commentslab/README.md's values table differs from values.yaml"


def test_the_schema_covers_every_top_level_value():
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(schema["properties"]) == set(values) and schema["additionalProperties"] is False


def test_helm_lint_refuses_an_unknown_key_and_a_mistyped_value(helm):
    assert subprocess.run([helm, "lint", str(CHART)], capture_output=True, text=True).returncode == 0
    for setting, said in (("statz.replicas=2", "additional properties 'statz' not allowed"),
                          ("stats.replicas=two", "want integer")):
        done = subprocess.run([helm, "lint", str(CHART), "--set", setting], capture_output=True, text=True)
        assert done.returncode != 0 and said in done.stdout + done.stderr, setting
