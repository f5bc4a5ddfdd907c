"""The assistant side of the pipeline: clause text -> voice -> the transport's paced output.

A reply's audio is *held* in the playout until the conductor releases it (speculative replies),
then written to the transport as fast as it is made; the transport paces it. Barge-in drops the
transport's queue at once and reports the words the caller was actually sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import soxr
from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from opencall.engine.frames import ClauseFrame, PlaybackFrame, ReplyAudioFrame, ReplyControlFrame, ReplyEndFrame
from opencall.engine.session import AudioOut
from opencall.providers.base import ProviderError, TextToSpeech

_WATCH_SECONDS = 0.02  # how often playback progress is checked; one transport frame
# Piper opens a clause with 20-60 ms of near-silence (measured on its replies); on a reply's first
# clause that is latency the caller hears as nothing. Trimmed to a short lead-in, never into speech.
_LEAD_WINDOW_SECONDS = 0.005
_LEAD_PEAK = 300  # int16 peak of a window that counts as sound (about -40 dBFS)
_LEAD_KEEP_SECONDS = 0.01


def trim_leading_silence(pcm: bytes, sample_rate: int) -> bytes:
    """`pcm` (int16 mono) from `_LEAD_KEEP_SECONDS` before its first audible window on."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    window = max(1, int(sample_rate * _LEAD_WINDOW_SECONDS))
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > _LEAD_PEAK)
    if loud.size == 0:
        return pcm
    start = max(0, (int(loud[0]) // window) * window - int(sample_rate * _LEAD_KEEP_SECONDS))
    return pcm[start * 2 :]


class TtsStage(FrameProcessor):
    def __init__(self, tts: TextToSpeech, on_error: Callable[[ProviderError], Awaitable[None]]) -> None:
        super().__init__(name="TtsStage")
        self._tts = tts
        self._on_error = on_error
        self._dropped: set[int] = set()
        self._voiced: set[int] = set()
        """Replies whose first audio has been produced."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, ReplyControlFrame) and frame.action == "drop":
            self._dropped.add(frame.reply_id)
        if isinstance(frame, ClauseFrame):
            await self._speak(frame)
            return
        await self.push_frame(frame, direction)

    async def _speak(self, clause: ClauseFrame) -> None:
        if clause.reply_id in self._dropped:
            # Clauses of a dropped reply still queued here: synthesizing them (~0.1-0.3 s each on a
            # busy core) would delay the reply that replaced it.
            return
        first = True
        try:
            async for pcm in self._tts.synthesize(clause.text):
                if clause.reply_id in self._dropped:
                    return
                if clause.reply_id not in self._voiced:
                    pcm = trim_leading_silence(pcm, self._tts.sample_rate)
                    if len(pcm) < 2:
                        continue
                    self._voiced.add(clause.reply_id)
                await self.push_frame(
                    ReplyAudioFrame(
                        reply_id=clause.reply_id,
                        clause=clause.text,
                        pcm=pcm,
                        sample_rate=self._tts.sample_rate,
                        first_of_clause=first,
                        clause_queued_at=clause.queued_at,
                    )
                )
                first = False
        except ProviderError as exc:
            await self._on_error(exc)


@dataclass
class _Clause:
    text: str
    start: float
    end: float


@dataclass
class _Reply:
    reply_id: int
    held: bool = True
    ended: bool = False
    buffered: list[tuple[bytes, str, bool]] = field(default_factory=list)
    """(pcm, clause text, first chunk of its clause) held until release."""
    clauses: list[_Clause] = field(default_factory=list)
    start: float | None = None
    """Stream position (seconds of audio sent) where this reply's first sample sits."""
    end: float = 0.0
    started: bool = False
    first_ready_at: float = 0.0
    first_write_at: float = 0.0
    clause_queued_at: float = 0.0
    resampler: soxr.ResampleStream | None = None


def heard_text(clauses: list[_Clause], position: float) -> str:
    """Words sent up to `position`, aligned in proportion to characters within each clause's audio."""
    out: list[str] = []
    for clause in clauses:
        if position >= clause.end - 1e-3:
            out.append(clause.text)
            continue
        if position > clause.start:
            share = (position - clause.start) / max(clause.end - clause.start, 1e-6)
            budget = share * len(clause.text)
            spoken, used = [], 0
            for word in clause.text.split():
                used += len(word) + 1
                if used - 1 > budget:
                    break
                spoken.append(word)
            if spoken:
                out.append(" ".join(spoken))
        break
    return " ".join(out)


class PlayoutStage(FrameProcessor):
    def __init__(self, out: AudioOut) -> None:
        super().__init__(name="PlayoutStage")
        self._out = out
        self._replies: dict[int, _Reply] = {}
        self._dropped: set[int] = set()
        self._watcher: asyncio.Task[None] | None = None

    def _reply(self, reply_id: int) -> _Reply:
        return self._replies.setdefault(reply_id, _Reply(reply_id))

    def playing(self) -> list[tuple[int, str, float]]:
        """(reply id, words sent so far, first write time) of replies on air; read when the call ends."""
        sent = self._out.sent_seconds
        return [
            (r.reply_id, heard_text(r.clauses, sent), r.first_write_at)
            for r in self._replies.values()
            if not r.held and r.start is not None
        ]

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, ReplyAudioFrame) and frame.reply_id not in self._dropped:
            self._on_audio(frame)
        elif isinstance(frame, ReplyEndFrame) and frame.reply_id not in self._dropped:
            self._reply(frame.reply_id).ended = True
            self._ensure_watcher()
        elif isinstance(frame, ReplyControlFrame):
            await self._on_control(frame)
        else:
            await self.push_frame(frame, direction)

    def _on_audio(self, frame: ReplyAudioFrame) -> None:
        reply = self._reply(frame.reply_id)
        if frame.sample_rate != self._out.sample_rate:
            if reply.resampler is None:
                reply.resampler = soxr.ResampleStream(frame.sample_rate, self._out.sample_rate, 1, dtype="int16")
            samples = np.frombuffer(frame.pcm, dtype="<i2")
            pcm = reply.resampler.resample_chunk(samples).astype("<i2").tobytes()
        else:
            pcm = frame.pcm
        if not reply.first_ready_at:
            reply.first_ready_at = asyncio.get_running_loop().time()
            reply.clause_queued_at = frame.clause_queued_at
        chunk = (pcm, frame.clause, frame.first_of_clause or not reply.clauses and not reply.buffered)
        if reply.held:
            reply.buffered.append(chunk)
        else:
            self._write(reply, *chunk)

    def _write(self, reply: _Reply, pcm: bytes, clause: str, first_of_clause: bool) -> None:
        """Queue audio on the transport and note where each clause lands on its clock."""
        position = self._out.sent_seconds + self._out.queued_seconds
        end = position + len(pcm) / 2 / self._out.sample_rate
        if reply.start is None:
            reply.start = position
            reply.first_write_at = asyncio.get_running_loop().time()
        if first_of_clause or not reply.clauses:
            reply.clauses.append(_Clause(clause, position, end))
        reply.clauses[-1].end = end
        reply.end = end
        self._out.write(pcm)
        self._ensure_watcher()

    async def _on_control(self, frame: ReplyControlFrame) -> None:
        if frame.action == "release":
            reply = self._reply(frame.reply_id)
            reply.held = False
            for chunk in reply.buffered:
                self._write(reply, *chunk)
            reply.buffered.clear()
            self._ensure_watcher()
        elif frame.action == "pause":
            self._out.pause()
        elif frame.action == "resume":
            self._out.resume()
        elif frame.action == "drop":
            self._dropped.add(frame.reply_id)
            dropped = self._replies.pop(frame.reply_id, None)
            if dropped is not None and not dropped.held:
                self._out.clear()
                self._out.resume()
                await self._report(dropped, "cut")

    async def _report(self, reply: _Reply, event: Literal["started", "done", "cut"]) -> None:
        now = asyncio.get_running_loop().time()
        start = reply.start if reply.start is not None else self._out.sent_seconds
        heard = heard_text(reply.clauses, self._out.sent_seconds) if reply.start is not None else ""
        await self.push_frame(
            PlaybackFrame(
                reply_id=reply.reply_id,
                event=event,
                at=now,
                heard=heard,
                started_at=start,
                first_audio_ready_at=reply.first_ready_at,
                clause_queued_at=reply.clause_queued_at,
                first_write_at=reply.first_write_at,
                clauses=[c.text for c in reply.clauses],
            ),
            FrameDirection.UPSTREAM,
        )

    def _ensure_watcher(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = self.create_task(self._watch())

    async def _watch(self) -> None:
        """Reports started/done for released replies as the transport's clock moves."""
        while True:
            live = [r for r in self._replies.values() if not r.held]
            if not live:
                return
            sent = self._out.sent_seconds
            for reply in live:
                if not reply.started and reply.start is not None and sent > reply.start:
                    reply.started = True
                    await self._report(reply, "started")
                if reply.ended and (reply.start is None or sent >= reply.end - 1e-3):
                    self._replies.pop(reply.reply_id, None)
                    await self._report(reply, "done")
            await asyncio.sleep(_WATCH_SECONDS)
