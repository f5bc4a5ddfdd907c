"""The assistant a call runs: saved or transient, squad member 0, overrides applied, `{{variables}}` filled.

Vapi fills LiquidJS `{{ name }}` placeholders from `assistantOverrides.variableValues` plus its own
defaults (`now`, `date`, `time`, `year`, `month`, `day`, `customer.number`); unknown names are left as
they are so a typo is visible in the transcript rather than silently blank.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opencall.errors import BadRequest
from opencall.store import tables

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


def default_variables(call: dict[str, Any], now: datetime) -> dict[str, Any]:
    customer = call.get("customer") or {}
    return {
        "now": now.strftime("%b %d, %Y %I:%M %p UTC"),
        "date": now.strftime("%b %d, %Y"),
        "time": now.strftime("%I:%M %p"),
        "year": now.strftime("%Y"),
        "month": now.strftime("%B"),
        "day": now.strftime("%d"),
        "customer": {k: v for k, v in customer.items() if isinstance(v, str)},
    }


def lookup(variables: dict[str, Any], dotted: str) -> Any:
    value: Any = variables
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, str):

        def fill(match: re.Match[str]) -> str:
            found = lookup(variables, match.group(1))
            return match.group(0) if found is None or isinstance(found, dict) else str(found)

        return PLACEHOLDER.sub(fill, value)
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    return value


def apply_overrides(assistant: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Shallow, like PATCH: each override key replaces the assistant's; `tools:append` extends model.tools."""
    merged = {
        **assistant,
        **{k: v for k, v in overrides.items() if k not in ("variableValues", "tools:append")},
    }
    if appended := overrides.get("tools:append"):
        model = dict(merged.get("model") or {})
        model["tools"] = [*(model.get("tools") or []), *appended]
        merged["model"] = model
    return merged


async def saved_assistant(session: AsyncSession, org_id: str, assistant_id: str) -> dict[str, Any]:
    row = await session.scalar(
        select(tables.Assistant).where(tables.Assistant.id == assistant_id, tables.Assistant.org_id == org_id)
    )
    if row is None:
        raise BadRequest(f"Couldn't Get Assistant. `assistantId` {assistant_id} Does Not Exist.")
    return {"id": row.id, **copy.deepcopy(row.data)}


async def first_squad_member(session: AsyncSession, org_id: str, call: dict[str, Any]) -> dict[str, Any]:
    squad = call.get("squad")
    if squad is None and call.get("squadId"):
        row = await session.scalar(
            select(tables.Squad).where(tables.Squad.id == call["squadId"], tables.Squad.org_id == org_id)
        )
        squad = row.data if row else None
    if not squad or not squad.get("members"):
        raise BadRequest("Couldn't Get Squad.")
    member = squad["members"][0]
    if member.get("assistantId"):
        assistant = await saved_assistant(session, org_id, member["assistantId"])
    else:
        assistant = copy.deepcopy(member.get("assistant") or {})
    for overrides in (squad.get("membersOverrides"), member.get("assistantOverrides")):
        if overrides:
            assistant = apply_overrides(assistant, overrides)
    return assistant


async def attach_saved_tools(session: AsyncSession, org_id: str, assistant: dict[str, Any]) -> None:
    """`model.toolIds` name saved tools; the engine needs their full configuration."""
    model = assistant.get("model") or {}
    tool_ids = model.get("toolIds") or []
    if not tool_ids:
        return
    rows = await session.scalars(
        select(tables.Tool).where(tables.Tool.org_id == org_id, tables.Tool.id.in_(tool_ids))
    )
    saved = [{"id": row.id, **row.data} for row in rows]
    model["tools"] = [*(model.get("tools") or []), *saved]
    assistant["model"] = model


async def resolve_call_assistant(
    session: AsyncSession, org_id: str, call: dict[str, Any], now: datetime | None = None
) -> dict[str, Any]:
    if call.get("assistantId"):
        assistant = await saved_assistant(session, org_id, call["assistantId"])
    elif call.get("assistant"):
        assistant = copy.deepcopy(call["assistant"])
    else:
        assistant = await first_squad_member(session, org_id, call)
    overrides = call.get("assistantOverrides") or {}
    assistant = apply_overrides(assistant, overrides)
    await attach_saved_tools(session, org_id, assistant)
    variables = {
        **default_variables(call, now or datetime.now(UTC)),
        **(overrides.get("variableValues") or {}),
    }
    return substitute(assistant, variables)  # type: ignore[no-any-return]
