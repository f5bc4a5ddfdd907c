"""The socket under bad input and bad clients: the call survives or ends with a clear reason.

The voice is espeak-ng and the model the OpenAI simulator, so these run in seconds.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from fastapi import WebSocket

from opencall.engine.session import AudioFormat, CallSetup
from opencall.settings import Settings
from opencall.transports import pacing
from opencall.transports.codec import mulaw_decode, mulaw_encode
from opencall.transports.pacing import PacedAudioOut, SendStalled
from opencall.transports.websocket import CLIENT_STALLED, _Inbound, client_message_types, serve_vapi_websocket
from tests.fixtures.caller import LocalServer, RecordingSink, WsCaller
from tests.sim.openai import OpenAISim, Reply

GREETING = "Hello, you are through to the test line. How can I help you today?"


@pytest.fixture
async def line() -> AsyncIterator[tuple[LocalServer, dict[str, RecordingSink]]]:
    sinks: dict[str, RecordingSink] = {}
    sim = OpenAISim(lambda body: Reply("Sure."))
    async with sim.serve() as base_url:
        assistant: dict[str, Any] = {
            "firstMessage": GREETING,
            "clientMessages": ["transcript", "status-update"],
            "transcriber": {"provider": "vapi"},
            "voice": {"provider": "opencall-espeak"},
            "model": {"provider": "custom-llm", "url": base_url, "model": "scripted", "messages": []},
        }

        async def handler(ws: WebSocket, call_id: str) -> None:
            sink = sinks[call_id] = RecordingSink()
            setup = CallSetup(call_id, "org", assistant, AudioFormat("pcm_s16le", 16000))
            await serve_vapi_websocket(ws, setup, sink, settings=Settings())

        async with LocalServer(handler) as server:
            yield server, sinks


async def test_garbage_frames_are_dropped_and_the_call_goes_on(
    line: tuple[LocalServer, dict[str, RecordingSink]],
) -> None:
    server, sinks = line
    async with WsCaller(server.url("g1")) as caller:
        while caller.first_voiced_after(0) is None:  # noqa: ASYNC110 - polls a value another task appends to
            await asyncio.sleep(0.02)
        await caller._ws.send(b"\x01\x02\x03")  # odd length: not 16-bit PCM
        await caller._ws.send(bytes(16000 * 2 * 3))  # 3 s in one frame: not a live stream
        await caller._ws.send("{not json")
        await caller._ws.send(json.dumps({"type": "something-else"}))
        await caller._ws.send(json.dumps([1, 2, 3]))
        mark = time.monotonic()
        await asyncio.sleep(1.0)
        assert caller.first_voiced_after(mark) is not None  # the greeting kept playing
        assert not sinks["g1"].ended_event.is_set()
        await caller.send_json({"type": "hangup"})
        await asyncio.wait_for(sinks["g1"].ended_event.wait(), 10)
    assert sinks["g1"].ended_reason == "customer-ended-call"
    assert sinks["g1"].messages[0]["role"] == "bot"  # the greeting, cut where the caller left
    kinds = {m["type"] for m in caller.messages}
    assert kinds <= {"transcript", "status-update"}  # clientMessages filter
    assert "status-update" in kinds


async def test_client_closing_the_socket_is_customer_ended_call(
    line: tuple[LocalServer, dict[str, RecordingSink]],
) -> None:
    server, sinks = line
    async with WsCaller(server.url("g2")):
        await asyncio.sleep(0.5)
    await asyncio.wait_for(sinks["g2"].ended_event.wait(), 10)
    assert sinks["g2"].ended_reason == "customer-ended-call"


async def test_one_call_hanging_up_does_not_disturb_another(line: tuple[LocalServer, dict[str, RecordingSink]]) -> None:
    server, sinks = line
    async with WsCaller(server.url("a")) as a:
        async with WsCaller(server.url("b")):
            await asyncio.sleep(0.5)
        mark = time.monotonic()
        await asyncio.sleep(1.0)
        assert sinks["b"].ended_reason == "customer-ended-call"
        assert not sinks["a"].ended_event.is_set() and a.first_voiced_after(mark) is not None


def test_inbound_rejects_odd_and_oversized_frames_and_rechunks_to_20_ms() -> None:
    inbound = _Inbound("pcm_s16le", 16000)
    assert inbound.frames(b"\x00" * 101) == [] and inbound.frames(b"\x00" * 64000) == []
    assert inbound.rejected == 2
    frames = inbound.frames(b"\x00" * 1000) + inbound.frames(b"\x00" * 300)
    assert [len(f) for f in frames] == [640, 640]  # 1300 bytes in: two whole frames, 20 bytes kept
    eight = _Inbound("mulaw", 8000)
    chunk = mulaw_encode(bytes(1600))  # 100 ms at 8 kHz
    out = sum(len(f) for _ in range(10) for f in eight.frames(chunk))
    assert 0.9 * 32000 <= out <= 32000  # 1 s at 16 kHz, less the resampler's filter delay (~80 ms)


def test_mulaw_round_trip_is_within_quantisation_error() -> None:
    pcm = (np.sin(np.linspace(0, 200, 8000)) * 12000).astype("<i2")
    back = np.frombuffer(mulaw_decode(mulaw_encode(pcm.tobytes())), "<i2").astype(np.int32)
    assert np.max(np.abs(back - pcm)) <= 12000 * 0.04


def test_client_message_filter_reads_vapi_names() -> None:
    assert "model-output" in client_message_types({})
    assert client_message_types({"clientMessages": ['transcript[transcriptType="final"]', "hang"]}) == {
        "transcript",
        "hang",
    }


async def test_pacer_sends_in_real_time_with_a_small_lead_and_clears_at_once() -> None:
    sent: list[tuple[float, int]] = []

    async def send(frame: bytes) -> None:
        sent.append((time.monotonic(), len(frame)))

    out = PacedAudioOut(16000, send)
    task = asyncio.create_task(out.run())
    start = time.monotonic()
    out.write(bytes(32000))  # 1 s
    await asyncio.sleep(1.2)
    assert sum(n for _, n in sent) == 32000 and out.sent_seconds == pytest.approx(1.0)
    for at, _n in sent:
        audio_before = sum(n for t, n in sent if t <= at) / 32000
        assert audio_before <= (at - start) + pacing.LEAD_SECONDS + pacing.FRAME_SECONDS + 0.02  # no burst
    assert sent[-1][0] - start == pytest.approx(1.0 - pacing.LEAD_SECONDS, abs=0.08)  # no drift
    out.write(bytes(32000 * 5))
    await asyncio.sleep(0.3)
    out.clear()
    count = len(sent)
    await asyncio.sleep(0.2)
    assert len(sent) == count and out.queued_seconds == 0
    task.cancel()


async def test_pacer_reports_a_client_that_stops_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pacing, "SEND_TIMEOUT_SECONDS", 0.2)
    stuck = asyncio.Event()

    async def send(frame: bytes) -> None:
        await stuck.wait()

    out = PacedAudioOut(16000, send)
    out.write(bytes(3200))
    with pytest.raises(SendStalled):
        await asyncio.wait_for(out.run(), 2)
    assert CLIENT_STALLED.startswith("call.in-progress.error-")
