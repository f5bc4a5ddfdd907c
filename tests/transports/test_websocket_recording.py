"""A recorded websocket call: the stereo file has the caller on the left and the assistant on the right."""

from __future__ import annotations

import asyncio
import io
import time
import wave

import numpy as np

from tests.conftest import RunningServer
from tests.fixtures.caller import WsCaller
from tests.fixtures.speech import load_clip


def best_correlation(haystack: np.ndarray, needle: np.ndarray) -> float:
    """Peak normalised cross-correlation of `needle` anywhere in `haystack`."""
    h = haystack.astype(np.float64)
    n = needle.astype(np.float64)
    size = 1 << int(np.ceil(np.log2(len(h) + len(n))))
    corr = np.fft.irfft(np.fft.rfft(h, size) * np.conj(np.fft.rfft(n, size)), size)[: len(h) - len(n) + 1]
    energy = np.sqrt(np.convolve(h**2, np.ones(len(n)), "valid"))
    # Windows of near silence would divide by ~0; they cannot hold the clip, so they score 0.
    norm = np.linalg.norm(n)
    return float(np.max(np.where(energy > 0.05 * norm, corr / (energy * norm + 1e-9), 0.0)))


async def test_stereo_recording_has_the_callers_clip_left_and_the_reply_right(live_server: RunningServer) -> None:
    with live_server.client() as api:
        assistant = api.post("/assistant", json={"name": "rec", "firstMessage": "Acme Dental, how can I help?"}).json()
        call = api.post("/call", json={"assistantId": assistant["id"],
                                       "transport": {"provider": "vapi.websocket"}}).json()
    pcm, rate, _ = load_clip("piper-joe_s1")
    async with WsCaller(call["transport"]["websocketCallUrl"]) as caller:
        await caller.wait_quiet(after=time.monotonic() - 1, quiet_seconds=0.6, timeout=30)
        sent = await caller.speak(pcm)
        await caller.wait_quiet(after=sent, quiet_seconds=1.0, timeout=30)
        await caller.send_json({"type": "end-call"})
        await caller.closed.wait()
    with live_server.client() as api:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stored = api.get(f"/call/{call['id']}").json()
            if (stored.get("artifact") or {}).get("stereoRecordingUrl"):
                break
            await asyncio.sleep(0.2)
        assert stored["artifact"]["recording"]["mono"]["customerUrl"]
        assert stored["artifact"]["performanceMetrics"]["toTransportLatencyAverage"] >= 0
        download = api.get(f"/call/{call['id']}/stereo-recording", follow_redirects=True)
        other = await asyncio.to_thread(live_server.new_org)
        assert live_server.client(other.private_key).get(f"/call/{call['id']}/stereo-recording").status_code == 404
    assert download.status_code == 200
    with wave.open(io.BytesIO(download.content)) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == rate
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    left, right = frames[:, 0], frames[:, 1]
    assert best_correlation(left, pcm) >= 0.9
    assert best_correlation(right, pcm) < 0.5  # the caller is not on the assistant's side
    assert np.sqrt(np.mean(right.astype(np.float64) ** 2)) > 100  # the greeting and the reply are there
