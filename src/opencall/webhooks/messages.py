"""Which server messages a call sends, to which server, in Vapi's envelope."""

from __future__ import annotations

import time
from typing import Any

DEFAULT_SERVER_MESSAGES = frozenset(
    {
        "conversation-update",
        "end-of-call-report",
        "function-call",
        "hang",
        "speech-update",
        "status-update",
        "tool-calls",
        "transfer-destination-request",
        "handoff-destination-request",
        "user-interrupted",
        "assistant.started",
    }
)
"""`assistant.serverMessages` default (vapi-api.md §3.1); transcript, model-output, voice-input are opt-in."""

REPLY_EXPECTED = frozenset(
    {
        "tool-calls",
        "assistant-request",
        "transfer-destination-request",
        "handoff-destination-request",
        "knowledge-base-request",
        "voice-request",
        "call.endpointing.request",
    }
)
"""Types the customer's server answers; sent at once within their budget, never through the outbox."""

FINAL_TRANSCRIPTS_ONLY = 'transcript[transcriptType="final"]'

CALL_FIELDS_LEFT_OUT = ("messages", "artifact")
"""The `call` inside each envelope omits what the message itself carries, to keep bodies bounded."""


def wanted(assistant: dict[str, Any], message: dict[str, Any]) -> bool:
    chosen = assistant.get("serverMessages")
    kinds = DEFAULT_SERVER_MESSAGES if chosen is None else frozenset(chosen)
    kind = message.get("type")
    if kind == "transcript" and kind not in kinds:
        return FINAL_TRANSCRIPTS_ONLY in kinds and message.get("transcriptType") == "final"
    return kind in kinds


def server_of(owner: dict[str, Any] | None) -> dict[str, Any] | None:
    """`owner.server` if it has a url, else the 2024 fields `serverUrl` / `serverUrlSecret`."""
    if not owner:
        return None
    server = owner.get("server")
    if isinstance(server, dict) and server.get("url"):
        return server
    if owner.get("serverUrl"):
        legacy: dict[str, Any] = {"url": owner["serverUrl"]}
        if owner.get("serverUrlSecret"):
            legacy["secret"] = owner["serverUrlSecret"]
        return legacy
    return None


def target_server(
    assistant: dict[str, Any], phone_number: dict[str, Any] | None, org_server: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Precedence (vapi-api.md §4.1): call/assistant > phone number > org.

    The call's own server (launch-contract `webhookUrl`, `assistantOverrides.server`) is already merged
    into the resolved assistant, so it wins over the saved assistant's. Tool servers win for tool-calls;
    the tool runner picks those itself.
    """
    return (
        server_of(assistant)
        or server_of(phone_number)
        or (org_server if (org_server or {}).get("url") else None)
    )


def call_snapshot(call: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in call.items() if k not in CALL_FIELDS_LEFT_OUT}


def envelope(
    message: dict[str, Any],
    call: dict[str, Any],
    assistant: dict[str, Any],
    phone_number: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        **message,
        "timestamp": message.get("timestamp") or int(time.time() * 1000),
        "call": call_snapshot(call),
        "assistant": assistant,
    }
    if call.get("customer"):
        body["customer"] = call["customer"]
    if phone_number:
        body["phoneNumber"] = phone_number
    return {"message": body}
