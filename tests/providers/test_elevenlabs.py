"""The ElevenLabs WebSocket adapter against the simulator (real Piper speech underneath)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import numpy as np
import pytest

from opencall.providers.base import ProviderError, TextToSpeech
from opencall.providers.registry import build_tts
from opencall.providers.stt.local_whisper import LocalWhisperStt
from opencall.settings import Settings
from tests.fixtures.speech import wer
from tests.sim.elevenlabs import ElevenLabsSim

KEY = "xi-test-key"
VOICE = {"provider": "11labs", "voiceId": "burt", "stability": 0.4, "similarityBoost": 0.8, "speed": 1.1}
SENTENCE = "Your appointment is on Tuesday at nine in the morning."


@pytest.fixture(scope="module")
async def sim_url() -> AsyncIterator[tuple[ElevenLabsSim, str]]:
    sim = ElevenLabsSim(api_key=KEY)
    async with sim.serve() as url:
        yield sim, url


def voice(url: str, key: str = KEY) -> TextToSpeech:
    settings = Settings(cloud_base_urls={"11labs": url})
    return build_tts(VOICE, settings, credentials=[{"provider": "11labs", "apiKey": key}])


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_sentence_comes_back_as_speech_that_transcribes_to_it(sim_url: tuple[ElevenLabsSim, str]) -> None:
    sim, url = sim_url
    tts = voice(url)

    chunks = [chunk async for chunk in tts.synthesize(SENTENCE)]

    assert tts.sample_rate == 16000 and len(chunks) > 1
    assert all(len(chunk) % 2 == 0 for chunk in chunks)
    samples = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.float32) / 32768.0
    assert len(samples) / 16000 > 1.5
    assert float(np.sqrt(np.mean(samples**2))) > 0.02, "the audio should not be silence"
    heard = await LocalWhisperStt(cpu_threads=2).transcribe(samples)
    assert wer(SENTENCE, heard) <= 0.2, heard

    session = sim.sessions[-1]
    assert session.voice_id == "burt"
    assert session.query == {"model_id": "eleven_turbo_v2", "output_format": "pcm_16000"}
    voice_settings = {"stability": 0.4, "similarity_boost": 0.8, "speed": 1.1}
    assert session.messages == [
        {"text": " ", "voice_settings": voice_settings},
        {"text": SENTENCE + " ", "flush": True},
        {"text": ""},
    ]
    assert session.generations == [SENTENCE]


@pytest.mark.timeout(30)
async def test_dropping_the_stream_midway_closes_cleanly(sim_url: tuple[ElevenLabsSim, str]) -> None:
    _, url = sim_url
    async with aclosing(voice(url).synthesize("One. Two. Three. Four. Five. Six.")) as audio:
        first = await anext(audio)
    assert first
    again = b"".join([chunk async for chunk in voice(url).synthesize("Still here.")])
    assert len(again) > 16000


@pytest.mark.timeout(20)
async def test_wrong_key_ends_with_invalid_api_key(sim_url: tuple[ElevenLabsSim, str]) -> None:
    _, url = sim_url
    with pytest.raises(ProviderError) as raised:
        _ = [chunk async for chunk in voice(url, key="wrong").synthesize("Hello.")]
    assert raised.value.reason == "pipeline-error-eleven-labs-invalid-api-key"
