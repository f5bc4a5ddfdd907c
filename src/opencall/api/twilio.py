"""The routes Twilio calls: TwiML, status callbacks, inbound Voice URL, and the Media Streams socket.

Every HTTP request is checked with `X-Twilio-Signature` against the URL Twilio used, rebuilt from
`OPENCALL_PUBLIC_URL` (what Twilio was given, whatever proxy sits between); a forged one gets 403
and changes nothing. Numbers imported with only an API key cannot be checked (Twilio signs with the
account's auth token): their URLs carry unguessable ids, as Vapi's websocket URLs do.
The media socket proves itself with a token in the stream's `<Parameter>`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, WebSocket, status
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, Dial, VoiceResponse

from opencall.api import twilio_calls as tc
from opencall.api.call_placement import ws_base
from opencall.api.live import finish_and_close
from opencall.api.twilio_inbound import Answer, answer_inbound
from opencall.engine.session import AudioFormat, CallSetup
from opencall.errors import BadRequest, Forbidden, NotFound
from opencall.settings import Settings
from opencall.store import tables
from opencall.store.call_assistant import resolve_call_assistant
from opencall.store.call_sink import StoredCallSink
from opencall.store.recordings import recorder_for
from opencall.store.resources import to_wire
from opencall.store.secrets_box import SecretBox
from opencall.store.tables import utcnow
from opencall.transports.twilio_media import TwilioSession, read_start, serve_twilio_media, speak_and_hang_up
from opencall.transports.twilio_rest import TwilioAccount, TwilioCallControl, TwilioError, TwilioRest
from opencall.webhooks.hub import WebhookHub
from opencall.webhooks.messages import envelope
from opencall.webhooks.report import finish_call
from opencall.webhooks.send import WebhookError, request_reply
from opencall.webhooks.tool_runner import ServerToolRunner

log = logging.getLogger("opencall.twilio")

router = APIRouter(prefix="/twilio", tags=["Twilio"], include_in_schema=False)

_LIVE: dict[str, TwilioSession] = {}
"""Media streams running in this process, by call id: a `completed` callback reaches them here."""


def twiml(response: VoiceResponse) -> Response:
    return Response(str(response), media_type="text/xml")


def field(form: FormData, name: str) -> str:
    """A form field as text ("" when absent); Twilio's webhooks carry no files."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def hang_up_twiml() -> Response:
    response = VoiceResponse()
    response.hangup()
    return twiml(response)


async def verified_form(request: Request, account: TwilioAccount) -> FormData:
    form = await request.form()
    if account.signing_key is None:
        return form
    settings: Settings = request.app.state.settings
    url = settings.base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(account.signing_key).validate(url, form, signature):
        log.warning("rejected a Twilio request to %s: bad X-Twilio-Signature", request.url.path)
        raise Forbidden("X-Twilio-Signature does not match")
    return form


def stream_twiml(settings: Settings, call_id: str, account: TwilioAccount, mode: str = "conversation") -> Response:
    _, _, media_url = tc.call_urls(settings, call_id)
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=media_url)
    stream.parameter(name="callId", value=call_id)
    stream.parameter(name="token", value=tc.stream_token(account, call_id))
    stream.parameter(name="mode", value=mode)
    response.append(connect)
    return twiml(response)


def forward_twiml(destination: dict[str, Any], say: str | None = None) -> Response:
    response = VoiceResponse()
    if say:
        response.say(say)
    if destination.get("message"):
        response.say(str(destination["message"]))
    dial = Dial()
    if destination.get("sipUri"):
        dial.sip(str(destination["sipUri"]))
    else:
        dial.number(str(destination.get("number", "")))
    response.append(dial)
    return twiml(response)


async def call_and_account(
    session: AsyncSession, settings: Settings, call_id: str
) -> tuple[tables.Call, TwilioAccount]:
    row = await session.get(tables.Call, call_id)
    if row is None or row.data.get("phoneCallProvider") != "twilio":
        raise NotFound("Call not found")
    return row, await tc.account_for_call(session, settings, row)


# --- outbound: TwiML and status ---------------------------------------------------------------


@router.post("/calls/{call_id}/twiml")
async def outbound_twiml(call_id: str, request: Request) -> Response:
    settings: Settings = request.app.state.settings
    async with request.app.state.sessions() as session:
        row, account = await call_and_account(session, settings, call_id)
        form = await verified_form(request, account)
        if row.status == "ended":
            return hang_up_twiml()
        try:
            assistant = await resolve_call_assistant(session, row.org_id, row.data)
        except BadRequest:
            assistant = {}
    if tc.is_voicemail(tc.voicemail_plan(assistant), field(form, "AnsweredBy")):
        if assistant.get("voicemailMessage"):
            return stream_twiml(settings, call_id, account, mode="voicemail")
        await tc.end_unstarted(request.app.state.sessions, call_id, "voicemail")
        request.app.state.webhooks.spawn(finish_call(request.app.state.webhooks, settings, call_id))
        return hang_up_twiml()
    return stream_twiml(settings, call_id, account)


@router.post("/calls/{call_id}/status")
async def outbound_status(call_id: str, request: Request) -> Response:
    settings: Settings = request.app.state.settings
    async with request.app.state.sessions() as session:
        row, account = await call_and_account(session, settings, call_id)
        form = await verified_form(request, account)
        await apply_status(request, session, row, form)
    return Response(status_code=204)


async def apply_status(request: Request, session: AsyncSession, row: tables.Call, form: FormData) -> None:
    """One status callback, in SequenceNumber order: a late one never moves the call backwards."""
    hub: WebhookHub = request.app.state.webhooks
    call_status = field(form, "CallStatus")
    sequence = field(form, "SequenceNumber")
    await session.refresh(row, with_for_update=True)
    if sequence.isdigit():
        if int(sequence) < row.seq:
            log.info("call %s: ignored late %s callback (#%s)", row.id, call_status, sequence)
            await session.rollback()
            return
        row.seq = int(sequence) + 1
    if field(form, "CallSid") and not row.provider_call_id:
        row.provider_call_id = field(form, "CallSid")
        row.data = {**row.data, "phoneCallProviderId": row.provider_call_id}
    try:
        assistant = await resolve_call_assistant(session, row.org_id, row.data)
    except BadRequest:
        assistant = {}
    voicemail = tc.is_voicemail(tc.voicemail_plan(assistant), field(form, "AnsweredBy"))
    new_status, reason = tc.carrier_transition(row.status, call_status, voicemail)
    if new_status == "ringing":
        row.status = "ringing"
        row.data = {**row.data, "status": "ringing"}
        row.owner, row.heartbeat_at = hub.owner, utcnow() + tc.RING_GRACE
    row.updated_at = utcnow()
    await session.commit()
    if new_status == "ringing":
        publisher = await hub.publisher_for(to_wire(row), assistant)
        await publisher.publish({"type": "status-update", "status": "ringing"})
        await publisher.close()
    if reason is not None:
        sip = field(form, "SipResponseCode")
        detail = f"Twilio reported {call_status}" + (f" (SIP {sip})" if sip else "")
        await tc.end_unstarted(request.app.state.sessions, row.id, reason, detail)
        hub.spawn(finish_call(hub, request.app.state.settings, row.id))
    elif call_status in ("completed", "canceled", "failed", "busy", "no-answer") and row.id in _LIVE:
        _LIVE[row.id].carrier_ended.set()


# --- inbound --------------------------------------------------------------------------------------


async def number_and_account(
    session: AsyncSession, settings: Settings, number_id: str
) -> tuple[tables.PhoneNumber, TwilioAccount]:
    number = await session.get(tables.PhoneNumber, number_id)
    if number is None or number.provider != "twilio":
        raise NotFound("Phone Number not found")
    secrets = SecretBox.from_settings(settings).open(number.secrets)
    return number, TwilioAccount.from_number(number.data, secrets)


@router.post("/numbers/{number_id}/voice")
async def inbound_voice(number_id: str, request: Request) -> Response:
    settings: Settings = request.app.state.settings
    hub: WebhookHub = request.app.state.webhooks
    async with request.app.state.sessions() as session:
        number, account = await number_and_account(session, settings, number_id)
        form = await verified_form(request, account)
        call_sid = field(form, "CallSid")
        existing = await session.scalar(select(tables.Call).where(
            tables.Call.provider_call_id == call_sid, tables.Call.phone_number_id == number.id))
        if existing is not None:  # Twilio retried the Voice URL: same call, same answer
            return stream_twiml(settings, existing.id, account) if existing.status != "ended" else hang_up_twiml()
        call_id = str(uuid.uuid4())
        base = settings.base_url
        data: dict[str, Any] = {
            "type": "inboundPhoneCall", "status": "ringing", "phoneNumberId": number.id,
            "customer": {"number": field(form, "From")}, "phoneCallProvider": "twilio",
            "phoneCallTransport": "pstn", "phoneCallProviderId": call_sid, "cost": 0,
            "monitor": {"listenUrl": f"{ws_base(base)}/{call_id}/listen", "controlUrl": f"{base}/{call_id}/control"},
        }
        now = utcnow()
        row = tables.Call(id=call_id, org_id=number.org_id, created_at=now, updated_at=now, data=data,
                          type="inboundPhoneCall", status="ringing", phone_number_id=number.id,
                          provider_call_id=call_sid, owner=hub.owner, heartbeat_at=now + tc.RING_GRACE)
        session.add(row)
        await session.commit()
        answer = await answer_inbound(session, number, to_wire(row))
        row.data = {**row.data, **answer.call_fields}
        if "assistantId" in answer.call_fields:
            row.assistant_id = str(answer.call_fields["assistantId"])
        await session.commit()
    if answer.ended_reason is None:
        return stream_twiml(settings, call_id, account)
    return await refuse_inbound(request, call_id, answer)


async def refuse_inbound(request: Request, call_id: str, answer: Answer) -> Response:
    log.info("inbound call %s not answered: %s %s", call_id, answer.ended_reason, answer.detail or "")
    hub: WebhookHub = request.app.state.webhooks
    assert answer.ended_reason is not None
    await tc.end_unstarted(request.app.state.sessions, call_id, answer.ended_reason, answer.detail)
    hub.spawn(finish_call(hub, request.app.state.settings, call_id))
    if answer.forward_to is not None:
        return forward_twiml(answer.forward_to, answer.say)
    response = VoiceResponse()
    if answer.say:
        response.say(answer.say)
    response.hangup()
    return twiml(response)


@router.post("/numbers/{number_id}/status")
async def inbound_status(number_id: str, request: Request) -> Response:
    settings: Settings = request.app.state.settings
    async with request.app.state.sessions() as session:
        number, account = await number_and_account(session, settings, number_id)
        form = await verified_form(request, account)
        row = await session.scalar(select(tables.Call).where(
            tables.Call.provider_call_id == field(form, "CallSid"), tables.Call.phone_number_id == number.id))
        if row is not None:
            await apply_status(request, session, row, form)
    return Response(status_code=204)


# --- media ----------------------------------------------------------------------------------------


@router.websocket("/calls/{call_id}/media")
async def media_stream(websocket: WebSocket, call_id: str) -> None:
    settings: Settings = websocket.app.state.settings
    sessions: async_sessionmaker[AsyncSession] = websocket.app.state.sessions
    hub: WebhookHub = websocket.app.state.webhooks
    await websocket.accept()
    start = await read_start(websocket)
    account = None
    if start is not None:
        async with sessions() as session:
            with contextlib.suppress(NotFound, TwilioError):
                _, account = await call_and_account(session, settings, call_id)
    token = start.custom_parameters.get("token", "") if start else ""
    if (start is None or account is None or start.account_sid != account.account_sid
            or not hmac.compare_digest(token, tc.stream_token(account, call_id))):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="not a stream of this call")
        return
    if not await tc.claim_for_media(sessions, call_id, hub.owner):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="call is not waiting for media")
        return
    control = TwilioCallControl(TwilioRest(account, tc.twilio_api_base(settings)), start.call_sid)
    async with sessions() as session:
        row = await session.get(tables.Call, call_id)
        assert row is not None
        try:
            assistant = await resolve_call_assistant(session, row.org_id, row.data)
        except BadRequest as exc:
            await tc.end_unstarted(sessions, call_id, "assistant-not-found", str(exc))
            await control.hang_up()
            await websocket.close()
            hub.spawn(finish_call(hub, settings, call_id))
            return
        call = to_wire(row)
    setup = CallSetup(call_id=call_id, org_id=call["orgId"], assistant=assistant,
                      audio_format=AudioFormat(encoding="mulaw", sample_rate=8000), started_at=datetime.now(UTC))
    publisher = await hub.publisher_for(call, assistant)
    sink = StoredCallSink(sessions, call_id, settings.price_per_minute_transport, on_event=publisher.publish)

    async def ask_server(message: dict[str, Any]) -> dict[str, Any]:
        server = publisher.server
        if server is None:
            raise WebhookError("no-target", "no server url")
        body = envelope(message, publisher.call, assistant, publisher.phone_number)["message"]
        timeout = float(server.get("timeoutSeconds") or 20.0)
        return await request_reply(server, body, timeout_seconds=timeout, org_id=setup.org_id)

    live = TwilioSession(start)
    _LIVE[call_id] = live
    recorder = recorder_for(assistant, settings, call)
    heartbeat = asyncio.create_task(hub.heartbeat(call_id))
    try:
        if start.custom_parameters.get("mode") == "voicemail":
            await speak_and_hang_up(websocket, live, setup, sink, control, str(assistant.get("voicemailMessage")),
                                    "voicemail", settings=settings, recorder=recorder)
        else:
            await serve_twilio_media(
                websocket, live, setup, sink, control, settings=settings, server_request=ask_server,
                tools=ServerToolRunner(publisher), recorder=recorder,
            )
    finally:
        heartbeat.cancel()
        _LIVE.pop(call_id, None)
        if live.forwarded_to is not None:
            await record_destination(sessions, call_id, live.forwarded_to)
        # Recording files and analysis take seconds; the stream is closed already, the report follows.
        hub.spawn(finish_and_close(hub, settings, call, publisher, recorder))


async def record_destination(
    sessions: async_sessionmaker[AsyncSession], call_id: str, destination: dict[str, Any]
) -> None:
    async with sessions() as session:
        row = await session.get(tables.Call, call_id)
        if row is not None:
            row.data = {**row.data, "destination": destination}
            await session.commit()
