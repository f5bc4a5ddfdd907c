"""Piper and espeak-ng voices: audio comes out, early, and Whisper reads it back."""

from __future__ import annotations

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
    chunks = [pcm async for pcm in tts.synthesize(SENTENCE)]
    assert tts.sample_rate == 22050
    # Streamed, not one block at the end: Piper hands over each clause ("Sure,", "I can book ...
    # morning.", "Does nine work for you?") as it is made, espeak-ng its stdout as it is written.
    # (A wall-clock check of that flaked under load; timings live in bench/.)
    assert len(chunks) >= len(piper.split_clauses(SENTENCE)) == 3
    seconds = sum(len(c) for c in chunks) / 2 / tts.sample_rate
    assert 3.0 < seconds < 8.0
    assert wer(SENTENCE, await read_back(chunks, tts.sample_rate)) <= 0.2
