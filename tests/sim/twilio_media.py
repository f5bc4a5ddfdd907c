"""The callee's side of a Twilio Media Stream, as Twilio's media server speaks it (transports.md §2.5).

`MediaStream` connects to the `<Stream url>` of a `<Connect>`, sends `connected` and `start`, then one
20 ms `media` frame of caller audio every 20 ms on a clock (silence when the callee is quiet, as
Twilio does). The app's audio is buffered and *played* on the same clock: a `mark` is echoed once
the audio queued before it has played, `clear` empties the buffer and echoes pending marks at once.
What was played is recorded, so a test can transcribe what the callee heard.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets

from opencall.transports.codec import mulaw_decode, mulaw_encode

RATE = 8000
FRAME_BYTES = 160  # 20 ms of µ-law at 8 kHz
FRAME_SECONDS = 0.02
MULAW_SILENCE = b"\xff" * FRAME_BYTES
VOICED_RMS = 300  # same threshold as tests/fixtures/caller.py
DTMF_TONE_SECONDS = 0.1
DTMF_FREQS = {
    "1": (697, 1209),
    "2": (697, 1336),
    "3": (697, 1477),
    "A": (697, 1633),
    "4": (770, 1209),
    "5": (770, 1336),
    "6": (770, 1477),
    "B": (770, 1633),
    "7": (852, 1209),
    "8": (852, 1336),
    "9": (852, 1477),
    "C": (852, 1633),
    "*": (941, 1209),
    "0": (941, 1336),
    "#": (941, 1477),
    "D": (941, 1633),
}


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def rms(pcm16: bytes) -> float:
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def detect_dtmf(pcm16_8k: bytes, min_seconds: float = 0.04) -> str:
    """Digits in 8 kHz audio by the Goertzel power of the eight DTMF frequencies, 20 ms at a time."""
    samples = np.frombuffer(pcm16_8k, dtype="<i2").astype(np.float64)
    n = int(RATE * FRAME_SECONDS)
    lows, highs = (697, 770, 852, 941), (1209, 1336, 1477, 1633)
    by_pair = {v: k for k, v in DTMF_FREQS.items()}
    digits, current, run = [], None, 0
    for start in range(0, len(samples) - n + 1, n):
        window = samples[start : start + n]
        energy = float(np.sum(window**2)) + 1e-9
        power = {f: _goertzel(window, f) for f in lows + highs}
        low = max(lows, key=lambda f: power[f])
        high = max(highs, key=lambda f: power[f])
        # Both tones must carry most of the frame's energy: speech spreads it over many frequencies.
        tone = (power[low] + power[high]) * 2 / n / energy > 0.7 and rms(window.astype("<i2").tobytes()) > 300
        digit = by_pair[(low, high)] if tone else None
        if digit == current:
            run += 1
        else:
            current, run = digit, 1
        if digit is not None and run == int(min_seconds / FRAME_SECONDS):
            digits.append(digit)
    return "".join(digits)


def _goertzel(window: np.ndarray, freq: float) -> float:
    """Power of `freq` in the window (a single DFT bin, which is what Goertzel computes)."""
    phase = 2 * np.pi * freq / RATE * np.arange(window.size)
    return float(np.dot(window, np.cos(phase)) ** 2 + np.dot(window, np.sin(phase)) ** 2)


@dataclass
class Played:
    """One 20 ms tick of the callee's loudspeaker."""

    at: float
    """time.monotonic() when it played."""
    mulaw: bytes
    from_app: bool
    """False when the buffer was empty and the tick played silence."""


@dataclass
class MediaStream:
    url: str
    call_sid: str
    account_sid: str
    custom_parameters: Mapping[str, str] = field(default_factory=dict)
    stream_sid: str = field(default_factory=lambda: sid("MZ"))
    played: list[Played] = field(default_factory=list)
    marks_echoed: list[str] = field(default_factory=list)
    clears: int = 0
    clear_times: list[float] = field(default_factory=list)
    received_frames: int = 0
    arrivals: list[tuple[float, bytes]] = field(default_factory=list)
    """(time.monotonic(), µ-law payload) of each `media` frame from the app as it arrived, before the
    loudspeaker buffer: what a websocket caller measures, where `played` is what the callee heard."""
    bad_messages: list[str] = field(default_factory=list)
    closed_by: str | None = None
    """"app" (the app closed the socket), "callee" (hang up), "twilio" (call updated or ended)."""
    started_at: float = 0.0
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._outgoing: list[bytes] = []
        self._marks_due: list[tuple[int, str]] = []
        self._buffer = bytearray()
        self._received_bytes = 0
        self._played_bytes = 0
        self._sequence = 0
        self._chunk = 0
        self._sent_frames = 0
        self._voiced_futures: dict[int, asyncio.Future[float]] = {}
        self._onset_frames: set[int] = set()
        self.voice_onsets: list[float] = []
        """time.monotonic() when the first voiced frame of each spoken clip was sent."""
        self._ws: Any = None
        self._send_lock = asyncio.Lock()
        self.connected = asyncio.Event()

    # --- the callee's controls ------------------------------------------------------------

    async def speak(self, pcm16: np.ndarray, rate: int = RATE) -> float:
        """Queue a clip; returns time.monotonic() when the frame holding its last voiced sample was sent."""
        if rate != RATE:
            import soxr

            pcm16 = soxr.resample(pcm16.astype(np.int16), rate, RATE).astype(np.int16)
        mulaw = mulaw_encode(pcm16.astype("<i2").tobytes())
        frames = [mulaw[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff") for i in range(0, len(mulaw), FRAME_BYTES)]
        voiced = [i for i, f in enumerate(frames) if rms(mulaw_decode(f)) > VOICED_RMS] or [len(frames) - 1]
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        base = self._sent_frames + len(self._outgoing)
        self._voiced_futures[base + voiced[-1] + 1] = future
        self._onset_frames.add(base + voiced[0] + 1)
        self._outgoing.extend(frames)
        return await future

    async def press(self, digits: str) -> None:
        """Send DTMF as Twilio reports keypresses on a bidirectional stream: one `dtmf` event per digit."""
        for digit in digits:
            await self._send(
                {"event": "dtmf", "streamSid": self.stream_sid, "dtmf": {"track": "inbound_track", "digit": digit}}
            )

    async def hang_up(self) -> None:
        """The callee hangs up: Twilio sends `stop` and closes the socket."""
        await self.close("callee")

    async def close(self, by: str) -> None:
        if self._ws is None or self.ended.is_set():
            return
        self.closed_by = self.closed_by or by
        with contextlib.suppress(Exception):
            await self._send(
                {
                    "event": "stop",
                    "streamSid": self.stream_sid,
                    "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                }
            )
            await self._ws.close()
        self.ended.set()

    # --- what the callee heard ------------------------------------------------------------

    def heard_pcm(self, since: float = 0.0) -> bytes:
        """Everything played (app audio and silence) as PCM16 at 8 kHz."""
        return mulaw_decode(b"".join(p.mulaw for p in self.played if p.at >= since))

    def first_voiced_after(self, t: float) -> float | None:
        for p in self.played:
            if p.at >= t and p.from_app and rms(mulaw_decode(p.mulaw)) > VOICED_RMS:
                return p.at
        return None

    def first_voiced_arrival_after(self, t: float) -> float | None:
        for at, payload in self.arrivals:
            if at >= t and rms(mulaw_decode(payload)) > VOICED_RMS:
                return at
        return None

    def last_voiced_after(self, t: float) -> float | None:
        voiced = [p.at for p in self.played if p.at >= t and p.from_app and rms(mulaw_decode(p.mulaw)) > VOICED_RMS]
        return voiced[-1] if voiced else None

    async def wait_quiet(self, after: float, quiet_seconds: float = 1.2, timeout: float = 30.0) -> None:
        """Until a reply started after `after` and then `quiet_seconds` passed with nothing voiced."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.ended.is_set():
            last = self.last_voiced_after(after)
            if last is not None and time.monotonic() - last > quiet_seconds:
                return
            await asyncio.sleep(0.05)

    async def wait_voiced(self, after: float, timeout: float = 30.0) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.ended.is_set():
            at = self.first_voiced_after(after)
            if at is not None:
                return at
            await asyncio.sleep(0.02)
        return None

    # --- the wire -------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, stream until either side ends. Returns when the socket is closed."""
        try:
            self._ws = await websockets.connect(self.url, max_size=None, open_timeout=10)
        except (OSError, websockets.WebSocketException) as exc:
            self.bad_messages.append(f"connect failed: {exc}")
            self.closed_by = "app"
            self.ended.set()
            return
        await self._ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await self._send(
            {
                "event": "start",
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": dict(self.custom_parameters),
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
                "streamSid": self.stream_sid,
            }
        )
        self.started_at = time.monotonic()
        self.connected.set()
        clock = asyncio.create_task(self._clock())
        try:
            await self._receive()
        finally:
            clock.cancel()
            self.closed_by = self.closed_by or "app"
            self.ended.set()
            for future in self._voiced_futures.values():
                if not future.done():
                    future.set_result(time.monotonic())

    async def _send(self, message: dict[str, Any]) -> None:
        self._sequence += 1
        message = {"event": message["event"], "sequenceNumber": str(self._sequence), **message}
        async with self._send_lock:
            await self._ws.send(json.dumps(message))

    async def _clock(self) -> None:
        start = time.monotonic()
        tick = 0
        while True:
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * FRAME_SECONDS - time.monotonic()))
            now = time.monotonic()
            await self._send_caller_frame(now)
            await self._play_frame(now)

    async def _send_caller_frame(self, now: float) -> None:
        frame = self._outgoing.pop(0) if self._outgoing else MULAW_SILENCE
        self._chunk += 1
        try:
            await self._send(
                {
                    "event": "media",
                    "streamSid": self.stream_sid,
                    "media": {
                        "track": "inbound",
                        "chunk": str(self._chunk),
                        "timestamp": str(int((now - self.started_at) * 1000)),
                        "payload": base64.b64encode(frame).decode(),
                    },
                }
            )
        except websockets.ConnectionClosed:
            return
        self._sent_frames += 1
        if self._sent_frames in self._onset_frames:
            self.voice_onsets.append(now)
        future = self._voiced_futures.pop(self._sent_frames, None)
        if future is not None and not future.done():
            future.set_result(now)

    async def _play_frame(self, now: float) -> None:
        chunk = bytes(self._buffer[:FRAME_BYTES])
        del self._buffer[:FRAME_BYTES]
        self._played_bytes += len(chunk)
        self.played.append(Played(now, chunk.ljust(FRAME_BYTES, b"\xff"), bool(chunk)))
        await self._echo_marks(lambda position: position <= self._played_bytes)

    async def _echo_marks(self, due: Any) -> None:
        while self._marks_due and due(self._marks_due[0][0]):
            _, name = self._marks_due.pop(0)
            self.marks_echoed.append(name)
            with contextlib.suppress(websockets.ConnectionClosed):
                await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    async def _receive(self) -> None:
        try:
            async for raw in self._ws:
                await self._on_message(raw)
        except websockets.ConnectionClosed:
            pass

    async def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
            event = message["event"]
        except (ValueError, KeyError, TypeError):
            self.bad_messages.append(str(raw)[:200])
            return
        if message.get("streamSid") != self.stream_sid:
            self.bad_messages.append(f"wrong streamSid in {event}")
            return
        if event == "media":
            payload = base64.b64decode(message["media"]["payload"])
            self.arrivals.append((time.monotonic(), payload))
            self._buffer += payload
            self._received_bytes += len(payload)
            self.received_frames += 1
        elif event == "mark":
            self._marks_due.append((self._received_bytes, str(message["mark"]["name"])))
        elif event == "clear":
            self.clears += 1
            self.clear_times.append(time.monotonic())
            self._buffer.clear()
            self._received_bytes = self._played_bytes
            await self._echo_marks(lambda _position: True)
        else:
            self.bad_messages.append(f"unknown event {event}")
