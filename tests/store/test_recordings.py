"""Call recordings: real clips in at real positions, the four WAVs out, the upload to `recordingUrl`."""

from __future__ import annotations

import asyncio
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opencall.settings import Settings
from opencall.store import recordings
from opencall.store.recordings import (
    CallRecorder,
    artifact_fields,
    recorder_for,
    recording_dir,
    salvage_recording,
    upload_recording,
)
from tests.sim.server import serve_asgi

AUDIO = Path(__file__).parents[1] / "fixtures" / "audio"
RATE = 16000
FRAME = 320  # 20 ms at 16 kHz, what transports deliver
CALLER_START = 0.5
ASSISTANT_SEGMENTS = ((4.5, 0.0, 1.6), (7.0, 1.6, None))
"""(at seconds, clip start, clip end): the assistant's reply in two parts with a silence between them."""
ASSISTANT_RATE = 22050  # Piper's rate: the assistant side is resampled on the way in


def read_wav(path: Path) -> tuple[np.ndarray[Any, Any], int, int]:
    with wave.open(str(path), "rb") as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        channels, rate = wav.getnchannels(), wav.getframerate()
    return frames.reshape(-1, channels), rate, wav.getsampwidth()


def best_match(signal: np.ndarray[Any, Any], reference: np.ndarray[Any, Any]) -> tuple[float, int]:
    """Peak normalised cross-correlation of `reference` inside `signal`, and the lag (samples) of the peak."""
    x, ref = signal.astype(np.float64), reference.astype(np.float64)
    size = 1 << int(np.ceil(np.log2(len(x) + len(ref))))
    xcorr = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(ref, size)), size)[: len(x) - len(ref) + 1]
    lag = int(np.argmax(xcorr))
    segment = x[lag : lag + len(ref)]
    return float(np.corrcoef(segment, ref)[0, 1]), lag


def clip(name: str) -> np.ndarray[Any, Any]:
    samples, rate, _ = read_wav(AUDIO / f"piper-joe_{name}.wav")
    assert rate == RATE
    return samples[:, 0]


def feed_caller(recorder: CallRecorder, samples: np.ndarray[Any, Any]) -> None:
    """20 ms frames stamped with arrival times: on time, late by network jitter, or in a burst."""
    rng = np.random.default_rng(7)
    for index, start in enumerate(range(0, len(samples), FRAME)):
        jitter = float(rng.uniform(0, 0.04)) if index % 10 else 0.0
        recorder.caller(samples[start : start + FRAME].tobytes(), RATE, CALLER_START + start / RATE + jitter)


def feed_assistant(recorder: CallRecorder, samples: np.ndarray[Any, Any]) -> None:
    for at, begin, end in ASSISTANT_SEGMENTS:
        part = samples[int(begin * RATE) : None if end is None else int(end * RATE)]
        resampled = soxr.resample(part, RATE, ASSISTANT_RATE)
        step = ASSISTANT_RATE // 50
        for start in range(0, len(resampled), step):
            chunk = resampled[start : start + step].astype("<i2")
            recorder.assistant(chunk.tobytes(), ASSISTANT_RATE, at + start / ASSISTANT_RATE)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> recordings.RecordingFiles:
    recorder = CallRecorder(tmp_path_factory.mktemp("rec") / "org" / "call")
    feed_caller(recorder, clip("s1"))
    feed_assistant(recorder, clip("s2"))
    return asyncio.run(recorder.finish())


def test_stereo_has_the_caller_left_at_its_position(recorded: recordings.RecordingFiles) -> None:
    stereo, rate, width = read_wav(recorded.stereo)
    assert (rate, width, stereo.shape[1]) == (RATE, 2, 2)
    caller = clip("s1")
    correlation, lag = best_match(stereo[:, 0], caller)
    assert correlation >= 0.9
    assert abs(lag / RATE - CALLER_START) < 0.05
    assert best_match(stereo[:, 1], caller)[0] < 0.3  # the caller did not leak into the assistant's channel


def test_stereo_has_the_assistant_right_with_its_silences(recorded: recordings.RecordingFiles) -> None:
    stereo, _, _ = read_wav(recorded.stereo)
    right = stereo[:, 1]
    source = clip("s2")
    for at, begin, end in ASSISTANT_SEGMENTS:
        part = source[int(begin * RATE) : None if end is None else int(end * RATE)]
        correlation, lag = best_match(right, part)
        assert correlation >= 0.9, (at, correlation)
        assert abs(lag / RATE - at) < 0.05, (at, lag / RATE)
    gap_start = ASSISTANT_SEGMENTS[0][0] + 1.6 + 0.05
    gap = right[int(gap_start * RATE) : int((ASSISTANT_SEGMENTS[1][0] - 0.05) * RATE)]
    assert np.abs(gap).max() == 0
    assert np.abs(right[: int(ASSISTANT_SEGMENTS[0][0] * RATE) - 160]).max() == 0


def test_mono_is_the_mix_and_sides_are_the_channels(recorded: recordings.RecordingFiles) -> None:
    stereo, _, _ = read_wav(recorded.stereo)
    mono, _, _ = read_wav(recorded.mono)
    customer, _, _ = read_wav(recorded.customer)
    assistant, _, _ = read_wav(recorded.assistant)
    expected = np.clip(stereo[:, 0].astype(np.int32) + stereo[:, 1], -32768, 32767)
    assert np.array_equal(mono[:, 0], expected)
    assert np.array_equal(customer[:, 0], stereo[:, 0])
    assert np.array_equal(assistant[:, 0], stereo[:, 1])
    end = ASSISTANT_SEGMENTS[1][0] + len(clip("s2")) / RATE - 1.6
    assert abs(recorded.duration_seconds - end) < 0.1
    assert not list(recorded.directory.glob("*.pcm"))  # raw tracks are gone once the WAVs exist


def test_feeding_never_blocks_even_when_the_writer_stalls(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path / "stalled")
    release = threading.Event()
    track = recorder._tracks["customer"]
    original = track.write

    def stalled(pcm: bytes, rate: int, at: float) -> None:
        release.wait()
        original(pcm, rate, at)

    track.write = stalled
    frame = np.zeros(FRAME, dtype="<i2").tobytes()
    started = time.perf_counter()
    for index in range(recordings.QUEUE_CHUNKS + 200):
        recorder.caller(frame, RATE, index * 0.02)
    elapsed = time.perf_counter() - started
    release.set()
    files = asyncio.run(recorder.finish())
    assert elapsed < 0.5
    assert files.dropped_chunks > 0


def test_a_cut_drops_the_assistant_audio_sent_after_it_and_later_audio_lands_in_place(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path / "cut")
    rate = 8000  # Twilio's: the writer resamples to the recording rate, so the cut must flush that too
    step = rate // 50
    tone = (np.sin(2 * np.pi * 440 * np.arange(rate) / rate) * 8000).astype("<i2")
    for start in range(0, len(tone), step):  # 1 s sent from 1.0 s; the peer played it up to 1.5 s
        recorder.assistant(tone[start : start + step].tobytes(), rate, 1.0 + start / rate)
    recorder.cut_assistant(1.5)
    for start in range(0, rate // 5, step):  # the next reply, at 3.0 s
        recorder.assistant(tone[start : start + step].tobytes(), rate, 3.0 + start / rate)

    files = asyncio.run(recorder.finish())

    right = read_wav(files.stereo)[0][:, 1].astype(np.float64)
    loud = float(np.sqrt(np.mean(right[int(1.05 * RATE) : int(1.45 * RATE)] ** 2)))
    assert loud > 4000
    assert not right[int(1.5 * RATE) : int(2.99 * RATE)].any()  # sent, but never heard
    assert float(np.sqrt(np.mean(right[int(3.02 * RATE) : int(3.18 * RATE)] ** 2))) > 4000
    assert abs(files.duration_seconds - 3.2) < 0.02


def test_recording_disabled_by_the_artifact_plan(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    call = {"id": "call-1", "orgId": "org-1"}
    assert recorder_for({"artifactPlan": {"recordingEnabled": False}}, settings, call) is None
    recorder = recorder_for({}, settings, call)
    assert recorder is not None
    assert recorder.directory == tmp_path / "recordings" / "org-1" / "call-1"
    asyncio.run(recorder.finish())


def test_raw_tracks_left_by_a_killed_process_are_salvaged(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    directory = recording_dir(settings, "org-1", "call-1")
    directory.mkdir(parents=True)
    caller = clip("s1")
    (directory / "customer.pcm").write_bytes(caller.tobytes())  # what the writer had put on disk
    (directory / "assistant.pcm").write_bytes(np.zeros(RATE, dtype="<i2").tobytes())

    files = asyncio.run(salvage_recording(settings, "org-1", "call-1"))

    assert files is not None
    stereo, _, _ = read_wav(files.stereo)
    assert np.array_equal(stereo[:, 0], caller) and not stereo[:, 1].any()
    assert not list(directory.glob("*.pcm"))
    assert asyncio.run(salvage_recording(settings, "org-1", "call-1")) == files  # already salvaged


def test_artifact_fields_point_at_the_download_routes(recorded: recordings.RecordingFiles) -> None:
    fields = artifact_fields(recorded, "https://calls.example.com/", "c1")
    base = "https://calls.example.com/call/c1"
    assert fields == {
        "recordingUrl": f"{base}/mono-recording",
        "stereoRecordingUrl": f"{base}/stereo-recording",
        "recording": {
            "stereoUrl": f"{base}/stereo-recording",
            "mono": {
                "combinedUrl": f"{base}/mono-recording",
                "assistantUrl": f"{base}/assistant-recording",
                "customerUrl": f"{base}/customer-recording",
            },
        },
    }


async def test_upload_puts_the_mono_wav_and_retries_once(recorded: recordings.RecordingFiles) -> None:
    received: list[tuple[str, bytes]] = []

    async def put(request: Request) -> Response:
        received.append((request.headers["content-type"], await request.body()))
        return Response(status_code=503 if len(received) == 1 else 200)

    app = Starlette(routes=[Route("/upload/rec.wav", put, methods=["PUT"])])
    async with serve_asgi(app) as url:
        outcome = await upload_recording(recorded, f"{url}/upload/rec.wav")
    assert outcome == {"uploaded": True, "url": f"{url}/upload/rec.wav", "status": 200}
    assert len(received) == 2
    assert received[1] == ("audio/wav", recorded.mono.read_bytes())


async def test_upload_to_an_unreachable_url_is_reported_not_raised(recorded: recordings.RecordingFiles) -> None:
    from tests.conftest import free_port

    outcome = await upload_recording(recorded, f"http://127.0.0.1:{free_port()}/rec.wav")
    assert outcome["uploaded"] is False
    assert "ConnectError" in outcome["error"]
