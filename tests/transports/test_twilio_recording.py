"""A recorded Twilio call: the stereo file has the callee on the left and the assistant on the right.

The callee is the simulator's Media Streams client; the call runs on the embedded models. What the
callee sent and what it heard are compared with the recording OpenCall serves for download.
"""

from __future__ import annotations

import asyncio
import io
import time
import wave
from typing import Any

import numpy as np
import pytest
import soxr

from opencall.store.recordings import RECORDING_RATE
from opencall.transports.codec import mulaw_decode
from tests.fixtures.speech import load_clip
from tests.sim.twilio import Outcome, SimCall
from tests.sim.twilio_media import MediaStream
from tests.transports.test_twilio_media import CLIP, FIRST_MESSAGE, answer_greeting_with, llama, run_outbound
from tests.transports.test_websocket_recording import best_correlation
from tests.transports.twilio_stack import TwilioStack, twilio_sim_fixture, twilio_stack_fixture  # noqa: F401

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def longest_heard_stretch(stream: MediaStream) -> np.ndarray:
    """The longest unbroken run of the assistant's audio the callee played, as PCM16 at the recording rate.

    Unbroken, because the recording places each of the assistant's bursts by when it was sent, and the
    callee's loudspeaker plays silence wherever the app's audio ran late."""
    runs = [b""]
    for played in stream.played:
        if played.from_app:
            runs[-1] += played.mulaw
        elif runs[-1]:
            runs.append(b"")
    pcm8k = np.frombuffer(mulaw_decode(max(runs, key=len)), dtype="<i2")
    return np.asarray(soxr.resample(pcm8k, 8000, RECORDING_RATE), dtype=np.int16)


async def recorded_call(stack: TwilioStack, call_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The call once its recording is written (a moment after it ends)."""
    deadline = time.monotonic() + timeout
    call = await stack.get_call(call_id)
    while not (call.get("artifact") or {}).get("stereoRecordingUrl") and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        call = await stack.get_call(call_id)
    return call


async def test_stereo_recording_has_the_callees_clip_left_and_the_assistant_right(twilio_stack: TwilioStack) -> None:
    stack = twilio_stack
    pcm, rate, _ = load_clip(CLIP)
    assert rate == RECORDING_RATE

    async def callee(call: SimCall) -> None:
        await answer_greeting_with(call.stream, pcm, rate)
        await call.stream.hang_up()

    ended, sim_call = await run_outbound(
        stack, Outcome(answer="human", callee=callee), firstMessage=FIRST_MESSAGE, model=llama()
    )
    call = await recorded_call(stack, ended["id"])

    base = f"{stack.server.base_url}/call/{ended['id']}"
    artifact = call["artifact"]
    assert artifact["recordingUrl"] == artifact["recording"]["mono"]["combinedUrl"] == f"{base}/mono-recording"
    assert artifact["stereoRecordingUrl"] == artifact["recording"]["stereoUrl"] == f"{base}/stereo-recording"
    assert artifact["recording"]["mono"]["customerUrl"] == f"{base}/customer-recording"
    assert artifact["recording"]["mono"]["assistantUrl"] == f"{base}/assistant-recording"
    metrics = artifact["performanceMetrics"]
    assert metrics["toTransportLatencyAverage"] is not None and metrics["toTransportLatencyAverage"] >= 0
    assert metrics["fromTransportLatencyAverage"] is not None and metrics["fromTransportLatencyAverage"] >= 0

    async with stack.client() as client:
        redirect = await client.get(f"/call/{ended['id']}/stereo-recording")
        stereo = await client.get(f"/call/{ended['id']}/stereo-recording", follow_redirects=True)
        mono = await client.get(f"/call/{ended['id']}/mono-recording", follow_redirects=True)
    assert redirect.status_code == 302 and "/recordings/signed/" in redirect.headers["location"]
    assert stereo.status_code == 200 and mono.status_code == 200
    assert stereo.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(stereo.content)) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == RECORDING_RATE
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    with wave.open(io.BytesIO(mono.content)) as wav:
        assert wav.getnchannels() == 1 and wav.getnframes() == len(frames)

    left, right = frames[:, 0], frames[:, 1]
    heard = longest_heard_stretch(sim_call.stream)
    assert len(heard) > RECORDING_RATE // 2, "the callee never heard 0.5 s of the assistant unbroken"
    sent_left, heard_right = best_correlation(left, pcm), best_correlation(right, heard)
    assert sent_left >= 0.9  # what the callee sent, on the customer's side
    assert heard_right >= 0.9  # what the callee heard, on the assistant's side
    assert best_correlation(right, pcm) < 0.5 and best_correlation(left, heard) < 0.5  # no side leaks
    print(f"\ncallee's clip on the left {sent_left:.3f}; {len(heard) / RECORDING_RATE:.1f} s heard, on the right"
          f" {heard_right:.3f}; toTransportLatencyAverage {metrics['toTransportLatencyAverage']} ms")
