"""Piper and espeak-ng voices: audio comes out, early, and Whisper reads it back."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soxr

from opencall.providers.stt.local_whisper import LocalWhisperStt
from opencall.providers.tts import espeak, piper
from opencall.settings import Settings
from tests.fixtures.speech import wer

pytestmark = pytest.mark.slow

SENTENCE = "Sure, I can book a cleaning for next Tuesday morning. Does nine work for you?"


async def read_back(chunks: list[bytes], rate: int) -> str:
    pcm = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.float32) / 32768.0
    return await LocalWhisperStt().transcribe(soxr.resample(pcm, rate, 16000).astype(np.float32))


def test_clauses_split_after_punctuation_and_keep_tiny_pieces_together() -> None:
    assert piper.split_clauses("Yes, we are open from nine to five, Monday to Friday. A, B.") == [
        "Yes,",
        "we are open from nine to five,",
        "Monday to Friday.",
        "A, B.",
    ]
    assert piper.split_clauses("It costs 1,000 dollars.") == ["It costs 1,000 dollars."]


@pytest.mark.parametrize("module", [piper, espeak], ids=["piper", "espeak"])
async def test_voice_speaks_the_text_clause_by_clause(module: object) -> None:
    tts = module.create({}, Settings())  # type: ignore[attr-defined]
    if hasattr(tts, "warm_up"):
        await tts.warm_up()
    started = time.perf_counter()
    chunks: list[bytes] = []
    first_at = None
    async for pcm in tts.synthesize(SENTENCE):
        first_at = first_at or time.perf_counter() - started
        chunks.append(pcm)
    total = time.perf_counter() - started
    assert tts.sample_rate == 22050
    assert first_at is not None and first_at < 0.8 * total  # streamed: the first clause comes before the rest
    seconds = sum(len(c) for c in chunks) / 2 / tts.sample_rate
    assert 3.0 < seconds < 8.0
    assert wer(SENTENCE, await read_back(chunks, tts.sample_rate)) <= 0.2
