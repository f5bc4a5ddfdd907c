"""Pydantic validation errors as Vapi (NestJS class-validator) messages.

Vapi answers a bad body with `400 {"message": ["name must be shorter than or equal to 40 characters",
"model.property foo should not exist", ...], "error": "Bad Request", "statusCode": 400}`: one string per
problem, the field path dotted from the body root. Pydantic's `loc` also holds segments that are not in the
body: the tag of a discriminated union (`("model", "openai", "temperature")`) and the member label of a
plain union (`("message", "str")`). Given the body, `vapi_messages` keeps exactly the segments that index
into it; without it, known tags and labels are dropped by name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic_core import ErrorDetails

from opencall.schemas.call import Transport
from opencall.schemas.common import TransferDestination, union_members
from opencall.schemas.llm_models import LLMModel
from opencall.schemas.phone_number import CreatePhoneNumberDTO
from opencall.schemas.plans import SmartEndpointingPlan
from opencall.schemas.tools import CreateToolDTO, ToolMessage
from opencall.schemas.transcribers import Transcriber
from opencall.schemas.voices import Voice

_LOCATIONS = ("body", "query", "path", "header", "cookie")

_UNION_TAGS: dict[str, set[str]] = {
    "model": set(union_members(LLMModel, "provider")),
    "voice": set(union_members(Voice, "provider")),
    "transcriber": set(union_members(Transcriber, "provider")),
    "transport": set(union_members(Transport, "provider")),
    "smartEndpointingPlan": set(union_members(SmartEndpointingPlan, "provider")),
    "fallbackDestination": {"number", "sip"},
    "destination": {"number", "sip"},
}
"""Field name → tags of the discriminated union it holds (used when the body is not available)."""

_LIST_UNION_TAGS: dict[str, set[str]] = {
    "tools": set(union_members(CreateToolDTO, "type")),
    "tools:append": set(union_members(CreateToolDTO, "type")),
    "destinations": set(union_members(TransferDestination, "type")),
    "messages": set(union_members(ToolMessage, "type")),
}
"""List field name → tags of the discriminated union its items are."""

_ROOT_TAGS = set(union_members(CreateToolDTO, "type")) | set(union_members(CreatePhoneNumberDTO, "provider"))
"""Tags of the bodies that are unions themselves (`POST /tool`, `POST /phone-number`)."""

_SCALAR_LABELS = {"str", "int", "float", "bool", "none", "list", "dict"}


def _is_label(segment: str) -> bool:
    """A plain-union member label: `str`, `dict[str,any]`, `literal['off']`, `CustomMessage`, ..."""
    return segment in _SCALAR_LABELS or "[" in segment or segment[:1].isupper()


def _is_tag_of(node: Any, segment: str) -> bool:
    return isinstance(node, dict) and segment in (node.get("provider"), node.get("type"))


def _resolve(node: Any, loc: Sequence[str | int], missing: bool) -> list[str | int] | None:
    """The segments of `loc` that index into `node` (dropping union tags and labels), or None if `loc`
    cannot be read against `node`. `missing`: the last segment names a key absent from the body."""
    if not loc:
        return []
    segment, rest = loc[0], loc[1:]
    if isinstance(segment, int):
        if isinstance(node, list) and 0 <= segment < len(node):
            tail = _resolve(node[segment], rest, missing)
            return None if tail is None else [segment, *tail]
        return None
    if isinstance(node, dict) and segment in node:
        tail = _resolve(node[segment], rest, missing)
        if tail is not None:
            return [segment, *tail]
    if not rest and missing and isinstance(node, dict) and segment not in node:
        return [segment]
    if _is_tag_of(node, segment) or _is_label(segment):
        return _resolve(node, rest, missing)
    return None


def _drop_tags_by_name(loc: Sequence[str | int]) -> list[str | int]:
    kept: list[str | int] = []
    for index, segment in enumerate(loc):
        if isinstance(segment, str):
            previous = loc[index - 1] if index >= 1 else None
            before_previous = loc[index - 2] if index >= 2 else None
            if (
                _is_label(segment)
                or (isinstance(previous, str) and segment in _UNION_TAGS.get(previous, ()))
                or (
                    isinstance(previous, int)
                    and isinstance(before_previous, str)
                    and segment in _LIST_UNION_TAGS.get(before_previous, ())
                )
                or (index == 0 and len(loc) > 1 and segment in _ROOT_TAGS)
            ):
                continue
        kept.append(segment)
    return kept


def _field_path(error: ErrorDetails, body: Any) -> list[str | int]:
    loc: list[str | int] = list(error["loc"])
    if loc and loc[0] in _LOCATIONS:
        loc = loc[1:]
    if body is not None:
        resolved = _resolve(body, loc, missing=error["type"] == "missing")
        if resolved is not None:
            return resolved
    return _drop_tags_by_name(loc)


def _quoted_values(expected: str) -> str:
    """`"'openai', 'anthropic' or 'groq'"` → `"openai, anthropic, groq"`."""
    values = re.findall(r"'((?:[^'\\]|\\.)*)'", expected)
    return ", ".join(values) if values else expected


def _number(value: Any) -> Any:
    """`10.0` → `10`, as JavaScript prints numbers."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _message(error: ErrorDetails, path: str) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    subject = path or "body"
    if kind == "extra_forbidden":
        parent, _, name = path.rpartition(".")
        return f"{parent}.property {name} should not exist" if parent else f"property {name} should not exist"
    if kind == "json_invalid":
        return f"body must be valid JSON ({ctx.get('error', error['msg'])})"
    if kind == "missing":
        return f"{subject} should not be empty"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        discriminator = str(ctx["discriminator"]).strip("'")
        field = f"{path}.{discriminator}" if path else discriminator
        if kind == "union_tag_not_found":
            return f"{field} should not be empty"
        return f"{field} must be one of the following values: {_quoted_values(ctx['expected_tags'])}"
    if kind in ("literal_error", "enum"):
        return f"{subject} must be one of the following values: {_quoted_values(str(ctx['expected']))}"
    simple = _SIMPLE_MESSAGES.get(kind)
    if simple is not None:
        return f"{subject} {simple.format(**{key: _number(value) for key, value in ctx.items()})}"
    if kind == "value_error":
        return f"{subject} {ctx['error']}"
    return f"{subject} {error['msg']}"


_SIMPLE_MESSAGES = {
    "string_too_long": "must be shorter than or equal to {max_length} characters",
    "string_too_short": "must be longer than or equal to {min_length} characters",
    "too_short": "must contain at least {min_length} elements",
    "too_long": "must contain no more than {max_length} elements",
    "greater_than_equal": "must not be less than {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must not be greater than {le}",
    "less_than": "must be less than {lt}",
    "string_pattern_mismatch": "must match /{pattern}/ regular expression",
    "string_type": "must be a string",
    "bool_type": "must be a boolean value",
    "bool_parsing": "must be a boolean value",
    "int_type": "must be an integer number",
    "int_parsing": "must be an integer number",
    "int_from_float": "must be an integer number",
    "float_type": "must be a number conforming to the specified constraints",
    "float_parsing": "must be a number conforming to the specified constraints",
    "finite_number": "must be a number conforming to the specified constraints",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be an array",
    "datetime_type": "must be a valid ISO 8601 date string",
    "datetime_parsing": "must be a valid ISO 8601 date string",
    "datetime_from_date_parsing": "must be a valid ISO 8601 date string",
}


def vapi_messages(errors: Sequence[ErrorDetails], prefix: str = "", body: Any = None) -> list[str]:
    """One Vapi-style message per error, each naming its field path from the body root.

    `prefix` is prepended to every path (e.g. `"assistant."` when validating a nested object alone);
    `body` is the JSON that was validated (FastAPI: `RequestValidationError.body`) and makes the paths
    exact; without it union tags are recognised by name.
    """
    messages: list[str] = []
    for error in errors:
        path = prefix + ".".join(str(segment) for segment in _field_path(error, body))
        message = _message(error, path.rstrip("."))
        if message not in messages:
            messages.append(message)
    return messages
