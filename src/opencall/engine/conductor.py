"""The stage that decides: feeds the turn-taker, starts/cancels/releases replies, keeps the record."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from opencall.engine import turns
from opencall.engine.frames import (
    ClauseFrame,
    FinalTranscriptFrame,
    PartialTranscriptFrame,
    PlaybackFrame,
    ReplyControlFrame,
    ReplyEndFrame,
    SmartTurnFrame,
    SpeechStartedFrame,
    SpeechStoppedFrame,
    UserTurnClosedFrame,
    VoiceSuspectedFrame,
)
from opencall.engine.record import CallRecord, TurnLatency
from opencall.engine.reply import ReplyWriter
from opencall.engine.turns import TurnTaker
from opencall.providers.base import ProviderError

log = logging.getLogger("opencall.engine")

HANG_AFTER_SECONDS = 5.0
"""A released reply with no audio this long after the caller's turn ended sends Vapi's `hang` (slow
model, voice or tool server); replies are ~1 s, so this only fires when something is stuck."""


@dataclass
class _Reply:
    reply_id: int
    released: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    interruptible: bool = True
    source: str = "model"
    user_turn: turns.ReleaseReply | None = None
    end_reason: str | None = None
    written: bool = False
    hang_timer: asyncio.TimerHandle | None = None


@dataclass
class _Segment:
    """Timing of the caller's latest segment, for turn latencies."""

    vad_stop_at: float = 0.0
    last_voiced_at: float = 0.0
    transcriber_ms: float = 0.0


class Conductor(FrameProcessor):
    def __init__(
        self,
        turn_taker: TurnTaker,
        writer: ReplyWriter,
        record: CallRecord,
        emit: Callable[[dict[str, Any]], Awaitable[None]],
        progress: Callable[[], Awaitable[None]],
        end_call: Callable[[str, str | None], Awaitable[None]],
    ) -> None:
        super().__init__(name="Conductor")
        self._turns = turn_taker
        self._writer = writer
        self._record = record
        self._emit = emit
        self._progress = progress
        self._end_call = end_call
        self._replies: dict[int, _Reply] = {}
        self._segment = _Segment()
        self._stop_detected: dict[float, float] = {}
        """VAD stop detection time by the segment's last voiced sample (a turn may span segments)."""
        self._timer: asyncio.TimerHandle | None = None
        self._user_turn_index = 0
        self._bot_turn_index = 0

    # --- inputs ---------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        now = asyncio.get_running_loop().time()
        if isinstance(frame, SpeechStartedFrame):
            log.debug("speech started: onset %.3f detected %.3f now %.3f", frame.onset_at, frame.detected_at, now)
            await self._emit(
                {"type": "speech-update", "status": "started", "role": "user", "turn": self._user_turn_index}
            )
            await self._apply(self._turns.user_started(now, frame.onset_at))
        elif isinstance(frame, SpeechStoppedFrame):
            self._segment = _Segment(vad_stop_at=frame.detected_at, last_voiced_at=frame.last_voiced_at)
            self._stop_detected[frame.last_voiced_at] = frame.detected_at
            if len(self._stop_detected) > 64:
                self._stop_detected.pop(next(iter(self._stop_detected)))
            await self._emit(
                {"type": "speech-update", "status": "stopped", "role": "user", "turn": self._user_turn_index}
            )
            await self._apply(self._turns.user_stopped(now, frame.last_voiced_at))
        elif isinstance(frame, VoiceSuspectedFrame):
            await self._apply(self._turns.voice_suspected(now, frame.active))
        elif isinstance(frame, SmartTurnFrame):
            await self._apply(self._turns.smart_turn(now, frame.complete))
        elif isinstance(frame, FinalTranscriptFrame):
            self._segment.transcriber_ms = (frame.received_at - frame.finalized_at) * 1000
            if frame.text:
                await self._emit(
                    {"type": "transcript", "role": "user", "transcriptType": "final", "transcript": frame.text}
                )
            await self._apply(self._turns.transcript(now, frame.text))
        elif isinstance(frame, PartialTranscriptFrame):
            await self._emit(
                {"type": "transcript", "role": "user", "transcriptType": "partial", "transcript": frame.text}
            )
            await self._apply(self._turns.partial_transcript(now, frame.text))
            self._prewarm(frame.text)
        elif isinstance(frame, PlaybackFrame):
            await self._on_playback(frame, now)
        else:
            await self.push_frame(frame, direction)

    async def _on_playback(self, frame: PlaybackFrame, now: float) -> None:
        reply = self._replies.get(frame.reply_id)
        if reply is None:
            return
        if reply.hang_timer is not None:
            reply.hang_timer.cancel()
            reply.hang_timer = None
        if frame.event == "started":
            await self._emit(
                {"type": "speech-update", "status": "started", "role": "assistant", "turn": self._bot_turn_index}
            )
            if reply.user_turn is not None:
                self._record_latency(reply.user_turn, frame)
            await self._apply(self._turns.reply_playing(now, reply.reply_id, reply.interruptible))
            return
        self._replies.pop(frame.reply_id, None)
        if frame.heard:
            self._record.add_bot(frame.heard, frame.first_write_at or now, now, source=reply.source)
        await self._emit(
            {"type": "speech-update", "status": "stopped", "role": "assistant", "turn": self._bot_turn_index}
        )
        self._bot_turn_index += 1
        await self._conversation_update()
        if frame.event == "done" and reply.end_reason:
            await self._end_call(reply.end_reason, None)
            return
        await self._apply(self._turns.reply_done(now, reply.reply_id))
        self._prewarm(None)

    # --- actions --------------------------------------------------------------------------

    async def _apply(self, actions: list[turns.Action]) -> None:
        for action in actions:
            await self._do(action)
        self._schedule()

    async def _do(self, action: turns.Action) -> None:
        match action:
            case turns.StartReply(reply_id, text):
                self._start_reply(reply_id, text)
            case turns.CancelReply(reply_id):
                await self._drop(reply_id)
            case turns.ReleaseReply():
                reply = self._replies.get(action.reply_id)
                if reply is None:
                    return
                reply.user_turn = action
                self._record.add_user(action.text, action.started_at, action.last_voiced_at)
                self._user_turn_index += 1
                await self._conversation_update()
                reply.released.set()
                reply.hang_timer = asyncio.get_running_loop().call_later(
                    HANG_AFTER_SECONDS, lambda: self.create_task(self._hang(reply))
                )
                await self.push_frame(ReplyControlFrame(reply_id=action.reply_id, action="release"))
            case turns.RetractReply(reply_id, text):
                log.debug("retract reply %d: the caller went on before it was heard", reply_id)
                await self._drop(reply_id)
                if self._record.retract_last_user(text):
                    self._user_turn_index -= 1
                    await self._conversation_update()
            case turns.PauseBot(reply_id):
                log.debug("pause reply %d: caller speaking over it", reply_id)
                await self.push_frame(ReplyControlFrame(reply_id=reply_id, action="pause"))
            case turns.ResumeBot(reply_id):
                await self.push_frame(ReplyControlFrame(reply_id=reply_id, action="resume"))
            case turns.InterruptBot(reply_id):
                self._record.num_user_interrupted += 1
                await self._emit({"type": "user-interrupted", "turnId": str(reply_id)})
                await self._drop(reply_id, keep_record=True)
            case turns.SpeakIdlePrompt(reply_id, text):
                await self.say(reply_id, text, source="idle-prompt")
            case turns.CloseUserTurn():
                await self.push_frame(UserTurnClosedFrame(), FrameDirection.UPSTREAM)
            case turns.EndCall(reason):
                await self._end_call(reason, None)

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._turns.next_deadline()
        if deadline is None or self._turns.ended:
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_at(deadline, lambda: self.create_task(self._on_timer()))

    async def arm_timers(self) -> None:
        """Start the idle and max-duration clocks (nothing else may have happened yet)."""
        await self._apply(self._turns.tick(asyncio.get_running_loop().time()))

    async def _on_timer(self) -> None:
        await self._apply(self._turns.tick(asyncio.get_running_loop().time()))

    # --- replies --------------------------------------------------------------------------

    def _start_reply(
        self,
        reply_id: int,
        user_text: str | None,
        *,
        released: bool = False,
        interruptible: bool = True,
        source: str = "model",
    ) -> _Reply:
        reply = _Reply(reply_id, interruptible=interruptible, source=source)
        if released:
            reply.released.set()
        self._replies[reply_id] = reply
        reply.task = self.create_task(self._write(reply, user_text))
        return reply

    async def _write(self, reply: _Reply, user_text: str | None) -> None:
        try:
            outcome = await self._writer.write(reply.reply_id, user_text, reply.released)
        except ProviderError as exc:
            await self._end_call(exc.reason, exc.detail or str(exc))
            return
        reply.end_reason = outcome.end_reason
        await self.push_frame(ReplyEndFrame(reply_id=reply.reply_id))

    def _prewarm(self, pending_user: str | None) -> None:
        """Have the model read the next request's prompt so far; the model skips it while it has a
        request of any call open (so also while this call's reply is written, or a prewarm runs)."""
        self.create_task(self._read_ahead(pending_user))

    async def _read_ahead(self, pending_user: str | None) -> None:
        try:
            await self._writer.prewarm(pending_user)
        except ProviderError as exc:  # the next real request reports a broken model
            log.debug("prewarm failed: %s", exc)

    async def _hang(self, reply: _Reply) -> None:
        reply.hang_timer = None
        if self._replies.get(reply.reply_id) is reply:
            log.info("reply %d: no audio %.0f s after the caller's turn", reply.reply_id, HANG_AFTER_SECONDS)
            await self._emit({"type": "hang"})

    async def _drop(self, reply_id: int, keep_record: bool = False) -> None:
        reply = self._replies.get(reply_id)
        if reply is not None and reply.hang_timer is not None:
            reply.hang_timer.cancel()
        if reply is not None and reply.task is not None and not reply.task.done():
            reply.task.cancel()
        if not keep_record:
            self._replies.pop(reply_id, None)
        await self.push_frame(ReplyControlFrame(reply_id=reply_id, action="drop"))

    async def say_clause(self, reply_id: int, text: str) -> None:
        await self._emit({"type": "voice-input", "input": text})
        await self.push_frame(ClauseFrame(reply_id=reply_id, text=text, queued_at=asyncio.get_running_loop().time()))

    async def say(
        self,
        reply_id: int,
        text: str,
        *,
        interruptible: bool = True,
        source: str = "model",
        end_reason: str | None = None,
    ) -> None:
        """Speak fixed text now (first message, idle prompt), holding the floor while it plays."""
        reply = _Reply(reply_id, interruptible=interruptible, source=source, end_reason=end_reason)
        reply.released.set()
        self._replies[reply_id] = reply
        await self._apply(self._turns.reply_playing(asyncio.get_running_loop().time(), reply_id, interruptible))
        await self.push_frame(ReplyControlFrame(reply_id=reply_id, action="release"))
        await self.say_clause(reply_id, text)
        await self.push_frame(ReplyEndFrame(reply_id=reply_id))

    async def generate_now(self, reply_id: int, *, interruptible: bool, source: str) -> None:
        """A model reply with no user turn (firstMessageMode ...-with-model-generated-message)."""
        await self._apply(self._turns.reply_playing(asyncio.get_running_loop().time(), reply_id, interruptible))
        self._start_reply(reply_id, None, released=True, interruptible=interruptible, source=source)
        await self.push_frame(ReplyControlFrame(reply_id=reply_id, action="release"))

    # --- record ---------------------------------------------------------------------------

    def _record_latency(self, turn: turns.ReleaseReply, frame: PlaybackFrame) -> None:
        timings = self._writer.timings.get(frame.reply_id)
        seg = self._segment
        stop_at = self._stop_detected.get(turn.last_voiced_at, seg.vad_stop_at)
        model_ms = (timings.first_token_at - timings.request_at) * 1000 if timings and timings.first_token_at else 0.0
        voice_ms = (frame.first_audio_ready_at - frame.clause_queued_at) * 1000 if frame.clause_queued_at else 0.0
        if log.isEnabledFor(logging.DEBUG):
            base, marks = turn.last_voiced_at, {"stop": stop_at, "final": seg.vad_stop_at + seg.transcriber_ms / 1000}
            if timings is not None:
                marks.update(request=timings.request_at, token=timings.first_token_at)
            marks.update(clause=frame.clause_queued_at, ready=frame.first_audio_ready_at, write=frame.first_write_at)
            after = {k: round((v - base) * 1000) for k, v in marks.items()}
            log.debug("turn timeline, ms after the last voiced sample: %s", after)
        self._record.turn_latencies.append(
            TurnLatency(
                modelLatency=round(model_ms, 1),
                voiceLatency=round(voice_ms, 1),
                transcriberLatency=round(seg.transcriber_ms, 1),
                endpointingLatency=round(max(0.0, stop_at - turn.last_voiced_at) * 1000, 1),
                turnLatency=round((frame.first_write_at - turn.last_voiced_at) * 1000, 1),
            )
        )

    async def _conversation_update(self) -> None:
        artifact = self._record.artifact()
        await self._emit(
            {
                "type": "conversation-update",
                "messages": artifact["messages"],
                "messagesOpenAIFormatted": artifact["messagesOpenAIFormatted"],
            }
        )
        await self._progress()

    def flush_record(self, playing: list[tuple[int, str, float]]) -> None:
        """The call is ending: keep what was said but not yet recorded (a reply on air, an unanswered turn)."""
        now = asyncio.get_running_loop().time()
        for reply_id, heard, first_write_at in playing:
            reply = self._replies.pop(reply_id, None)
            if heard:
                self._record.add_bot(heard, first_write_at or now, now, source=reply.source if reply else "model")
        pending = self._turns.pending_user_turn()
        if pending is not None:
            text, started_at, last_voiced_at = pending
            self._record.add_user(text, started_at, last_voiced_at)

    async def cleanup(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for reply in self._replies.values():
            if reply.hang_timer is not None:
                reply.hang_timer.cancel()
        await super().cleanup()  # type: ignore[no-untyped-call]
