"""The JSON Schema of results.json (results.schema.json beside this file) and the one check against it."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from commentslab.services.common.errors import InputError

SCHEMA_FILE = Path(__file__).with_name("results.schema.json")


class ResultsSchemaError(InputError):
    """results.json breaks its schema: ``field`` is the JSON path of the first offending value
    ("significance/pass@1/pValue"; "(top level)" for the object itself), ``reason`` what is wrong with it."""

    def __init__(self, path: str, field: str, reason: str):
        super().__init__(path, f"field {field}: {reason} (results.schema.json).")
        self.field = field
        self.reason = reason


def results_schema() -> dict:
    """The JSON Schema of results.json (services/evaluator/results.schema.json)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@functools.cache
def _validator():
    import jsonschema

    return jsonschema.Draft202012Validator(results_schema())


def base_model_of(results: dict) -> str:
    """A run's base model's display name: its `baseModel`, or for results written before that field existed,
    the name derived from the config's `model` (as the runners derive it)."""
    if results.get("baseModel"):
        return results["baseModel"]
    from commentslab.services.common.config import ModelConfig, display_name

    model = (results.get("config") or {}).get("model")
    try:
        return display_name(ModelConfig.model_validate(model))
    except ValueError:
        return str((model or {}).get("kind") or "unknown")


def validate_results(results: object, source: str = "results.json") -> None:
    """Raise ResultsSchemaError naming the first field of ``results`` (in path order) that breaks the schema,
    with the reason; ``source`` names the file in the message.

    Results written before `baseModel` existed are accepted: it is checked as `base_model_of` derives it.
    """
    if isinstance(results, dict) and "baseModel" not in results and isinstance(results.get("config"), dict):
        results = {**results, "baseModel": base_model_of(results)}
    errors = sorted(_validator().iter_errors(results), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    error = errors[0]
    where = [str(p) for p in error.absolute_path]
    if error.validator == "required":  # name the missing field itself, not the object that lacks it
        missing = next(name for name in error.validator_value if name not in error.instance)
        raise ResultsSchemaError(source, "/".join([*where, missing]), "is required but missing")
    raise ResultsSchemaError(source, "/".join(where) or "(top level)", error.message)
