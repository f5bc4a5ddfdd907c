"""Vapi's `vapi.websocket` transport: binary frames are audio both ways, text frames are JSON.

The API route accepts and validates the socket, then hands it here. Audio in is decoded
(mu-law), resampled to 16 kHz and cut into 20 ms frames for the engine; audio out is paced by
`PacedAudioOut`. Client messages go out as text frames, filtered by `assistant.clientMessages`.
Bad input never ends the call by itself: a malformed frame is dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from fastapi import WebSocket, WebSocketDisconnect

from opencall.engine.call import CallEngine, Providers, build_providers
from opencall.engine.session import CallSetup, CallSink, ToolRunner
from opencall.providers.base import ProviderError
from opencall.settings import Settings
from opencall.transports.codec import ENGINE_RATE, Resampler, mulaw_decode, mulaw_encode
from opencall.transports.pacing import SEND_TIMEOUT_SECONDS, PacedAudioOut, SendStalled
from opencall.transports.recording import RecordingFeed

if TYPE_CHECKING:
    from opencall.store.recordings import CallRecorder

log = logging.getLogger("opencall.transport")

# assistant.clientMessages default (vapi-api.md §3.1)
DEFAULT_CLIENT_MESSAGES = frozenset(
    {
        "conversation-update",
        "function-call",
        "hang",
        "model-output",
        "speech-update",
        "status-update",
        "transfer-update",
        "transcript",
        "tool-calls",
        "user-interrupted",
        "voice-input",
        "workflow.node.started",
        "assistant.started",
    }
)
MAX_AUDIO_FRAME_SECONDS = 1.0  # a frame longer than this is not a live stream; dropped
END_MESSAGES = frozenset({"end-call", "hangup"})
CLIENT_STALLED = "call.in-progress.error-vapifault-call-started-but-connection-to-transport-missing"
ENGINE_FRAME_BYTES = ENGINE_RATE // 50 * 2  # 20 ms at 16 kHz


def client_message_types(assistant: dict[str, Any]) -> frozenset[str]:
    """Which message types this client gets; `transcript[transcriptType="final"]` counts as transcript."""
    configured = assistant.get("clientMessages")
    if not isinstance(configured, list):
        return DEFAULT_CLIENT_MESSAGES
    return frozenset(str(t).split("[", 1)[0] for t in configured)


class _Socket:
    """Serialises sends (audio and JSON share one socket) and bounds how long one may take."""

    def __init__(self, ws: WebSocket, encoding: str) -> None:
        self._ws = ws
        self._lock = asyncio.Lock()
        self._mulaw = encoding == "mulaw"

    async def send_audio(self, pcm16: bytes) -> None:
        data = mulaw_encode(pcm16) if self._mulaw else pcm16
        async with self._lock:
            await self._ws.send_bytes(data)

    async def send_json(self, message: dict[str, Any]) -> None:
        async with self._lock:
            await asyncio.wait_for(self._ws.send_text(json.dumps(message)), SEND_TIMEOUT_SECONDS)


class _Inbound:
    """Caller bytes -> 20 ms PCM16 frames at 16 kHz; rejects what cannot be live audio."""

    def __init__(self, encoding: str, sample_rate: int) -> None:
        self._mulaw = encoding == "mulaw"
        self._resample = Resampler(sample_rate, ENGINE_RATE)
        self._max_bytes = int(sample_rate * MAX_AUDIO_FRAME_SECONDS) * (1 if self._mulaw else 2)
        self._pending = bytearray()
        self.rejected = 0

    def frames(self, data: bytes) -> list[bytes]:
        if len(data) > self._max_bytes or (not self._mulaw and len(data) % 2):
            self.rejected += 1
            return []
        pcm = mulaw_decode(data) if self._mulaw else data
        self._pending += self._resample(pcm)
        out = []
        while len(self._pending) >= ENGINE_FRAME_BYTES:
            out.append(bytes(self._pending[:ENGINE_FRAME_BYTES]))
            del self._pending[:ENGINE_FRAME_BYTES]
        return out


async def serve_vapi_websocket(
    ws: WebSocket,
    setup: CallSetup,
    sink: CallSink,
    tools: ToolRunner | None = None,
    *,
    settings: Settings | None = None,
    providers: Providers | None = None,
    recorder: CallRecorder | None = None,
) -> None:
    """Run one call on an accepted socket until it ends; never raises for the caller's mistakes.

    With a recorder, both sides are handed to it as they cross the socket (it never blocks): the
    caller's frames as received, the assistant's as actually sent, so a barge-in cut is recorded too.
    """
    fmt = setup.audio_format
    socket = _Socket(ws, fmt.encoding)
    loop = asyncio.get_running_loop()
    feed = None if recorder is None else RecordingFeed(recorder, loop.time())

    async def send_audio(pcm16: bytes) -> None:
        await socket.send_audio(pcm16)
        if feed is not None:
            feed.assistant(pcm16, fmt.sample_rate, loop.time())

    wanted = client_message_types(setup.assistant)

    async def client_message(message: dict[str, Any]) -> None:
        if message.get("type") in wanted:
            with contextlib.suppress(Exception):  # a dead socket is noticed by the receive loop
                await socket.send_json(message)

    try:
        providers = providers or build_providers(setup.assistant, settings or Settings())
    except ProviderError as exc:
        await _refuse(ws, sink, exc)
        return
    out = PacedAudioOut(fmt.sample_rate, send_audio)
    engine = CallEngine(setup, sink, out, providers, tools, client_message)
    # Measured straight into the record, so the artifact stored at the end (and every progress write) has them.
    out.send_delays_ms = engine.record.to_transport_ms
    pacer = asyncio.create_task(out.run(), name=f"pacer-{setup.call_id}")
    receiver = asyncio.create_task(_receive(ws, engine, _Inbound(fmt.encoding, fmt.sample_rate), feed))
    try:
        await engine.start()
        ended = asyncio.create_task(engine.wait_ended())
        done, _ = await asyncio.wait({pacer, receiver, ended}, return_when=asyncio.FIRST_COMPLETED)
        if pacer in done and isinstance(pacer.exception(), SendStalled):
            await engine.end(CLIENT_STALLED, str(pacer.exception()))
        elif receiver in done or pacer in done:
            await engine.end("customer-ended-call")
        await engine.wait_ended()
    except Exception as exc:  # the server must outlive any one call's failure
        log.exception("call %s failed", setup.call_id)
        await engine.end("pipeline-error-opencall-engine-failed", f"{type(exc).__name__}: {exc}")
    finally:
        for task in (pacer, receiver):
            task.cancel()
        with contextlib.suppress(Exception):
            await ws.close()


async def _receive(ws: WebSocket, engine: CallEngine, inbound: _Inbound, feed: RecordingFeed | None = None) -> None:
    """Reads until the client leaves or asks to end; returns either way."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            message = await ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message.get("type") == "websocket.disconnect":
            return
        received_at = loop.time()
        if message.get("bytes") is not None:
            for frame in inbound.frames(message["bytes"]):
                if feed is not None:
                    feed.caller(frame, ENGINE_RATE, received_at)
                await engine.push_caller_audio(frame, received_at)
            if inbound.rejected and inbound.rejected % 50 == 1:
                log.warning("call %s: dropped %d malformed audio frames", engine.setup.call_id, inbound.rejected)
        elif message.get("text") is not None:
            try:
                control = json.loads(message["text"])
            except ValueError:
                log.info("call %s: ignored a text frame that is not JSON", engine.setup.call_id)
                continue
            if isinstance(control, dict) and control.get("type") in END_MESSAGES:
                await engine.end("customer-ended-call")
                return


async def _refuse(ws: WebSocket, sink: CallSink, error: ProviderError) -> None:
    from datetime import UTC, datetime

    await sink.ended(
        error.reason, datetime.now(UTC), [], {"messages": [], "transcript": ""}, error.detail or str(error)
    )
    with contextlib.suppress(Exception):
        await ws.close(code=1011, reason=error.reason[:120])
