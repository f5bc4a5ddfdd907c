"""The Twilio line pieces on their own: mark-based playout, clear, transfers, DTMF out, keypad in.

Fakes here stand in for *our* seams (the socket our transport writes to, the REST control, the
engine's text input); Twilio itself is only ever the simulator.
"""

from __future__ import annotations

import asyncio
import base64
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from opencall.engine.session import AudioFormat, CallSetup
from opencall.providers.base import ToolCallRequest
from opencall.transports.codec import mulaw_decode, mulaw_encode
from opencall.transports.twilio_keypad import Keypad
from opencall.transports.twilio_media import TwilioAudioOut, TwilioSocket
from opencall.transports.twilio_tools import TwilioToolRunner, dtmf_tones
from tests.sim.twilio_media import detect_dtmf

pytestmark = pytest.mark.asyncio(loop_scope="session")

FRAME = b"\x10\x00" * 160  # 20 ms of quiet PCM16 at 8 kHz


class FakeWebSocket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))

    def events(self) -> list[str]:
        return [m["event"] for m in self.sent]

    def marks(self) -> list[str]:
        return [m["mark"]["name"] for m in self.sent if m["event"] == "mark"]


def audio_out() -> tuple[TwilioAudioOut, FakeWebSocket]:
    ws = FakeWebSocket()
    return TwilioAudioOut(TwilioSocket(ws, "MZ1")), ws  # type: ignore[arg-type]


async def send_frames(out: TwilioAudioOut, count: int) -> None:
    for _ in range(count):
        await out._send_frame(FRAME)


async def test_only_marks_twilio_echoed_count_as_heard() -> None:
    out, ws = audio_out()
    await send_frames(out, 5)

    assert ws.events() == ["media", "mark"] * 5
    assert out.sent_seconds == 0.0 and out.queued_seconds == pytest.approx(0.1)
    out.on_mark(ws.marks()[1])  # Twilio played the first two frames
    assert out.sent_seconds == pytest.approx(0.04)
    assert out.queued_seconds == pytest.approx(0.06)


async def test_clear_goes_out_before_later_audio_and_flushed_marks_are_not_heard() -> None:
    out, ws = audio_out()
    await send_frames(out, 5)
    flushed = ws.marks()
    out.on_mark(flushed[0])

    out.clear()
    await send_frames(out, 1)
    for name in flushed[1:]:  # Twilio answers a clear by echoing every pending mark at once
        out.on_mark(name)

    assert ws.events()[10:] == ["clear", "media", "mark"]
    assert out.sent_seconds == pytest.approx(0.02)  # only the frame played before the clear
    out.on_mark(ws.marks()[-1])
    assert out.sent_seconds == pytest.approx(0.04)
    assert base64.b64decode(ws.sent[-2]["media"]["payload"]) and ws.sent[-2]["streamSid"] == "MZ1"


@dataclass
class FakeControl:
    twiml: list[str] = field(default_factory=list)

    async def hang_up(self) -> None:
        raise AssertionError("a transfer does not hang up")

    async def redirect(self, twiml: str) -> None:
        self.twiml.append(twiml)


@dataclass
class FakeLine:
    forwarded_to: dict[str, Any] | None = None


class CollectingOut:
    sample_rate = 8000

    def __init__(self) -> None:
        self.pcm = b""

    def write(self, pcm16: bytes) -> None:
        self.pcm += pcm16


def runner(server_reply: dict[str, Any] | None = None) -> tuple[TwilioToolRunner, FakeControl, FakeLine, CollectingOut]:
    setup = CallSetup("call-1", "org-1", {}, AudioFormat("mulaw", 8000), datetime.now(UTC))
    control, line, out = FakeControl(), FakeLine(), CollectingOut()

    async def ask(message: dict[str, Any]) -> dict[str, Any]:
        assert message["type"] == "transfer-destination-request"
        return server_reply or {}

    return TwilioToolRunner(setup, control, out, line, ask), control, line, out  # type: ignore[arg-type]


def call(name: str, **arguments: Any) -> ToolCallRequest:
    return ToolCallRequest(id="tc1", name=name, arguments=arguments, raw_arguments=json.dumps(arguments))


async def test_transfer_call_says_the_message_then_dials_the_chosen_number() -> None:
    tools, control, line, _ = runner()
    billing = {"type": "number", "number": "+15550002000", "message": "Connecting you to billing."}
    tool = {"type": "transferCall", "destinations": [{"type": "number", "number": "+15550001000"}, billing]}

    result = await tools.run(call("transferCall", destination="+15550002000"), tool)

    assert result == "Transferred the call to +15550002000."
    assert line.forwarded_to == billing
    root = ET.fromstring(control.twiml[0])
    assert [(v.tag, (v.text or "").strip()) for v in root] == [("Say", "Connecting you to billing."), ("Dial", "")]
    assert root.find("Dial/Number").text == "+15550002000"  # type: ignore[union-attr]


async def test_transfer_without_destinations_asks_the_customers_server() -> None:
    reply = {"destination": {"type": "number", "number": "+15550003000"}, "message": "One moment."}
    tools, control, line, _ = runner(reply)

    result = await tools.run(call("transferCall"), {"type": "transferCall"})

    assert result == "Transferred the call to +15550003000."
    assert "<Say>One moment.</Say>" in control.twiml[0]


async def test_transfer_to_a_number_not_offered_is_an_error_for_the_model() -> None:
    tools, control, line, _ = runner()
    tool = {"type": "transferCall", "destinations": [{"type": "number", "number": "+15550001000"}]}

    result = json.loads(await tools.run(call("transferCall", destination="+19995550000"), tool))

    assert "error" in result and not control.twiml and line.forwarded_to is None


async def test_dtmf_tool_plays_the_digits_as_tones_on_the_line() -> None:
    tools, _, _, out = runner()

    result = await tools.run(call("dtmf", digits="1234#"), {"type": "dtmf"})

    assert result == "Sent DTMF digits 1234#."
    assert detect_dtmf(out.pcm) == "1234#"
    assert detect_dtmf(mulaw_decode(mulaw_encode(out.pcm))) == "1234#"  # and after the line's µ-law


async def test_dtmf_tones_are_not_heard_in_speech() -> None:
    import soxr

    from tests.fixtures.speech import load_clip

    pcm, rate, _ = load_clip("piper-joe_s3")
    speech = soxr.resample(pcm.astype("int16"), rate, 8000).astype("<i2").tobytes()
    assert detect_dtmf(speech) == ""
    assert detect_dtmf(speech + dtmf_tones("9", 8000)) == "9"


class FakeEngine:
    def __init__(self) -> None:
        self.setup = CallSetup("call-1", "org-1", {}, AudioFormat("mulaw", 8000))
        self.texts: list[str] = []

    async def push_user_text(self, text: str) -> None:
        self.texts.append(text)


async def test_keypad_digits_reach_the_conversation_at_the_delimiter() -> None:
    engine = FakeEngine()
    keypad = Keypad({"enabled": True, "delimiters": ["#"], "timeoutSeconds": 5}, engine)

    for digit in "4321#":
        await keypad.press(digit)

    assert engine.texts == ["4321"]


async def test_keypad_digits_reach_the_conversation_after_the_timeout() -> None:
    engine = FakeEngine()
    keypad = Keypad({"enabled": True, "timeoutSeconds": 0.1}, engine)

    await keypad.press("7")
    await keypad.press("8")
    await asyncio.sleep(0.25)

    assert engine.texts == ["78"]


async def test_keypad_is_ignored_unless_the_plan_enables_it() -> None:
    engine = FakeEngine()
    keypad = Keypad(None, engine)

    await keypad.press("1")
    await keypad.press("#")

    assert engine.texts == [] and keypad.pressed == ["1", "#"]
