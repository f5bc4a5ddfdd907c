"""Twilio Media Streams <-> the engine (transports.md §2.5).

Twilio sends JSON text frames: `connected`, `start` (stream and call sids, `customParameters`,
µ-law 8 kHz), `media` (20 ms of caller audio, base64), `dtmf`, `mark` echoes, `stop`. We send
`media` paced in real time, a `mark` after every frame, and `clear` on barge-in.

What the caller heard is known from the marks, not from what we sent: Twilio echoes a mark once
the audio queued before it has played, and at once (unplayed) when `clear` drops it. So
`TwilioAudioOut.sent_seconds` is the position of the last mark echoed for audio still on the
line, and the engine truncates an interrupted reply there.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import WebSocket, WebSocketDisconnect

from opencall.engine.call import CallEngine, Providers, build_providers
from opencall.engine.session import CallSetup, CallSink, ToolRunner
from opencall.providers.base import ProviderError
from opencall.settings import Settings
from opencall.transports.codec import ENGINE_RATE, Resampler, mulaw_decode, mulaw_encode
from opencall.transports.pacing import SEND_TIMEOUT_SECONDS, PacedAudioOut, SendStalled
from opencall.transports.recording import RecordingFeed
from opencall.transports.twilio_keypad import Keypad
from opencall.transports.twilio_tools import ServerRequest, TwilioToolRunner

if TYPE_CHECKING:
    from opencall.store.recordings import CallRecorder

log = logging.getLogger("opencall.transport.twilio")

TWILIO_RATE = 8000
START_TIMEOUT_SECONDS = 10.0  # Twilio sends `connected` and `start` right after the upgrade
ENGINE_FRAME_BYTES = ENGINE_RATE // 50 * 2  # 20 ms at 16 kHz
PROVIDER_CLOSED = "phone-call-provider-closed-websocket"
CUSTOMER_ENDED = "customer-ended-call"
FORWARDED = "assistant-forwarded-call"


@dataclass(frozen=True, slots=True)
class StreamStart:
    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: dict[str, str]
    encoding: str
    sample_rate: int


class CallControl(Protocol):
    """The carrier side of a live call (Twilio REST)."""

    async def hang_up(self) -> None: ...

    async def redirect(self, twiml: str) -> None: ...


async def read_start(ws: WebSocket, timeout: float = START_TIMEOUT_SECONDS) -> StreamStart | None:
    """Read up to the `start` frame; None if the peer is not a Twilio media stream."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await ws.receive_text())
                if message.get("event") == "start":
                    start = message["start"]
                    fmt = start.get("mediaFormat") or {}
                    return StreamStart(
                        stream_sid=str(message.get("streamSid") or start["streamSid"]),
                        call_sid=str(start.get("callSid", "")),
                        account_sid=str(start.get("accountSid", "")),
                        custom_parameters={str(k): str(v) for k, v in (start.get("customParameters") or {}).items()},
                        encoding=str(fmt.get("encoding", "audio/x-mulaw")),
                        sample_rate=int(fmt.get("sampleRate", TWILIO_RATE)),
                    )
    except (TimeoutError, WebSocketDisconnect, RuntimeError, ValueError, KeyError, TypeError, AttributeError):
        return None


class TwilioSocket:
    """Serialises our JSON frames on the stream; a `clear` always goes out before later media."""

    def __init__(self, ws: WebSocket, stream_sid: str) -> None:
        self._ws = ws
        self.stream_sid = stream_sid
        self._lock = asyncio.Lock()

    async def send(self, event: str, **fields: Any) -> None:
        text = json.dumps({"event": event, "streamSid": self.stream_sid, **fields})
        async with self._lock:
            await asyncio.wait_for(self._ws.send_text(text), SEND_TIMEOUT_SECONDS)


@dataclass
class _Marks:
    epoch: int = 0
    """Bumped by every clear: echoes of marks sent before it say nothing about what played."""
    sent_samples: int = 0
    played_samples: int = 0


class TwilioAudioOut:
    """`AudioOut` over a media stream: paced `media` frames, each followed by a mark of its end position.

    With a recording feed, every frame is recorded as it goes to Twilio, and a `clear` cuts the recording
    back to the present: what Twilio had buffered but not played (up to the pacer's lead) was never heard.
    """

    sample_rate = TWILIO_RATE

    def __init__(self, socket: TwilioSocket, feed: RecordingFeed | None = None) -> None:
        self._socket = socket
        self._feed = feed
        self._pacer = PacedAudioOut(TWILIO_RATE, self._send_frame)
        self._marks = _Marks()
        self._pending_clear: asyncio.Task[None] | None = None
        self._heard = asyncio.Event()
        self.marks_acked = 0
        self.clears = 0

    @property
    def send_delays_ms(self) -> list[float]:
        return self._pacer.send_delays_ms

    @send_delays_ms.setter
    def send_delays_ms(self, into: list[float]) -> None:
        self._pacer.send_delays_ms = into

    async def run(self) -> None:
        await self._pacer.run()

    def write(self, pcm16: bytes) -> None:
        self._pacer.write(pcm16)

    def clear(self) -> None:
        self._pacer.clear()
        if self._feed is not None:
            self._feed.assistant_dropped(asyncio.get_running_loop().time())
        marks = self._marks
        marks.epoch += 1
        marks.sent_samples = marks.played_samples
        self.clears += 1
        previous = self._pending_clear
        self._pending_clear = asyncio.get_running_loop().create_task(self._send_clear(previous))

    def pause(self) -> None:
        self._pacer.pause()

    def resume(self) -> None:
        self._pacer.resume()

    @property
    def sent_seconds(self) -> float:
        """Audio the caller has heard, by Twilio's mark echoes."""
        return self._marks.played_samples / TWILIO_RATE

    @property
    def queued_seconds(self) -> float:
        """Not heard yet: still in our pacer, or sent and playing out of Twilio's buffer."""
        in_flight = self._marks.sent_samples - self._marks.played_samples
        return self._pacer.queued_seconds + in_flight / TWILIO_RATE

    def on_mark(self, name: str) -> None:
        epoch, _, end = name.partition(":")
        if not end.isdigit() or epoch != str(self._marks.epoch):
            return  # another epoch's mark, flushed by a clear: that audio was never heard
        self.marks_acked += 1
        self._marks.played_samples = max(self._marks.played_samples, int(end))
        self._heard.set()

    async def drain(self, timeout: float) -> None:
        """Until everything written has been heard (or `timeout`)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.queued_seconds > 0:
                    self._heard.clear()
                    await self._heard.wait()

    async def _send_clear(self, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous
        with contextlib.suppress(Exception):  # a closed socket is noticed by the receive loop
            await self._socket.send("clear")

    async def _send_frame(self, pcm16: bytes) -> None:
        if self._pending_clear is not None:
            await self._pending_clear
        if self._feed is not None:
            # Before the send: a clear made while this frame is on the wire then cuts it from the recording too.
            self._feed.assistant(pcm16, TWILIO_RATE, asyncio.get_running_loop().time())
        payload = base64.b64encode(mulaw_encode(pcm16)).decode()
        await self._socket.send("media", media={"payload": payload})
        self._marks.sent_samples += len(pcm16) // 2
        await self._socket.send("mark", mark={"name": f"{self._marks.epoch}:{self._marks.sent_samples}"})


class _Inbound:
    """Twilio's 20 ms µ-law frames -> 20 ms PCM16 frames at 16 kHz."""

    def __init__(self) -> None:
        self._resample = Resampler(TWILIO_RATE, ENGINE_RATE)
        self._pending = bytearray()

    def frames(self, payload: str) -> list[bytes]:
        self._pending += self._resample(mulaw_decode(base64.b64decode(payload)))
        out = []
        while len(self._pending) >= ENGINE_FRAME_BYTES:
            out.append(bytes(self._pending[:ENGINE_FRAME_BYTES]))
            del self._pending[:ENGINE_FRAME_BYTES]
        return out


@dataclass
class TwilioSession:
    """What one media stream did, for the route that ran it."""

    start: StreamStart
    forwarded_to: dict[str, Any] | None = None
    carrier_ended: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when Twilio reported the call over (status callback) while the stream is live."""


async def serve_twilio_media(
    ws: WebSocket,
    session: TwilioSession,
    setup: CallSetup,
    sink: CallSink,
    control: CallControl,
    *,
    settings: Settings | None = None,
    providers: Providers | None = None,
    server_request: ServerRequest | None = None,
    tools: ToolRunner | None = None,
    recorder: CallRecorder | None = None,
) -> None:
    """Run one call on an accepted, started stream until it ends; hangs up via REST when we end it.

    `tools` runs function tools; `transferCall` and `dtmf` act on the line here. With a recorder, the
    caller's audio is recorded as it arrives from Twilio and the assistant's as it is sent (see
    `TwilioAudioOut`); it never blocks.
    """
    socket = TwilioSocket(ws, session.start.stream_sid)
    feed = None if recorder is None else RecordingFeed(recorder, asyncio.get_running_loop().time())
    try:
        providers = providers or build_providers(setup.assistant, settings or Settings())
    except ProviderError as exc:
        await sink.ended(exc.reason, datetime.now(UTC), [], {"messages": [], "transcript": ""}, exc.detail or str(exc))
        await _hang_up(control, setup.call_id)
        return
    out = TwilioAudioOut(socket, feed)
    line_tools = TwilioToolRunner(setup, control, out, session, server_request, tools)
    engine = CallEngine(setup, sink, out, providers, line_tools)
    line_tools.engine = engine
    # Measured straight into the record, so the artifact stored at the end (and every progress write) has them.
    out.send_delays_ms = engine.record.to_transport_ms
    keypad = Keypad(setup.assistant.get("keypadInputPlan"), engine)
    pacer = asyncio.create_task(out.run(), name=f"twilio-pacer-{setup.call_id}")
    receiver = asyncio.create_task(_receive(ws, engine, out, keypad, feed))
    carrier = asyncio.create_task(session.carrier_ended.wait())
    try:
        await engine.start()
        ended = asyncio.create_task(engine.wait_ended())
        done, _ = await asyncio.wait({pacer, receiver, ended, carrier}, return_when=asyncio.FIRST_COMPLETED)
        if session.forwarded_to is not None:
            await engine.end(FORWARDED)
        elif pacer in done and isinstance(pacer.exception(), SendStalled):
            await engine.end(PROVIDER_CLOSED, str(pacer.exception()))
        elif receiver in done and receiver.result() == "closed":
            await engine.end(PROVIDER_CLOSED, "Twilio closed the media stream without a stop")
        elif receiver in done or carrier in done or pacer in done:
            await engine.end(CUSTOMER_ENDED)
        await engine.wait_ended()
        if engine.ended_reason not in (CUSTOMER_ENDED, FORWARDED, PROVIDER_CLOSED):
            await out.drain(timeout=5.0)  # let the goodbye play out before the line drops
            await _hang_up(control, setup.call_id)
    except Exception as exc:  # the server must outlive any one call's failure
        log.exception("call %s failed", setup.call_id)
        await engine.end("pipeline-error-opencall-engine-failed", f"{type(exc).__name__}: {exc}")
        await _hang_up(control, setup.call_id)
    finally:
        keypad.close()
        for task in (pacer, receiver, carrier):
            task.cancel()
        with contextlib.suppress(Exception):
            await ws.close()


async def _hang_up(control: CallControl, call_id: str) -> None:
    try:
        await control.hang_up()
    except Exception as exc:
        log.warning("call %s: could not hang up on Twilio: %s", call_id, exc)


async def _receive(
    ws: WebSocket, engine: CallEngine, out: TwilioAudioOut, keypad: Keypad, feed: RecordingFeed | None
) -> str:
    """Reads until Twilio stops the stream ("stop": the call hung up or moved on) or the socket closes."""
    loop = asyncio.get_running_loop()
    inbound = _Inbound()
    while True:
        try:
            text = await ws.receive_text()
        except (WebSocketDisconnect, RuntimeError):
            return "closed"
        try:
            message = json.loads(text)
            event = message.get("event")
        except (ValueError, AttributeError):
            log.info("call %s: ignored a frame that is not JSON", engine.setup.call_id)
            continue
        if event == "media":
            received_at = loop.time()
            try:
                frames = inbound.frames(message["media"]["payload"])
            except (KeyError, TypeError, ValueError):
                continue
            for frame in frames:
                if feed is not None:
                    feed.caller(frame, ENGINE_RATE, received_at)
                await engine.push_caller_audio(frame, received_at)
        elif event == "mark":
            out.on_mark(str((message.get("mark") or {}).get("name", "")))
        elif event == "dtmf":
            await keypad.press(str((message.get("dtmf") or {}).get("digit", "")))
        elif event == "stop":
            return "stop"


async def speak_and_hang_up(
    ws: WebSocket, session: TwilioSession, setup: CallSetup, sink: CallSink, control: CallControl, text: str,
    reason: str, *, settings: Settings | None = None, providers: Providers | None = None,
    recorder: CallRecorder | None = None,
) -> None:
    """Say `text` in the assistant's voice (a voicemail message after the beep), hang up, end the call."""
    from opencall.engine.record import CallRecord

    loop = asyncio.get_running_loop()
    feed = None if recorder is None else RecordingFeed(recorder, loop.time())
    socket = TwilioSocket(ws, session.start.stream_sid)
    out = TwilioAudioOut(socket, feed)
    record = CallRecord(started_mono=loop.time())
    out.send_delays_ms = record.to_transport_ms
    pacer = asyncio.create_task(out.run())
    receiver = asyncio.create_task(_receive_marks(ws, out, feed))
    detail = None
    try:
        started = loop.time()
        providers = providers or build_providers(setup.assistant, settings or Settings())
        resample = Resampler(providers.tts.sample_rate, TWILIO_RATE)
        async for pcm in providers.tts.synthesize(text):
            out.write(resample(pcm))
        await sink.started(setup.started_at or datetime.now(UTC))
        await out.drain(timeout=120.0)
        record.add_bot(text, started, loop.time(), source="voicemail")
    except ProviderError as exc:
        reason, detail = exc.reason, exc.detail or str(exc)
    finally:
        pacer.cancel()
        receiver.cancel()
    await _hang_up(control, setup.call_id)
    await sink.ended(reason, datetime.now(UTC), list(record.messages), record.artifact(), detail)
    with contextlib.suppress(Exception):
        await ws.close()


async def _receive_marks(ws: WebSocket, out: TwilioAudioOut, feed: RecordingFeed | None) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            message = json.loads(await ws.receive_text())
        except (WebSocketDisconnect, RuntimeError, ValueError):
            return
        if message.get("event") == "media" and feed is not None:
            with contextlib.suppress(KeyError, TypeError, ValueError):  # a bad frame is only left out
                feed.caller(mulaw_decode(base64.b64decode(message["media"]["payload"])), TWILIO_RATE, loop.time())
        elif message.get("event") == "mark":
            out.on_mark(str((message.get("mark") or {}).get("name", "")))
        elif message.get("event") == "stop":
            return
