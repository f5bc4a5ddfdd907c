"""The caller side of the pipeline: VAD (Silero), Smart Turn v3, and the transcriber."""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from opencall.engine.frames import (
    CallerAudioFrame,
    FinalTranscriptFrame,
    PartialTranscriptFrame,
    SmartTurnFrame,
    SpeechPausingFrame,
    SpeechStartedFrame,
    SpeechStoppedFrame,
    UserTurnClosedFrame,
    VoiceSuspectedFrame,
)
from opencall.providers.base import ProviderError, SpeechToText, SttStream

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # must precede onnxruntime's import

RATE = 16000
# Silero VAD thresholds. pipecat's defaults are confidence 0.7, start 0.2 s, stop 0.2 s
# (pipecat-baseline README); start 0.1 s lets voiceSeconds=0.2 barge-in land inside 300 ms.
VAD_CONFIDENCE = 0.6
VAD_START_SECS = 0.1
VAD_STOP_SECS = 0.2
VAD_MIN_VOLUME = 0.5
VAD_WINDOW_SECS = 0.032  # Silero's 512-sample window at 16 kHz
# Speech began somewhere inside the first window of the run that started the VAD: half a window
# before it on average. voiceSeconds (barge-in) is counted from this onset.
ONSET_BEFORE_DETECTION_SECS = VAD_START_SECS + VAD_WINDOW_SECS / 2
PREROLL_SECONDS = 0.3  # audio kept before the VAD start so the transcriber hears the first phoneme
SMART_TURN_WINDOW_SECONDS = 8.0  # Smart Turn v3 looks at the last 8 s (local_smart_turn_v3.py)


class VadStage(FrameProcessor):
    """Marks speech start/stop on the caller's audio; runs Smart Turn at each stop if asked."""

    def __init__(self, smart_turn: bool) -> None:
        super().__init__(name="VadStage")
        from pipecat.audio.vad.silero import SileroVADAnalyzer
        from pipecat.audio.vad.vad_analyzer import VADParams, VADState

        self._quiet, self._starting, self._speaking = VADState.QUIET, VADState.STARTING, VADState.SPEAKING
        self._stopping = VADState.STOPPING
        self._suspected = False
        self._pausing = False
        params = VADParams(
            confidence=VAD_CONFIDENCE, start_secs=VAD_START_SECS, stop_secs=VAD_STOP_SECS, min_volume=VAD_MIN_VOLUME
        )
        self._vad = SileroVADAnalyzer(sample_rate=RATE, params=params)
        self._vad.set_sample_rate(RATE)  # pipecat does this at StartFrame; we need it before audio
        self._speech = False
        self._history: deque[bytes] = deque(maxlen=int(SMART_TURN_WINDOW_SECONDS * 50))
        self._smart = _smart_turn_analyzer() if smart_turn else None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, CallerAudioFrame):
            await self.push_frame(frame, direction)
            return
        self._history.append(frame.pcm)
        state = await self._vad.analyze_audio(frame.pcm)
        now = asyncio.get_running_loop().time()
        if not self._speech and (state == self._starting) != self._suspected:
            # Speech is confirmed only after VAD_START_SECS; a reply released inside that blind spot
            # talks over a caller who merely paused (the turn-taker holds releases while suspected).
            self._suspected = state == self._starting
            await self.push_frame(VoiceSuspectedFrame(active=self._suspected))
        if not self._speech and state == self._speaking:
            self._speech = True
            self._suspected = False
            await self.push_frame(SpeechStartedFrame(onset_at=now - ONSET_BEFORE_DETECTION_SECS, detected_at=now))
        if self._pausing and state == self._speaking:
            self._pausing = False
            await self.push_frame(SpeechPausingFrame(active=False))
        await self.push_frame(frame, direction)
        if self._speech and not self._pausing and state == self._stopping:
            # The transcriber starts reading the turn when the VAD first loses the voice (STOPPING),
            # not VAD_STOP_SECS later at the stop: the decode overlaps that wait. Silero keeps its
            # confidence up ~0.1 s past the last loud frame (piper clips), so no soft last consonant
            # is cut off.
            self._pausing = True
            await self.push_frame(SpeechPausingFrame(active=True))
        if self._speech and state == self._quiet:
            self._speech = False
            self._pausing = False
            await self.push_frame(SpeechStoppedFrame(last_voiced_at=now - VAD_STOP_SECS, detected_at=now))
            if self._smart is not None:
                self.create_task(self._judge_turn(b"".join(self._history)))

    async def cleanup(self) -> None:
        await self._vad.cleanup()  # type: ignore[no-untyped-call]  # its analysis thread
        await super().cleanup()  # type: ignore[no-untyped-call]

    async def _judge_turn(self, pcm: bytes) -> None:
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        assert self._smart is not None
        verdict = await asyncio.to_thread(self._smart._predict_endpoint, audio)
        await self.push_frame(
            SmartTurnFrame(complete=verdict["prediction"] == 1, probability=float(verdict["probability"]))
        )


def _smart_turn_analyzer() -> Any:
    """Smart Turn v3.2 from the pipecat wheel; we call its model directly and keep our own timing."""
    from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3

    return LocalSmartTurnAnalyzerV3(sample_rate=RATE)


class SttStage(FrameProcessor):
    """Feeds each user turn's speech (with pre-roll) to its own transcriber stream.

    A stream lives for one user turn, so every final transcript reads the whole turn; the
    conductor closes the turn (`UserTurnClosedFrame`) when it commits or discards it.
    """

    def __init__(self, stt: SpeechToText, on_error: Callable[[ProviderError], Awaitable[None]]) -> None:
        super().__init__(name="SttStage")
        self._stt = stt
        self._on_error = on_error
        self._stream: SttStream | None = None
        self._preroll: deque[bytes] = deque(maxlen=int(PREROLL_SECONDS * 50))
        self._segment: list[bytes] = []
        self._in_speech = False
        self._held: list[bytes] = []
        """Audio after a `SpeechPausingFrame`, kept from the stream while the VAD decides."""
        self._pausing = False
        self._finalized_at: deque[float] = deque()

    def _open(self) -> SttStream:
        if self._stream is None:
            self._stream = self._stt.open_stream(RATE)
            self.create_task(self._read(self._stream))
        return self._stream

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, CallerAudioFrame):
            if self._in_speech:
                self._segment.append(frame.pcm)
                if self._pausing:
                    self._held.append(frame.pcm)
                else:
                    await self._open().push(frame.pcm)
            else:
                self._preroll.append(frame.pcm)
            return  # audio ends here; nothing downstream needs it
        if isinstance(frame, SpeechPausingFrame):
            if frame.active and self._in_speech:
                self._pausing = True
                await self._open().anticipate()
            elif not frame.active and self._pausing:
                self._pausing = False
                held, self._held = b"".join(self._held), []
                await self._open().push(held)  # the caller went on: the reading ahead is stale
            return
        if isinstance(frame, SpeechStartedFrame):
            self._in_speech = True
            self._segment = list(self._preroll)
            self._preroll.clear()
            await self._open().push(b"".join(self._segment))
        elif isinstance(frame, SpeechStoppedFrame):
            self._in_speech = False
            self._pausing = False
            self._preroll.extend(self._held)  # silence the VAD waited through: pre-roll, not speech
            self._held = []
            self._finalized_at.append(frame.detected_at)
            await self._open().finalize()
        elif isinstance(frame, UserTurnClosedFrame):
            await self._close_turn()
            return
        await self.push_frame(frame, direction)

    async def _close_turn(self) -> None:
        old, self._stream = self._stream, None
        if old is not None:
            self.create_task(old.aclose())  # delivers transcripts already asked for, then ends
        if self._in_speech:  # the caller is already talking again: that speech opens the new turn
            self._held = []  # in the segment
            await self._open().push(b"".join(self._segment))

    async def _read(self, stream: SttStream) -> None:
        try:
            async for transcript in stream.transcripts():
                if not transcript.is_final:
                    if transcript.text and stream is self._stream:  # a closed turn's partials are stale
                        await self.push_frame(PartialTranscriptFrame(text=transcript.text))
                    continue
                finalized_at = self._finalized_at.popleft() if self._finalized_at else 0.0
                await self.push_frame(
                    FinalTranscriptFrame(
                        text=transcript.text,
                        finalized_at=finalized_at,
                        received_at=asyncio.get_running_loop().time(),
                    )
                )
        except ProviderError as exc:
            await self._on_error(exc)

    async def cleanup(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()
        await super().cleanup()  # type: ignore[no-untyped-call]
