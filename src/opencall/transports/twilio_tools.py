"""Tools that act on the phone line of a Twilio call: `transferCall` and `dtmf`.

`transferCall` to a number or SIP URI replaces the call's TwiML with `<Say>message</Say><Dial>`
(REST update), which ends our media stream; the call ends `assistant-forwarded-call`. With no
`destinations` the customer's server is asked (`transfer-destination-request`). `dtmf` plays the
digits' tones in band on the stream, after whatever the assistant is saying.
Every other tool goes to the default HTTP runner.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from twilio.twiml.voice_response import Dial, VoiceResponse

from opencall.engine.session import AudioOut, CallSetup, ToolRunner
from opencall.engine.tools import HttpToolRunner
from opencall.providers.base import ToolCallRequest

if TYPE_CHECKING:
    from opencall.engine.call import CallEngine

log = logging.getLogger("opencall.transport.twilio")

TRANSFER = "transferCall"
DTMF = "dtmf"
DEFAULT_TRANSFER_MESSAGE = "Transferring the call now"  # TransferDestinationNumber.message default (Vapi spec)
DTMF_FREQS = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}
TONE_SECONDS = 0.1  # ITU-T Q.24 asks for >= 40 ms of tone and of pause; 100 ms each is what phones send
GAP_SECONDS = 0.1
TONE_AMPLITUDE = 0.25  # per frequency, of full scale (about -12 dBFS): loud but never clipping


class _Control(Protocol):
    async def redirect(self, twiml: str) -> None: ...


class _Session(Protocol):
    forwarded_to: dict[str, Any] | None


ServerRequest = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def dtmf_tones(digits: str, rate: int) -> bytes:
    """PCM16 tones for `digits` (0-9, *, #, A-D); `w` is a half-second pause, others are skipped."""
    t = np.arange(int(rate * TONE_SECONDS)) / rate
    gap = np.zeros(int(rate * GAP_SECONDS))
    parts: list[np.ndarray] = []
    for digit in digits.upper():
        if digit == "W":
            parts.append(np.zeros(rate // 2))
        elif digit in DTMF_FREQS:
            low, high = DTMF_FREQS[digit]
            parts += [TONE_AMPLITUDE * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t)), gap]
    if not parts:
        return b""
    return (np.concatenate(parts) * 32767).astype("<i2").tobytes()


def transfer_twiml(destination: dict[str, Any], message: str) -> str:
    response = VoiceResponse()
    if message:
        response.say(message)
    dial = Dial(caller_id=destination.get("callerId")) if destination.get("callerId") else Dial()
    if destination.get("type") == "sip" or destination.get("sipUri"):
        dial.sip(str(destination["sipUri"]))
    else:
        dial.number(str(destination["number"]), send_digits=destination.get("extension"))
    response.append(dial)
    return str(response)


def pick_destination(tool: dict[str, Any], wanted: Any) -> dict[str, Any] | None:
    destinations = [d for d in tool.get("destinations") or () if isinstance(d, dict)]
    for destination in destinations:
        names = (destination.get("number"), destination.get("sipUri"), destination.get("assistantName"))
        if wanted and wanted in names:
            return destination
    return destinations[0] if len(destinations) == 1 and not wanted else None


class TwilioToolRunner:
    """`ToolRunner` for a Twilio call; `engine` is set once the engine exists."""

    def __init__(
        self, setup: CallSetup, control: _Control, out: AudioOut, session: _Session,
        server_request: ServerRequest | None = None, others: ToolRunner | None = None,
    ) -> None:
        self._setup = setup
        self._control = control
        self._out = out
        self._session = session
        self._server_request = server_request
        self._others = others or HttpToolRunner(setup.call_id, setup.assistant)
        """Runs every tool that is not about the phone line (function tools on the customer's server)."""
        self.engine: CallEngine | None = None

    async def run(self, call: ToolCallRequest, tool_config: dict[str, Any]) -> str:
        kind = tool_config.get("type")
        if kind == TRANSFER or call.name == TRANSFER:
            return await self._transfer(call, tool_config)
        if kind == DTMF or call.name == DTMF:
            return self._dtmf(call)
        return await self._others.run(call, tool_config)

    def _dtmf(self, call: ToolCallRequest) -> str:
        digits = str(call.arguments.get("digits", ""))
        tones = dtmf_tones(digits, self._out.sample_rate)
        if not tones:
            return json.dumps({"error": f"no keypad digits in {digits!r}"})
        self._out.write(tones)
        return f"Sent DTMF digits {digits}."

    async def _transfer(self, call: ToolCallRequest, tool: dict[str, Any]) -> str:
        wanted = call.arguments.get("destination")
        destination = pick_destination(tool, wanted)
        message: str | None = None
        if destination is None and not tool.get("destinations"):
            destination, message, error = await self._ask_server(call, tool)
            if error:
                return json.dumps({"error": error})
        if destination is None:
            return json.dumps({"error": f"{wanted!r} is not one of this tool's destinations"})
        if not (destination.get("number") or destination.get("sipUri")):
            return json.dumps({"error": "only number and sip destinations can be transferred to on a Twilio call"})
        if message is None:
            configured = destination.get("message")
            message = DEFAULT_TRANSFER_MESSAGE if configured is None else str(configured)
        self._session.forwarded_to = destination
        try:
            await self._control.redirect(transfer_twiml(destination, message))
        except Exception as exc:
            self._session.forwarded_to = None
            log.warning("call %s: transfer failed: %s", self._setup.call_id, exc)
            return json.dumps({"error": f"transfer failed: {exc}"})
        if self.engine is not None:
            engine = self.engine
            loop = asyncio.get_running_loop()
            if message:
                engine.record.add_bot(message, loop.time(), loop.time(), source="transfer")
            await engine.emit({"type": "status-update", "status": "forwarding", "destination": destination})
            # Not awaited here: ending cancels the reply this tool runs in.
            loop.create_task(engine.end("assistant-forwarded-call"))
        target = destination.get("number") or destination.get("sipUri")
        return f"Transferred the call to {target}."

    async def _ask_server(
        self, call: ToolCallRequest, tool: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, str | None, str | None]:
        """(destination, message, error) from the customer's `transfer-destination-request` reply."""
        if self._server_request is None:
            return None, None, "transferCall has no destinations and no server to ask"
        try:
            reply = await self._server_request({"type": "transfer-destination-request", "toolCall": {
                "id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments},
            }})
        except Exception as exc:
            return None, None, f"transfer-destination-request failed: {exc}"
        if reply.get("error"):
            return None, None, str(reply["error"])
        destination = reply.get("destination")
        if not isinstance(destination, dict):
            return None, None, "transfer-destination-request reply has no destination"
        message = reply.get("message")
        if isinstance(message, dict):
            message = message.get("content")
        return destination, (str(message) if message is not None else None), None
