"""Twilio calls on the API side: credentials, dialing, number configuration, carrier status -> Call.

The routes Twilio calls are in `api/twilio.py`; this module holds what they and the `/call` and
`/phone-number` routers share. Every URL handed to Twilio is built from `Settings.base_url`
(`OPENCALL_PUBLIC_URL`), which is also the URL signatures are checked against.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from opencall.api.call_placement import ws_base
from opencall.errors import BadRequest
from opencall.settings import Settings
from opencall.store import tables
from opencall.store.call_assistant import resolve_call_assistant
from opencall.store.call_sink import StoredCallSink
from opencall.store.resources import iso_ms
from opencall.store.secrets_box import SecretBox
from opencall.store.tables import utcnow
from opencall.transports.twilio_rest import TwilioAccount, TwilioError, TwilioRest

log = logging.getLogger("opencall.twilio")

FAILED_TO_CONNECT = "twilio-failed-to-connect-call"
ENDED_BY_STATUS = {
    "busy": "customer-busy",
    "no-answer": "customer-did-not-answer",
    "failed": FAILED_TO_CONNECT,
    "canceled": "manually-canceled",
}
"""Twilio's final CallStatus for a call that never reached our media stream -> Vapi endedReason."""
AMD_VOICEMAIL_TYPES = ("machine_end_beep", "machine_end_silence")
"""TwilioVoicemailDetectionPlan.voicemailDetectionTypes default (Vapi spec)."""
RING_GRACE = timedelta(seconds=60)
"""Twilio's default ring `Timeout`: until then a ringing call is the carrier's, not an orphan."""
MEDIA_CLAIMABLE = ("queued", "ringing")


def twilio_api_base(settings: Settings) -> str | None:
    return settings.cloud_base_urls.get("twilio")


def call_urls(settings: Settings, call_id: str) -> tuple[str, str, str]:
    """(TwiML URL, status callback URL, media stream URL) of one call."""
    base = settings.base_url
    path = f"/twilio/calls/{call_id}"
    return f"{base}{path}/twiml", f"{base}{path}/status", f"{ws_base(base)}{path}/media"


def number_urls(settings: Settings, number_id: str) -> tuple[str, str]:
    """(Voice URL, status callback URL) of one phone number."""
    base = f"{settings.base_url}/twilio/numbers/{number_id}"
    return f"{base}/voice", f"{base}/status"


def stream_token(account: TwilioAccount, call_id: str) -> str:
    """Proof, carried in the stream's `<Parameter>`s, that a media socket follows TwiML we served."""
    return hmac.new(account.stream_key.encode(), call_id.encode(), hashlib.sha256).hexdigest()[:32]


async def account_for_call(session: AsyncSession, settings: Settings, row: tables.Call) -> TwilioAccount:
    box = SecretBox.from_settings(settings)
    if row.phone_number_id:
        number = await session.get(tables.PhoneNumber, row.phone_number_id)
        if number is None:
            raise TwilioError("the call's phone number no longer exists")
        return TwilioAccount.from_number(number.data, box.open(number.secrets))
    return TwilioAccount.from_number(row.data.get("phoneNumber") or {}, box.open(row.secrets))


async def caller_number(session: AsyncSession, row: tables.Call) -> str:
    if row.phone_number_id:
        number = await session.get(tables.PhoneNumber, row.phone_number_id)
        if number is not None and number.number:
            return number.number
    transient = row.data.get("phoneNumber") or {}
    found = transient.get("twilioPhoneNumber") or transient.get("number")
    if not found:
        raise TwilioError("the call's phone number has no number to call from")
    return str(found)


def voicemail_plan(assistant: dict[str, Any]) -> dict[str, Any] | None:
    """The assistant's Twilio voicemail detection plan, if it asks for Twilio's AMD."""
    plan = assistant.get("voicemailDetection")
    if not isinstance(plan, dict) or plan.get("provider") != "twilio" or plan.get("enabled") is False:
        return None
    return plan


def amd_options(plan: dict[str, Any] | None) -> dict[str, Any] | None:
    """`Calls.json` AMD parameters; DetectMessageEnd so a voicemail message lands after the beep."""
    if plan is None:
        return None
    return {
        "machine_detection": "DetectMessageEnd",
        "machine_detection_timeout": plan.get("machineDetectionTimeout"),
        "machine_detection_speech_threshold": plan.get("machineDetectionSpeechThreshold"),
        "machine_detection_speech_end_threshold": plan.get("machineDetectionSpeechEndThreshold"),
        "machine_detection_silence_timeout": plan.get("machineDetectionSilenceTimeout"),
    }


def is_voicemail(plan: dict[str, Any] | None, answered_by: str | None) -> bool:
    if plan is None or not answered_by:
        return False
    return answered_by in (plan.get("voicemailDetectionTypes") or AMD_VOICEMAIL_TYPES)


async def dial(session: AsyncSession, settings: Settings, row: tables.Call) -> bool:
    """Create the Twilio call for a stored `queued` call; on failure end it. True if Twilio took it."""
    twiml_url, status_url, _ = call_urls(settings, row.id)
    try:
        account = await account_for_call(session, settings, row)
        from_number = await caller_number(session, row)
        customer = row.data.get("customer") or {}
        to = customer.get("number") or customer.get("sipUri")
        if not to:
            raise TwilioError("the customer has no number to call")
        try:
            plan = voicemail_plan(await resolve_call_assistant(session, row.org_id, row.data))
        except BadRequest:
            plan = None
        sid = await TwilioRest(account, twilio_api_base(settings)).create_call(
            to=str(to), from_=from_number, url=twiml_url, status_callback=status_url,
            machine_detection=amd_options(plan),
        )
    except TwilioError as exc:
        log.warning("call %s: Twilio did not take the call: %s", row.id, exc)
        now = utcnow()
        row.data = {**row.data, "status": "ended", "endedReason": FAILED_TO_CONNECT, "endedAt": iso_ms(now),
                    "endedMessage": str(exc)}
        row.status = "ended"
        row.updated_at = now
        await session.commit()
        return False
    # Twilio may already have called back (ringing): merge into the current row, not our stale copy.
    await session.refresh(row, with_for_update=True)
    row.provider_call_id = sid
    row.data = {**row.data, "phoneCallProviderId": sid}
    row.updated_at = utcnow()
    await session.commit()
    log.info("call %s: Twilio call %s created", row.id, sid)
    return True


async def configure_number(settings: Settings, number_id: str, data: dict[str, Any], secrets: dict[str, Any]) -> None:
    """Point the Twilio number's Voice URL and status callback at us; BadRequest naming what Twilio refused."""
    voice_url, status_url = number_urls(settings, number_id)
    account = TwilioAccount.from_number(data, secrets)
    if not account.auth_token and not (account.api_key and account.api_secret):
        # Vapi's DTO makes credentials optional; without them there is nothing to configure or dial with.
        log.warning("phone number %s has no Twilio credentials: calls to it will not reach OpenCall", number_id)
        return
    try:
        rest = TwilioRest(account, twilio_api_base(settings))
        await rest.configure_number(str(data.get("number") or ""), voice_url, status_url)
    except TwilioError as exc:
        if exc.unauthorized:
            raise BadRequest(
                [f"Twilio rejected twilioAccountSid with the given twilioAuthToken/twilioApiKey+twilioApiSecret: {exc}"]
            ) from exc
        raise BadRequest([f"could not configure the number on Twilio: {exc}"]) from exc


async def claim_for_media(
    sessions: async_sessionmaker[AsyncSession], call_id: str, owner: str | None
) -> bool:
    """`queued`/`ringing` -> `in-progress` once, when the media stream connects (answered calls only)."""
    now = utcnow()
    async with sessions() as session:
        result = await session.execute(
            update(tables.Call)
            .where(tables.Call.id == call_id, tables.Call.status.in_(MEDIA_CLAIMABLE))
            .values(status="in-progress", updated_at=now, owner=owner, heartbeat_at=now)
        )
        await session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


def carrier_transition(current: str, call_status: str, answered_voicemail: bool) -> tuple[str | None, str | None]:
    """(new status, endedReason) for one status callback; (None, None) when it changes nothing.

    `in-progress` is left to the media stream: the call is ours once audio flows. A call that already
    has its stream is ended by the stream (Twilio's `stop`), so only unstarted calls end here.
    """
    if current == "ended":
        return None, None
    if call_status == "ringing" and current == "queued":
        return "ringing", None
    if current not in MEDIA_CLAIMABLE:
        return None, None
    if call_status in ENDED_BY_STATUS:
        return "ended", ENDED_BY_STATUS[call_status]
    if call_status == "completed":
        return "ended", "voicemail" if answered_voicemail else "customer-ended-call"
    return None, None


async def end_unstarted(
    sessions: async_sessionmaker[AsyncSession], call_id: str, reason: str, detail: str | None = None,
    messages: list[dict[str, Any]] | None = None,
) -> None:
    sink = StoredCallSink(sessions, call_id)
    artifact = {"messages": messages or [], "transcript": ""}
    await sink.ended(reason, utcnow(), messages or [], artifact, detail)


async def place_phone_call(session: AsyncSession, settings: Settings, row: tables.Call, hub: Any) -> None:
    """After `POST /call` stored a queued Twilio call: dial it (a failure ends it and reports why)."""
    if row.status != "queued" or row.data.get("phoneCallProvider") != "twilio":
        return
    if not await dial(session, settings, row):
        from opencall.webhooks.report import finish_call

        hub.spawn(finish_call(hub, settings, row.id))
