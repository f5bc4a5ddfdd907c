"""Vapi call semantics end to end through the engine: first message modes, tools, ending the call.

Real Silero VAD and Whisper hear real clips; the model is the OpenAI simulator (tests/sim/openai.py)
behind the `custom-llm` provider, so replies and tool calls are scripted exactly; the voice is
espeak-ng (instant). Audio goes out through the real paced output into a list.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI, Request

from opencall.engine.call import CallEngine, build_providers
from opencall.engine.session import AudioFormat, CallSetup
from opencall.settings import Settings
from opencall.transports.pacing import PacedAudioOut
from tests.fixtures.caller import RecordingSink
from tests.fixtures.speech import load_clip, wer
from tests.sim.openai import Call, Failure, OpenAISim, Reply, Script, ToolCalls
from tests.sim.server import serve_asgi

pytestmark = pytest.mark.slow

FRAME = 320  # 20 ms at 16 kHz


class LiveCall:
    def __init__(self, engine: CallEngine, sink: RecordingSink, sent: list[bytes], sim: OpenAISim) -> None:
        self.engine, self.sink, self.sent, self.sim = engine, sink, sent, sim
        self._feeder: asyncio.Task[None] | None = None
        self._queue: list[bytes] = []

    async def feed_forever(self) -> None:
        """Caller audio on a 20 ms clock: queued speech, else silence (the VAD needs the silence)."""
        loop = asyncio.get_running_loop()
        start, n = loop.time(), 0
        while True:
            frame = self._queue.pop(0) if self._queue else bytes(FRAME * 2)
            await self.engine.push_caller_audio(frame, loop.time())
            n += 1
            await asyncio.sleep(max(0.0, start + n * 0.02 - loop.time()))

    async def say(self, clip: str) -> str:
        # a caller is silent for a moment after connecting; Silero's volume smoothing starts at zero
        # and misses a first word spoken in the very first frames
        await asyncio.sleep(0.5)
        pcm, _rate, text = load_clip(clip)
        self._queue.extend(pcm[i : i + FRAME].astype("<i2").tobytes() for i in range(0, len(pcm), FRAME))
        while self._queue:  # noqa: ASYNC110 - polls a value another task appends to
            await asyncio.sleep(0.02)
        return text

    async def ended(self, timeout: float = 20.0) -> str:
        await asyncio.wait_for(self.sink.ended_event.wait(), timeout)
        assert self.sink.ended_reason is not None
        return self.sink.ended_reason

    def roles(self) -> list[str]:
        return [m["role"] for m in self.sink.messages]

    def bot(self) -> list[str]:
        return [m["message"] for m in self.sink.messages if m["role"] == "bot"]


@asynccontextmanager
async def live_call(assistant: dict[str, Any], script: Script) -> AsyncIterator[LiveCall]:
    sim = OpenAISim(script)
    async with sim.serve() as base_url:
        config = {
            "transcriber": {"provider": "vapi"},
            "voice": {"provider": "opencall-espeak"},
            **assistant,
            "model": {
                "provider": "custom-llm",
                "url": base_url,
                "model": "scripted",
                "messages": [{"role": "system", "content": "You are a test."}],
                **assistant.get("model", {}),
            },
        }
        sent: list[bytes] = []

        async def send(frame: bytes) -> None:
            sent.append(frame)

        out = PacedAudioOut(16000, send)
        pacer = asyncio.create_task(out.run())
        sink = RecordingSink()
        setup = CallSetup("call-test", "org", config, AudioFormat("pcm_s16le", 16000))
        engine = CallEngine(setup, sink, out, build_providers(config, Settings()))
        call = LiveCall(engine, sink, sent, sim)
        await engine.start()
        feeder = asyncio.create_task(call.feed_forever())
        try:
            yield call
        finally:
            feeder.cancel()
            await engine.end("customer-ended-call")
            pacer.cancel()


@asynccontextmanager
async def tool_receiver(result: str) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A customer's tool server: records `tool-calls` posts, answers Vapi's `{"results": [...]}`."""
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/tools")
    async def tools(request: Request) -> dict[str, Any]:
        body = await request.json()
        received.append(body)
        call_id = body["message"]["toolCallList"][0]["id"]
        return {"results": [{"toolCallId": call_id, "result": result}]}

    async with serve_asgi(app) as url:
        yield url + "/tools", received


async def test_function_tool_posts_tool_calls_to_its_server_and_speaks_the_answer() -> None:
    hours = Call("get_hours", {"day": "tuesday"})
    async with tool_receiver("Open 9 to 5") as (url, received):
        tool = {
            "type": "function",
            "server": {"url": url},
            "function": {
                "name": "get_hours",
                "parameters": {"type": "object", "properties": {"day": {"type": "string"}}},
            },
        }
        script = [ToolCalls([hours]), Reply("We are open nine to five on Tuesday.")]
        async with live_call(
            {"firstMessageMode": "assistant-waits-for-user", "model": {"tools": [tool]}}, script
        ) as call:
            await call.say("piper-joe_s1")
            for _ in range(300):
                if call.bot():
                    break
                await asyncio.sleep(0.05)
    (post,) = received
    message = post["message"]
    assert message["type"] == "tool-calls" and message["call"]["id"] == "call-test"
    assert message["toolCallList"][0]["function"] == {"name": "get_hours", "arguments": {"day": "tuesday"}}
    assert message["toolWithToolCallList"][0]["server"]["url"] == url
    assert call.roles() == ["system", "user", "tool_calls", "tool_call_result", "bot"]
    result = next(m for m in call.sink.messages if m["role"] == "tool_call_result")
    assert (result["toolCallId"], result["name"], result["result"]) == (hours.id, "get_hours", "Open 9 to 5")
    assert call.bot() == ["We are open nine to five on Tuesday."]
    second = call.sim.requests[1].body["messages"]
    assert second[-1] == {"role": "tool", "tool_call_id": hours.id, "content": "Open 9 to 5"}
    assert json.loads(second[-2]["tool_calls"][0]["function"]["arguments"]) == {"day": "tuesday"}


async def test_end_call_tool_says_the_end_call_message_then_hangs_up() -> None:
    assistant = {
        "firstMessageMode": "assistant-waits-for-user",
        "endCallMessage": "Goodbye, take care.",
        "model": {"tools": [{"type": "endCall"}]},
    }
    # callable scripts: "Thank you, goodbye." has a pause, so a first speculative request may be cancelled
    async with live_call(assistant, lambda body: ToolCalls([Call("endCall", {})])) as call:
        await call.say("piper-joe_s4")
        assert await call.ended() == "assistant-ended-call"
    assert call.bot() == ["Goodbye, take care."]
    assert sum(len(f) for f in call.sent) / 32000 > 0.8  # the message was played before hanging up


async def test_end_call_phrase_in_the_reply_hangs_up_after_it_is_spoken() -> None:
    assistant = {"firstMessageMode": "assistant-waits-for-user", "endCallPhrases": ["have a great day"]}
    async with live_call(assistant, lambda body: Reply("Thanks for calling. Have a great day!")) as call:
        said = await call.say("piper-joe_s4")
        assert await call.ended() == "assistant-said-end-call-phrase"
    assert call.bot() == ["Thanks for calling. Have a great day!"]
    (user,) = [m["message"] for m in call.sink.messages if m["role"] == "user"]
    assert wer(said, user) == 0.0


async def test_model_generated_first_message_is_asked_with_the_system_prompt_only() -> None:
    assistant = {"firstMessageMode": "assistant-speaks-first-with-model-generated-message", "maxDurationSeconds": 4}
    async with live_call(assistant, [Reply("Hello, thanks for calling.")]) as call:
        assert await call.ended(10) == "exceeded-max-duration"
    assert call.bot() == ["Hello, thanks for calling."]
    assert [m["role"] for m in call.sim.requests[0].body["messages"]] == ["system"]


async def test_assistant_speaks_first_says_the_first_message_and_waits_for_user_says_nothing() -> None:
    async with live_call({"firstMessage": "Hi there.", "maxDurationSeconds": 3}, []) as call:
        assert await call.ended(10) == "exceeded-max-duration"
    assert call.bot() == ["Hi there."] and call.sent
    assistant = {"firstMessage": "Hi there.", "firstMessageMode": "assistant-waits-for-user", "maxDurationSeconds": 2}
    async with live_call(assistant, []) as call:
        assert await call.ended(10) == "exceeded-max-duration"
    assert call.bot() == [] and not any(np.frombuffer(f, "<i2").any() for f in call.sent)


async def test_silence_times_out_after_the_idle_prompt() -> None:
    assistant = {
        "firstMessageMode": "assistant-waits-for-user",
        "silenceTimeoutSeconds": 3,
        "messagePlan": {"idleMessages": ["Are you still there?"], "idleTimeoutSeconds": 1},
    }
    async with live_call(assistant, []) as call:
        assert await call.ended(10) == "silence-timed-out"
    assert call.bot() == ["Are you still there?"]
    assert [e["status"] for e in call.sink.events if e["type"] == "status-update"] == ["in-progress", "ended"]


async def test_a_failing_model_ends_the_call_with_a_pipeline_error() -> None:
    async with live_call({"firstMessageMode": "assistant-waits-for-user"}, [Failure(500)]) as call:
        await call.say("piper-joe_s1")
        reason = await call.ended()
    assert reason.startswith("pipeline-error-custom-llm"), reason
    assert call.sink.ended_detail


async def test_smart_endpointing_runs_smart_turn_v3_and_answers_within_its_cap() -> None:
    assistant = {
        "firstMessageMode": "assistant-waits-for-user",
        "startSpeakingPlan": {"smartEndpointingPlan": {"provider": "livekit"}},
    }
    async with live_call(assistant, lambda body: Reply("Sure, Tuesday works.")) as call:
        said = await call.say("piper-joe_s1")
        for _ in range(100):
            if call.bot():
                break
            await asyncio.sleep(0.05)  # noqa: ASYNC110 - polls the record another task fills
        spoke_at = next(m for m in call.sink.messages if m["role"] == "bot")["secondsFromStart"]
    (user,) = [m for m in call.sink.messages if m["role"] == "user"]
    assert wer(said, user["message"]) == 0.0
    # released by the verdict (or the 1.0 s cap), never pipecat's 3 s fallback
    assert spoke_at - (user["secondsFromStart"] + user["duration"] / 1000) < 2.0


async def wait_bot(call: LiveCall, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if call.bot():
            return
        await asyncio.sleep(0.05)


async def test_a_model_slower_than_the_hang_threshold_sends_hang_then_still_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opencall.engine import conductor

    monkeypatch.setattr(conductor, "HANG_AFTER_SECONDS", 1.0)  # Vapi's wait, shortened for the test
    script = [Reply("Sure, Tuesday works.", ttft_s=2.5), Reply("Anything else?")]
    async with live_call({"firstMessageMode": "assistant-waits-for-user"}, script) as call:
        await call.say("piper-joe_s1")
        await wait_bot(call)
    kinds = [e["type"] for e in call.sink.events]
    assert kinds.count("hang") == 1, kinds
    started = next(
        i for i, e in enumerate(call.sink.events) if e["type"] == "speech-update" and e["role"] == "assistant"
    )
    assert kinds.index("hang") < started  # sent while the caller waited, before the late reply
    assert call.bot() == ["Sure, Tuesday works."]


async def test_a_prompt_model_sends_no_hang() -> None:
    async with live_call({"firstMessageMode": "assistant-waits-for-user"}, [Reply("Sure.")]) as call:
        await call.say("piper-joe_s1")
        await wait_bot(call)
    assert call.bot() == ["Sure."]
    assert "hang" not in [e["type"] for e in call.sink.events]


async def test_partial_transcripts_arrive_while_the_caller_speaks_then_the_final() -> None:
    async with live_call({"firstMessageMode": "assistant-waits-for-user"}, [Reply("Sure.")]) as call:
        text = await call.say("piper-joe_s1")
        await wait_bot(call)
    transcripts = [e for e in call.sink.events if e["type"] == "transcript"]
    partials = [e for e in transcripts if e["transcriptType"] == "partial"]
    finals = [e for e in transcripts if e["transcriptType"] == "final"]
    assert partials and finals, transcripts
    assert transcripts.index(partials[-1]) < transcripts.index(finals[0])  # no partial after the final
    assert partials[0]["transcript"].lower().startswith("i would"), partials  # the turn's start, not noise
    assert wer(text, finals[0]["transcript"]) <= 0.15
    stop = next(i for i, e in enumerate(call.sink.events) if e["type"] == "speech-update" and e["status"] == "stopped")
    assert call.sink.events.index(partials[0]) < stop  # while the caller was still speaking
