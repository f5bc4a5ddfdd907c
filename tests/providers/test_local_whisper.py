"""Whisper tiny.en on the fixture clips: accuracy bound, speed of the fitted window, stream semantics."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soxr

from opencall.providers.stt.local_whisper import LocalWhisperStt, create
from opencall.settings import Settings
from tests.fixtures.speech import load_clip, wer

pytestmark = pytest.mark.slow

PIPER_CLIPS = ["piper-joe_s0", "piper-joe_s1", "piper-joe_s2", "piper-joe_s3", "piper-joe_s4"]


@pytest.fixture(scope="module")
def stt() -> LocalWhisperStt:
    return create({"provider": "vapi"}, Settings())


def as_float(pcm: np.ndarray) -> np.ndarray:
    return pcm.astype(np.float32) / 32768.0


async def test_fitted_window_transcribes_the_fixture_clips_within_wer_bound(stt: LocalWhisperStt) -> None:
    refs, hyps, seconds = [], [], []
    await stt.warm_up()
    for name in PIPER_CLIPS:
        pcm, _rate, text = load_clip(name)
        started = time.perf_counter()
        hyps.append(await stt.transcribe(as_float(pcm)))
        seconds.append(time.perf_counter() - started)
        refs.append(text)
    # measured 0.10 on these clips (the misses: "Acme Dental" -> "that me devil", "office is" -> "offices")
    assert wer(refs, hyps) <= 0.15, list(zip(refs, hyps, strict=True))
    assert wer(refs[1], hyps[1]) == 0.0  # s1 is the clip the call test speaks
    assert float(np.median(seconds)) < 0.5  # ~0.12 s on an idle 2-core VM; the 30 s window takes ~0.7 s


async def test_full_window_path_agrees_on_the_call_clip() -> None:
    pcm, _rate, text = load_clip("piper-joe_s1")
    full = LocalWhisperStt(fitted_window=False)
    assert wer(text, await full.transcribe(as_float(pcm))) == 0.0


async def test_silence_and_noise_give_no_words(stt: LocalWhisperStt) -> None:
    assert await stt.transcribe(np.zeros(16000, np.float32)) == ""
    noise = np.random.default_rng(7).normal(0, 0.003, 16000).astype(np.float32)
    assert await stt.transcribe(noise) == ""


async def test_stream_transcribes_the_whole_turn_at_each_finalize_and_resamples(stt: LocalWhisperStt) -> None:
    pcm, rate, text = load_clip("piper-joe_s2")
    at_8k = soxr.resample(pcm.astype(np.float32), rate, 8000).astype("<i2")
    half = len(at_8k) // 2
    stream = stt.open_stream(8000)
    await stream.push(at_8k[:half].tobytes())
    await stream.finalize()
    await stream.push(at_8k[half:].tobytes())
    await stream.finalize()
    await stream.aclose()
    finals = [t.text async for t in stream.transcripts()]
    assert len(finals) == 2
    assert len(finals[0].split()) < len(finals[1].split())
    assert wer(text, finals[1]) <= 0.3  # telephone band; measured 0.27 ("offices opened from 9 to 5")
