"""One call in real time: builds the pipecat pipeline from the assistant and runs it to an end.

caller audio -> VadStage -> SttStage -> Conductor -> TtsStage -> PlayoutStage -> transport
                                          ^  (playback events travel upstream)  |
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.utils.asyncio.task_manager import TaskManager
from pipecat.workers.base_worker import WorkerParams

from opencall.engine.conductor import Conductor
from opencall.engine.frames import CallerAudioFrame
from opencall.engine.listen import SttStage, VadStage
from opencall.engine.plans import turn_config
from opencall.engine.record import CallRecord
from opencall.engine.reply import ReplyWriter
from opencall.engine.session import AudioOut, CallSetup, CallSink, ToolRunner
from opencall.engine.speak import PlayoutStage, TtsStage
from opencall.engine.tools import HttpToolRunner, tool_set
from opencall.engine.turns import TurnTaker
from opencall.providers.base import ChatModel, ProviderError, SpeechToText, TextToSpeech
from opencall.settings import Settings

log = logging.getLogger("opencall.engine")

PIPELINE_START_TIMEOUT_SECONDS = 10.0  # processors are set up in ~10 ms; this only bounds a broken pipeline
# The embedded defaults, under Vapi's own provider name (see schemas: the official SDKs parse `vapi`).
DEFAULT_TRANSCRIBER = {"provider": "vapi"}
DEFAULT_MODEL = {"provider": "vapi", "model": "smollm2-135m"}
DEFAULT_VOICE = {"provider": "vapi", "voiceId": "joe"}


@dataclass
class Providers:
    stt: SpeechToText
    llm: ChatModel
    tts: TextToSpeech


def build_providers(assistant: dict[str, Any], settings: Settings) -> Providers:
    """The assistant's providers via the registry; Piper falls back to espeak-ng if it cannot load."""
    from opencall.providers import registry

    credentials = assistant.get("credentials") or ()
    stt = registry.build_stt(assistant.get("transcriber") or DEFAULT_TRANSCRIBER, settings, credentials)
    llm = registry.build_llm(assistant.get("model") or DEFAULT_MODEL, settings, credentials)
    voice = assistant.get("voice") or DEFAULT_VOICE
    try:
        tts = registry.build_tts(voice, settings, credentials)
    except ProviderError:
        if voice.get("provider") not in ("vapi", "opencall-piper"):
            raise
        tts = registry.build_tts({"provider": "opencall-espeak"}, settings, credentials)
    return Providers(stt, llm, tts)


class CallEngine:
    def __init__(
        self,
        setup: CallSetup,
        sink: CallSink,
        out: AudioOut,
        providers: Providers,
        tools: ToolRunner | None = None,
        client_message: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        self.setup = setup
        self._sink = sink
        self._client_message = client_message
        assistant = setup.assistant
        loop = asyncio.get_running_loop()
        plan = (assistant.get("artifactPlan") or {}).get("transcriptPlan") or {}
        self.record = CallRecord(
            started_mono=loop.time(),
            assistant_name=plan.get("assistantName") or "AI",
            user_name=plan.get("userName") or "User",
        )
        for message in (assistant.get("model") or {}).get("messages") or []:
            if message.get("role") == "system" and message.get("content"):
                self.record.add_system(str(message["content"]))
        self._providers = providers
        self._config = turn_config(assistant)
        self._turns = TurnTaker(self._config, started_at=self.record.started_mono)
        writer = ReplyWriter(
            llm=providers.llm,
            model_config=assistant.get("model") or DEFAULT_MODEL,
            tools=tool_set(assistant),
            runner=tools or HttpToolRunner(setup.call_id, assistant),
            record=self.record,
            end_call_phrases=tuple(p.lower() for p in assistant.get("endCallPhrases") or [] if p),
            end_call_message=assistant.get("endCallMessage") or None,
            say=self._say_clause,
            emit=self.emit,
        )
        self._writer = writer
        self._conductor = Conductor(self._turns, writer, self.record, self.emit, self._progress, self.end)
        self._vad = VadStage(smart_turn=self._config.endpointing == "smart")
        self._playout = PlayoutStage(out)
        pipeline = Pipeline(
            [
                self._vad,
                SttStage(providers.stt, self._fail),
                self._conductor,
                TtsStage(providers.tts, self._fail),
                self._playout,
            ]
        )
        self._worker = PipelineWorker(
            pipeline,
            params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=out.sample_rate),
            enable_rtvi=False,
            idle_timeout_secs=None,
            check_dangling_tasks=False,
            enable_turn_tracking=False,
        )
        self._run_task: asyncio.Task[None] | None = None
        self._warm_up: asyncio.Task[None] | None = None
        self._pipeline_started = asyncio.Event()

        @self._worker.event_handler("on_pipeline_started")  # type: ignore[untyped-decorator]
        async def _started(_worker: PipelineWorker, _frame: Any) -> None:
            self._pipeline_started.set()

        self._ended = asyncio.Event()
        self.ended_reason: str | None = None
        self.ended_detail: str | None = None

    async def _say_clause(self, reply_id: int, text: str) -> None:
        await self._conductor.say_clause(reply_id, text)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        started = self.setup.started_at or datetime.now(UTC)
        self.record.started_wall = started.timestamp() if self.setup.started_at else time.time()
        self._run_task = asyncio.create_task(self._worker.run(WorkerParams(task_manager=TaskManager())))
        await asyncio.wait_for(self._pipeline_started.wait(), PIPELINE_START_TIMEOUT_SECONDS)
        await self._sink.started(started)
        await self.emit({"type": "status-update", "status": "in-progress"})
        self._warm_up = asyncio.create_task(self._warm_up_models())
        await self._first_message()
        await self._conductor.arm_timers()

    async def _warm_up_models(self) -> None:
        """Load models and prime the LLM's cache with the system prompt while the greeting plays."""
        p = self._providers
        jobs = [getattr(p.stt, "warm_up", None), getattr(p.tts, "warm_up", None)]
        coros = [job() for job in jobs if job is not None]
        coros.append(self._writer.prewarm(None))
        for result in await asyncio.gather(*coros, return_exceptions=True):
            if isinstance(result, ProviderError):
                await self._fail(result)
            elif isinstance(result, Exception):
                log.warning("call %s: warm-up failed: %r", self.setup.call_id, result)

    async def _first_message(self) -> None:
        assistant = self.setup.assistant
        mode = assistant.get("firstMessageMode") or "assistant-speaks-first"
        interruptible = self._config.first_message_interruptions
        reply_id = self._turns.next_reply_id()
        if mode == "assistant-speaks-first" and assistant.get("firstMessage"):
            await self._conductor.say(reply_id, str(assistant["firstMessage"]), interruptible=interruptible)
        elif mode == "assistant-speaks-first-with-model-generated-message":
            await self._conductor.generate_now(reply_id, interruptible=interruptible, source="model")

    async def push_caller_audio(self, pcm16_16k: bytes, received_at: float) -> None:
        if self._ended.is_set():
            return
        now = asyncio.get_running_loop().time()
        self.record.from_transport_ms.append((now - received_at) * 1000)
        if len(self.record.from_transport_ms) > 500:
            del self.record.from_transport_ms[:250]  # a running sample, not the whole call
        await self._worker.queue_frame(CallerAudioFrame(pcm=pcm16_16k, received_at=received_at))

    async def _fail(self, error: ProviderError) -> None:
        log.warning("call %s: provider failed: %s", self.setup.call_id, error)
        await self.end(error.reason, error.detail or str(error))

    async def end(self, reason: str, detail: str | None = None) -> None:
        """End the call once (first reason wins), stop the pipeline, and hand the record to the sink."""
        if self.ended_reason is not None:
            return
        self.ended_reason, self.ended_detail = reason, detail
        try:
            if self._warm_up is not None:
                self._warm_up.cancel()
            self._conductor.flush_record(self._playout.playing())
            await self._worker.cancel()
            await self.emit({"type": "status-update", "status": "ended", "endedReason": reason})
            # Shielded: the task that asked to end (e.g. the socket reader) may be cancelled as the transport
            # closes, and the final record must still be written.
            await asyncio.shield(
                self._sink.ended(reason, datetime.now(UTC), list(self.record.messages), self.record.artifact(), detail)
            )
        finally:
            # Set last: waiters (the transport) tear down only after the record is stored.
            self._ended.set()

    async def wait_ended(self) -> str:
        await self._ended.wait()
        if self._run_task is not None:
            try:
                await asyncio.wait_for(self._run_task, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                pass
        return self.ended_reason or "unknown"

    async def _progress(self) -> None:
        await self._sink.progress(list(self.record.messages), self.record.artifact())

    async def emit(self, message: dict[str, Any]) -> None:
        message = {**message, "timestamp": int(time.time() * 1000)}
        await self._sink.event(message)
        if self._client_message is not None:
            await self._client_message(message)
