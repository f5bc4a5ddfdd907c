"""Turning a validated CreateCallDTO into a stored, `queued` Call: resolution rules and Vapi's 400s."""

from __future__ import annotations

from typing import Any

from opencall.api.deps import Ctx
from opencall.errors import BadRequest
from opencall.schemas.call import CreateCallDTO
from opencall.store import tables
from opencall.store.resources import Repository
from opencall.store.secrets_box import SecretBox

PHONE_CALL_PROVIDER = {"twilio": "twilio", "vonage": "vonage", "telnyx": "telnyx"}
"""Phone-number provider → Call.phoneCallProvider; SIP-based numbers (vapi, byo) are `vapi` over `sip`."""

TRANSIENT_SECRET_FIELDS = ("twilioAuthToken", "twilioApiSecret")


def ws_base(http_base: str) -> str:
    return "wss" + http_base[5:] if http_base.startswith("https") else "ws" + http_base.removeprefix("http")


async def resolve_assistant(c: Ctx, dto: CreateCallDTO) -> None:
    if dto.assistant_id:
        repo = Repository(c.session, tables.Assistant, c.org_id, "Assistant")
        if await repo.find(dto.assistant_id) is None:
            raise BadRequest(f"Couldn't Get Assistant. `assistantId` {dto.assistant_id} Does Not Exist.")
    elif dto.squad_id:
        repo_s = Repository(c.session, tables.Squad, c.org_id, "Squad")
        if await repo_s.find(dto.squad_id) is None:
            raise BadRequest(f"Couldn't Get Squad. `squadId` {dto.squad_id} Does Not Exist.")
    elif dto.assistant is None and dto.squad is None:
        raise BadRequest(
            "Couldn't Get Assistant. Need Either `assistantId`, `assistant`, `squadId`, Or `squad`."
        )


async def phone_number_for(c: Ctx, dto: CreateCallDTO, from_number: str | None) -> tables.PhoneNumber | None:
    repo = Repository(c.session, tables.PhoneNumber, c.org_id, "Phone Number")
    if dto.phone_number_id:
        row = await repo.find(dto.phone_number_id)
        if row is None:
            raise BadRequest(
                f"Couldn't Get Phone Number. `phoneNumberId` {dto.phone_number_id} Does Not Exist."
            )
        return row
    if from_number:
        from sqlalchemy import select

        row = await c.session.scalar(
            select(tables.PhoneNumber).where(
                tables.PhoneNumber.org_id == c.org_id, tables.PhoneNumber.number == from_number
            )
        )
        if row is None:
            raise BadRequest(
                [f"from {from_number} is not a phone number of this org; create it with POST /phone-number"]
            )
        return row
    return None


async def build_call_data(
    c: Ctx, call_id: str, dto: CreateCallDTO, from_number: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Call object to store (without id/orgId/timestamps) and its real columns."""
    await resolve_assistant(c, dto)
    data = dto.to_wire()
    data.pop("customers", None)
    columns: dict[str, Any] = {"assistant_id": dto.assistant_id}
    base = c.settings.base_url
    data["monitor"] = {
        "listenUrl": f"{ws_base(base)}/{call_id}/listen",
        "controlUrl": f"{base}/{call_id}/control",
    }
    data["cost"] = 0
    data["status"] = "scheduled" if dto.schedule_plan else "queued"

    transport = data.get("transport") or {}
    if transport.get("provider") == "vapi.websocket":
        if dto.phone_number_id or dto.phone_number or from_number or dto.customer:
            raise BadRequest(
                ["transport vapi.websocket does not take phoneNumberId, phoneNumber, from, customer or to"]
            )
        transport.setdefault("audioFormat", {"format": "pcm_s16le", "container": "raw", "sampleRate": 16000})
        transport["websocketCallUrl"] = f"{ws_base(base)}/{call_id}/transport"
        data["transport"] = transport
        data["type"] = "vapi.websocketCall"
        return data, columns

    number_row = await phone_number_for(c, dto, from_number)
    if number_row is None and dto.phone_number is None:
        raise BadRequest("Couldn't Get Phone Number. Need Either `phoneNumberId` Or `phoneNumber`.")
    if dto.customer is None and not dto.customer_id:
        raise BadRequest("Couldn't Get Customer. Need Either `customerId` Or `customer`.")
    if number_row is not None:
        provider = number_row.provider
        data["phoneNumberId"] = number_row.id
        columns["phone_number_id"] = number_row.id
    else:
        transient = data.get("phoneNumber") or {}
        secrets = {k: transient.pop(k) for k in TRANSIENT_SECRET_FIELDS if k in transient}
        columns["secrets"] = SecretBox.from_settings(c.settings).seal(secrets)
        provider = transient.get("provider", "twilio")
    data["type"] = "outboundPhoneCall"
    data["phoneCallProvider"] = PHONE_CALL_PROVIDER.get(provider, "vapi")
    data["phoneCallTransport"] = "pstn" if provider in PHONE_CALL_PROVIDER else "sip"
    return data, columns
