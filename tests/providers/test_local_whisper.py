"""Whisper tiny.en on the fixture clips: accuracy bound, speed of the fitted window, stream semantics."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
import soxr

from opencall.providers.base import SttStream
from opencall.providers.stt.local_whisper import LocalWhisperStt, clean_segments, create, has_word_run
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


async def test_stream_sends_partials_while_audio_arrives_and_none_after_the_final(stt: LocalWhisperStt) -> None:
    pcm, _rate, text = load_clip("piper-joe_s1")
    stream = stt.open_stream(16000)
    chunks = [pcm[i : i + 320].tobytes() for i in range(0, len(pcm), 320)]
    for i, chunk in enumerate(chunks):
        await stream.push(chunk)
        if i % 25 == 0:
            await asyncio.sleep(0.12)  # room for a partial decode, as real time gives
    await stream.finalize()
    await stream.aclose()
    got = [t async for t in stream.transcripts()]
    partials, finals = [t for t in got if not t.is_final], [t for t in got if t.is_final]
    assert partials and got[-1].is_final and len(finals) == 1
    assert wer(text, finals[0].text) == 0.0
    first_words = partials[0].text.lower().split()[:2]
    assert first_words == ["i", "would"], partials[0].text  # a reading of the turn's start, not noise


def test_segments_the_decoder_invented_past_the_speech_are_dropped() -> None:
    # Seen on the telephone clip: a loop cut by the token budget leaves an open last segment.
    assert (
        clean_segments([(0.0, "Calling that me devil. How can I help you today?", True), (2.0, "How", False)], 2.9)
        == "Calling that me devil. How can I help you today?"
    )
    # A finished segment repeating the end of the text before it.
    assert (
        clean_segments(
            [(0.0, "Be dead all how can I help you today?", True), (2.0, "How can I help you today?", True)], 3.5
        )
        == "Be dead all how can I help you today?"
    )
    # One open segment looping into itself.
    assert (
        clean_segments([(0.0, "How can I help you today? How can I help", False)], 1.9) == "How can I help you today?"
    )
    assert clean_segments([(0.0, "I hope you today. I hope you today", False)], 1.4) == "I hope you today."
    # A segment starting in the padding after the audio.
    assert clean_segments([(0.0, "Thank you.", True), (1.9, "Goodbye.", True)], 2.0) == "Thank you."
    # Real speech is kept whole.
    two = [(0.0, "I'd like to book a cleaning.", True), (2.4, "Does nine work for you?", True)]
    assert clean_segments(two, 4.0) == "I'd like to book a cleaning. Does nine work for you?"
    # A loop that starts the turn over, across its first sentence break, inside one open segment.
    said = "Hello. Thanks for calling that me devil. How can I help you today?"
    restart = f"{said} Hello, thanks for calling that me devil. How can"
    assert clean_segments([(0.0, restart, False)], 3.3) == said


async def test_a_phone_number_cut_mid_digits_is_read_again_on_the_full_window(stt: LocalWhisperStt) -> None:
    pcm, _rate, _text = load_clip("piper-joe_s3")
    cut = as_float(pcm)[int(1.75 * 16000) : len(pcm) - int(1.5 * 16000)]  # "...five five five, one two"
    text = await stt.transcribe(np.concatenate([np.zeros(4800, np.float32), cut, np.zeros(3200, np.float32)]))
    assert not has_word_run(text), text  # the fitted window alone reads "5 5 5 5 5 5 5 5 5 5 5 5 5 5"
    assert has_word_run("5 5 5 5 5 5") and not has_word_run("555-1234, 5 5 5")


class CountingWhisper(LocalWhisperStt):
    """The real transcriber, counting the decodes a stream asks it for."""

    def __init__(self) -> None:
        super().__init__(cpu_threads=Settings().whisper_threads, partial_every=None)
        self.decoded: list[int] = []

    async def transcribe(self, audio16k: np.ndarray) -> str:
        self.decoded.append(audio16k.size)
        return await super().transcribe(audio16k)


async def counted_stream(pcm: np.ndarray) -> tuple[CountingWhisper, SttStream]:
    """A 16 kHz stream on a counting transcriber, with `pcm` pushed."""
    stt = CountingWhisper()
    stream = stt.open_stream(16000)
    await stream.push(pcm.tobytes())
    return stt, stream


async def test_a_final_after_a_reading_ahead_with_nothing_pushed_in_between_is_that_reading() -> None:
    pcm, _rate, text = load_clip("piper-joe_s1")
    stt, stream = await counted_stream(pcm)
    await stream.anticipate()
    await stream.anticipate()  # the VAD may say it twice; one decode
    await asyncio.sleep(0)
    await stream.finalize()
    await stream.aclose()
    finals = [t async for t in stream.transcripts()]
    assert [t.is_final for t in finals] == [True]
    assert wer(text, finals[0].text) == 0.0
    assert stt.decoded == [pcm.size]


async def test_audio_pushed_after_a_reading_ahead_makes_the_final_read_the_whole_turn_again() -> None:
    pcm, _rate, text = load_clip("piper-joe_s1")
    half = pcm.size // 2
    stt, stream = await counted_stream(pcm[:half])
    await stream.anticipate()  # the caller paused ... and went on
    await stream.push(pcm[half:].tobytes())
    await stream.anticipate()  # the first reading still decodes: no second one queued behind it
    await stream.finalize()
    await stream.aclose()
    finals = [t async for t in stream.transcripts()]
    assert len(finals) == 1 and wer(text, finals[0].text) == 0.0
    assert stt.decoded == [half, pcm.size]


async def test_a_reading_ahead_done_before_the_stop_goes_out_as_a_partial_then_the_same_final() -> None:
    pcm, _rate, text = load_clip("piper-joe_s1")
    stt, stream = await counted_stream(pcm)
    await stream.anticipate()
    got = []
    async for transcript in stream.transcripts():  # the VAD is still waiting out its stop
        got.append(transcript)
        break
    await stream.finalize()
    await stream.aclose()
    got += [t async for t in stream.transcripts()]
    assert [t.is_final for t in got] == [False, True]
    assert got[0].text == got[1].text and wer(text, got[1].text) == 0.0
    assert stt.decoded == [pcm.size]
