"""Who answers an inbound Twilio call: the number's assistant or squad, else the customer's server.

With no assistant on the number, Vapi sends `assistant-request` to the number's server (else the
org's) and gives it 7.5 s end to end (vapi-api.md §4.1). The reply names an assistant or squad
(saved or transient, with overrides), a `destination` to forward to without AI, or an `error` to say
to the caller. Each failure ends the call with Vapi's reason for it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from opencall.schemas.assistant import CreateAssistantDTO
from opencall.store import tables
from opencall.webhooks.messages import server_of
from opencall.webhooks.send import WebhookError, request_reply

ASSISTANT_REQUEST_SECONDS = 7.5  # Vapi's fixed end-to-end budget for assistant-request
RESOLUTION_FIELDS = ("assistantId", "assistant", "squadId", "squad", "workflowId", "workflow")
OVERRIDE_FIELDS = ("assistantOverrides", "squadOverrides", "workflowOverrides")


@dataclass
class Answer:
    """How to answer: `call_fields` to store on the call, or an ending (with what to tell Twilio)."""

    call_fields: dict[str, Any] = field(default_factory=dict)
    ended_reason: str | None = None
    detail: str | None = None
    say: str | None = None
    """Spoken to the caller before hanging up (assistant-request `error`)."""
    forward_to: dict[str, Any] | None = None
    """A transfer destination to `<Dial>` instead of an assistant."""


async def answer_inbound(
    session: AsyncSession, number: tables.PhoneNumber, call: dict[str, Any]
) -> Answer:
    data = number.data
    if number.assistant_id or data.get("assistantId"):
        return Answer({"assistantId": number.assistant_id or data["assistantId"]})
    if data.get("squadId"):
        return Answer({"squadId": data["squadId"]})
    org = await session.get(tables.Org, number.org_id)
    server = server_of(data) or (org.server if org is not None and (org.server or {}).get("url") else None)
    if server is None:
        return _fallback(number, Answer(ended_reason="call-start-error-neither-assistant-nor-server-set"))
    message = {
        "type": "assistant-request", "timestamp": int(time.time() * 1000), "call": call,
        "phoneNumber": {"id": number.id, "orgId": number.org_id, **data}, "customer": call.get("customer") or {},
    }
    try:
        async with asyncio.timeout(ASSISTANT_REQUEST_SECONDS):
            reply = await request_reply(
                server, message, timeout_seconds=ASSISTANT_REQUEST_SECONDS, org_id=number.org_id
            )
    except (WebhookError, TimeoutError) as exc:
        detail = f"assistant-request to {server.get('url')} failed: {exc or 'timed out'}"
        return _fallback(number, Answer(ended_reason="assistant-request-failed", detail=detail))
    answer = await _read_reply(session, number.org_id, reply)
    return _fallback(number, answer) if answer.ended_reason and not (answer.say or answer.forward_to) else answer


async def _read_reply(session: AsyncSession, org_id: str, reply: dict[str, Any]) -> Answer:
    if reply.get("error"):
        return Answer(ended_reason="assistant-request-returned-error", detail=str(reply["error"]),
                      say=str(reply["error"]))
    if isinstance(reply.get("destination"), dict):
        return Answer(ended_reason="assistant-request-returned-forwarding-phone-number",
                      forward_to=reply["destination"])
    fields = {k: reply[k] for k in RESOLUTION_FIELDS + OVERRIDE_FIELDS if reply.get(k) is not None}
    if not any(k in fields for k in RESOLUTION_FIELDS):
        return Answer(ended_reason="assistant-request-returned-no-assistant",
                      detail="the reply named no assistant, squad or destination")
    problem = await _invalid(session, org_id, fields)
    if problem:
        return Answer(ended_reason="assistant-request-returned-invalid-assistant", detail=problem)
    return Answer(fields)


async def _invalid(session: AsyncSession, org_id: str, fields: dict[str, Any]) -> str | None:
    for key, table in (("assistantId", tables.Assistant), ("squadId", tables.Squad)):
        if key in fields:
            row = await session.get(table, str(fields[key]))
            if row is None or row.org_id != org_id:
                return f"{key} {fields[key]} does not exist"
    if "assistant" in fields:
        try:
            CreateAssistantDTO.model_validate(fields["assistant"])
        except ValidationError as exc:
            return f"assistant is not valid: {exc.errors()[0].get('msg')}"
    if "workflowId" in fields or "workflow" in fields:
        return "workflows are not supported"
    return None


def _fallback(number: tables.PhoneNumber, answer: Answer) -> Answer:
    destination = number.data.get("fallbackDestination")
    if isinstance(destination, dict):
        answer.forward_to = destination
    return answer
