"""The Deepgram live adapter against the simulator (real Whisper underneath), with real clips."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from opencall.providers.base import ProviderError, SttStream, Transcript
from opencall.providers.registry import build_stt
from opencall.providers.stt import deepgram
from opencall.settings import Settings
from tests.fixtures.speech import load_clip, wer
from tests.sim.deepgram import DeepgramSim

KEY = "dg-test-key"
CONFIG = {"provider": "deepgram", "model": "nova-3", "language": "en", "endpointing": 300}
CHUNK_S = 0.05


@pytest.fixture(scope="module")
async def sim_url() -> AsyncIterator[tuple[DeepgramSim, str]]:
    sim = DeepgramSim(api_key=KEY)
    async with sim.serve() as url:
        yield sim, url


def open_stream(url: str, key: str = KEY) -> SttStream:
    settings = Settings(cloud_base_urls={"deepgram": url})
    return build_stt(CONFIG, settings, credentials=[{"provider": "deepgram", "apiKey": key}]).open_stream(16000)


async def speak(stream: SttStream, pcm: np.ndarray, rate: int, speed: float = 3.0) -> None:
    """Send audio in 50 ms frames at `speed` x real time, then 0.3 s of silence."""
    step = int(rate * CHUNK_S)
    audio = np.concatenate([pcm, np.zeros(int(rate * 0.3), np.int16)])
    for start in range(0, len(audio), step):
        await stream.push(audio[start : start + step].tobytes())
        await asyncio.sleep(CHUNK_S / speed)


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_two_segments_give_one_final_each_reading_the_turn_so_far_after_interims(
    sim_url: tuple[DeepgramSim, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, url = sim_url
    monkeypatch.setattr(deepgram, "FINALIZE_TIMEOUT_S", 30.0)  # Whisper on a busy 2-core box can take seconds
    stream = open_stream(url)
    heard: list[Transcript] = []
    finals: asyncio.Queue[Transcript] = asyncio.Queue()

    async def listen() -> None:
        async for transcript in stream.transcripts():
            heard.append(transcript)
            if transcript.is_final:
                finals.put_nowait(transcript)

    listener = asyncio.create_task(listen())
    texts = []
    for name in ("piper-joe_s1", "piper-joe_s3"):
        pcm, rate, text = load_clip(name)
        assert rate == 16000
        texts.append(text)
        await speak(stream, pcm, rate)
        await stream.finalize()
        final = await asyncio.wait_for(finals.get(), 20)
        # A stream is one user turn: each final reads the whole turn so far, as Whisper's does.
        assert wer(" ".join(texts), final.text) <= 0.2, (texts, final.text)
    await stream.aclose()
    await asyncio.wait_for(listener, 5)

    assert [t.is_final for t in heard].count(True) == 2, "one final per finalize(), no more"
    assert all(t.language == "en" and t.confidence is not None for t in heard)
    first_final = next(i for i, t in enumerate(heard) if t.is_final)
    assert any(t.text for t in heard[:first_final]), "interim results should precede the final"
    session = sim.sessions[-1]
    assert session.headers["Authorization"] == f"Token {KEY}"
    assert session.query["encoding"] == "linear16" and session.query["sample_rate"] == "16000"
    assert session.query["interim_results"] == "true" and session.query["endpointing"] == "300"
    assert [c for c in session.controls if c != "KeepAlive"] == ["Finalize", "Finalize", "CloseStream"]


@pytest.mark.timeout(20)
async def test_idle_stream_sends_keepalive(sim_url: tuple[DeepgramSim, str], monkeypatch: pytest.MonkeyPatch) -> None:
    sim, url = sim_url
    monkeypatch.setattr(deepgram, "KEEPALIVE_S", 0.1)
    stream = open_stream(url)
    await asyncio.sleep(0.5)
    await stream.aclose()
    controls = sim.sessions[-1].controls
    assert controls.count("KeepAlive") >= 2 and controls[-1] == "CloseStream"


@pytest.mark.timeout(20)
async def test_wrong_key_ends_with_invalid_credentials(sim_url: tuple[DeepgramSim, str]) -> None:
    _, url = sim_url
    stream = open_stream(url, key="wrong")
    with pytest.raises(ProviderError) as raised:
        async for _ in stream.transcripts():
            pass
    assert raised.value.reason == "pipeline-error-deepgram-returning-401-invalid-credentials"
    with pytest.raises(ProviderError):
        await stream.push(b"\x00\x00" * 160)
    await stream.aclose()


@pytest.mark.timeout(20)
async def test_unanswered_finalize_releases_what_was_heard_and_drops_late_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = asyncio.Event()
    replies = iter(["late words", "next words"])

    async def stalls_until_released(audio: np.ndarray) -> str:
        await release.wait()
        return next(replies)

    tone = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16).tobytes()  # 0.5 s, loud enough for the gate
    monkeypatch.setattr(deepgram, "FINALIZE_TIMEOUT_S", 0.3)
    sim = DeepgramSim(api_key=KEY, recognizer=stalls_until_released)
    async with sim.serve() as url:
        stream = open_stream(url)
        transcripts = stream.transcripts()
        await stream.push(tone)
        await stream.finalize()
        timed_out = await asyncio.wait_for(anext(transcripts), 5)
        release.set()
        await stream.push(tone)
        await stream.finalize()
        second = await asyncio.wait_for(anext(transcripts), 5)
        await stream.aclose()
    assert timed_out.is_final and timed_out.text == ""
    assert second.is_final and second.text == "next words", "late words must not leak into the next utterance"
    sent = [r["channel"]["alternatives"][0]["transcript"] for r in sim.sessions[0].results]
    assert sent == ["late words", "next words"]


def test_missing_key_is_reported_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCALL_DEEPGRAM_API_KEY", raising=False)
    with pytest.raises(ProviderError) as raised:
        build_stt(CONFIG, Settings())
    assert raised.value.reason == "pipeline-error-deepgram-transcriber-api-key-missing"
