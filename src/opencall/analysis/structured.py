"""JSON-schema side of `structuredData`: the constrained-decoding request, parsing, validation.

The schema goes to the model as OpenAI's `response_format: {type: "json_schema"}`; servers that
implement it (OpenAI in strict mode, vLLM, llama.cpp, Groq, ...) decode under the schema, so the
output is valid by construction. Whatever the model did, the output is validated here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import exceptions, validators

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?```$", re.DOTALL)


def schema_problem(schema: Any) -> str | None:
    """Why `schema` is not a usable JSON schema, or None."""
    if not isinstance(schema, Mapping):
        return "schema is not an object"
    try:
        validators.validator_for(schema).check_schema(schema)
    except exceptions.SchemaError as exc:
        return f"invalid JSON schema: {exc.message}"
    return None


def _subschemas(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield schema
    children: list[Any] = []
    for key in ("properties", "$defs", "definitions"):
        children.extend((schema.get(key) or {}).values())
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        children.extend(schema.get(key) or [])
    if isinstance(schema.get("items"), Mapping):
        children.append(schema["items"])
    for child in children:
        if isinstance(child, Mapping):
            yield from _subschemas(child)


def strict_compatible(schema: Mapping[str, Any]) -> bool:
    """OpenAI's strict mode needs every object closed (`additionalProperties: false`) and fully required;
    asking for it on another schema is a 400, so strict is only requested when the schema allows it."""
    for sub in _subschemas(schema):
        if sub.get("type") == "object" or "properties" in sub:
            if sub.get("additionalProperties") is not False:
                return False
            if set(sub.get("required") or ()) != set(sub.get("properties") or {}):
                return False
    return True


def response_format(schema: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI Chat Completions `response_format` asking for output under `schema`."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "structured_data", "schema": dict(schema), "strict": strict_compatible(schema)},
    }


def parse_json(text: str) -> Any:
    """The JSON value in a model's answer: bare, in a ``` fence, or the first value after some words."""
    text = text.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
        if not starts:
            raise
        value, _ = json.JSONDecoder().raw_decode(text[min(starts) :])
        return value


def validation_error(value: Any, schema: Mapping[str, Any]) -> str | None:
    """The most relevant reason `value` fails `schema`, or None when it validates."""
    validator = validators.validator_for(schema)(schema)
    error = exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where or '(root)'}: {error.message}"
