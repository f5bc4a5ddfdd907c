"""The Twilio simulator's resources: accounts, numbers, calls, scripted outcomes, Twilio's error body."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Literal

from starlette.responses import JSONResponse

from tests.sim.twilio_media import MediaStream

API = "/2010-04-01/Accounts/{account}"
Callee = Callable[["SimCall"], Awaitable[None]]
Answer = Literal["human", "machine", "busy", "no-answer", "failed", "queued"]
TERMINAL = ("completed", "busy", "no-answer", "failed", "canceled")


@dataclass(frozen=True)
class Outcome:
    """What the far end does with an outbound call."""

    answer: Answer = "human"
    callee: Callee | None = None
    """Drives the media stream once it is up (speak, press, hang up); None: stay silent."""
    answered_by: str = "human"
    """AMD result when the call asked for `MachineDetection` (machine: `machine_end_beep` by default)."""
    ring_seconds: float = 0.05
    sip_response_code: int | None = None


@dataclass
class Account:
    sid: str
    auth_token: str
    api_keys: dict[str, str] = field(default_factory=dict)


@dataclass
class Number:
    sid: str
    account_sid: str
    phone_number: str
    voice_url: str | None = None
    voice_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"

    def resource(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "phone_number": self.phone_number,
            "friendly_name": self.phone_number,
            "voice_url": self.voice_url,
            "voice_method": self.voice_method,
            "status_callback": self.status_callback,
            "status_callback_method": self.status_callback_method,
            "api_version": "2010-04-01",
            "capabilities": {"voice": True, "sms": True, "mms": False},
            "uri": f"{API.format(account=self.account_sid)}/IncomingPhoneNumbers/{self.sid}.json",
        }


@dataclass
class Callback:
    url: str
    params: dict[str, str]
    status: int | None
    """Our app's HTTP status for it (None: unreachable)."""


@dataclass
class SimCall:
    sid: str
    account: Account
    to: str
    from_: str
    direction: str
    params: dict[str, list[str]] = field(default_factory=dict)
    """The create request's form fields as received (outbound), every value kept."""
    status: str = "queued"
    answered_by: str | None = None
    status_callback: str | None = None
    callback_events: tuple[str, ...] = ("completed",)
    callbacks: list[Callback] = field(default_factory=list)
    twiml: list[str] = field(default_factory=list)
    """Every TwiML document the call executed, in order."""
    twiml_fetches: list[Callback] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    played_digits: list[str] = field(default_factory=list)
    dialed: list[str] = field(default_factory=list)
    streams: list[MediaStream] = field(default_factory=list)
    updates: list[dict[str, str]] = field(default_factory=list)
    ended_by: str | None = None
    """"callee", "api" (REST Status=completed), "twiml" (Hangup or the document ran out), or an outcome."""
    answered_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    stream_started: asyncio.Event = field(default_factory=asyncio.Event)
    runner: asyncio.Future[None] | None = None
    """What executes the call's current TwiML; a REST update replaces it."""
    sequence: int = 0

    @property
    def stream(self) -> MediaStream:
        """The latest media stream (raises if none was opened)."""
        return self.streams[-1]

    def statuses(self) -> list[str]:
        return [c.params["CallStatus"] for c in self.callbacks]

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    def resource(self) -> dict[str, Any]:
        now = formatdate(usegmt=True)
        base = API.format(account=self.account.sid)
        return {
            "sid": self.sid,
            "account_sid": self.account.sid,
            "to": self.to,
            "to_formatted": self.to,
            "from": self.from_,
            "from_formatted": self.from_,
            "status": self.status,
            "direction": self.direction,
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "start_time": None,
            "end_time": None,
            "duration": None,
            "price": None,
            "price_unit": "USD",
            "answered_by": self.answered_by,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "caller_name": None,
            "forwarded_from": None,
            "queue_time": "0",
            "trunk_sid": None,
            "group_sid": None,
            "annotation": None,
            "uri": f"{base}/Calls/{self.sid}.json",
            "subresource_uris": {"recordings": f"{base}/Calls/{self.sid}/Recordings.json"},
        }


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
        status_code=status,
    )
