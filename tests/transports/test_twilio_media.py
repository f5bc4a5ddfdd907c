"""Twilio calls with real audio through the embedded stack (Whisper, llama.cpp, Piper) and the simulator.

The callee is the simulator's Media Streams client: it plays a clip as 20 ms µ-law frames at real
time, records what it hears, acks marks, honours `clear`. What it heard is transcribed back with
Whisper and compared with what OpenCall stored.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest

from opencall.providers.stt.local_whisper import LocalWhisperStt
from opencall.transports.codec import mulaw_decode
from tests.fixtures.speech import load_clip, wer
from tests.sim.twilio import Outcome, SimCall, SimPhoneLine
from tests.sim.twilio_media import MULAW_SILENCE, MediaStream
from tests.transports.twilio_stack import TwilioStack, twilio_sim_fixture, twilio_stack_fixture  # noqa: F401

# Real models on real audio cost ~30 s a test on 2 cores: these run on SQLite only; the database side
# of Twilio calls runs on both engines in test_twilio_calls.py and test_twilio_inbound.py.
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

CLIP = "piper-joe_s0_8k-mulaw-roundtrip"
CLIP_FLOOR_WER = 0.25
"""Whisper tiny.en reads this clip, and its clean 16 kHz original alike, as "...calling that me devil..."
(3 errors in 12 words): the model's floor on it, with or without a phone line in between."""
STOP_WITHIN = 0.6
"""Barge-in, caller's first voiced frame -> last greeting frame the callee hears: the engine pauses after
0.1 s of VAD onset plus 0.2 s of voice (stopSpeakingPlan.voiceSeconds), and Twilio still plays the 0.1 s
we keep ahead in its buffer (transports/pacing.py LEAD_SECONDS): 0.42-0.47 s measured on 2 cores."""
SECOND_CLIP = "piper-joe_s1"  # played at 16 kHz: the simulator makes it 8 kHz µ-law, as a phone line does
FIRST_MESSAGE = "Hi, this is Sam from the dental office."
SYSTEM = "You are Sam, a friendly dental receptionist. Answer in one short sentence."


async def transcribe_8k(pcm16_8k: bytes) -> str:
    """Whisper's reference path (30 s window): the fitted window repeats itself on short phone audio."""
    import soxr

    samples = np.frombuffer(pcm16_8k, dtype="<i2").astype(np.float32) / 32768.0
    stt = LocalWhisperStt(cpu_threads=2, fitted_window=False)
    return await stt.transcribe(soxr.resample(samples, 8000, 16000))


def bot_messages(call: dict[str, Any]) -> list[str]:
    return [m["message"] for m in call.get("messages") or [] if m["role"] == "bot"]


def user_messages(call: dict[str, Any]) -> list[str]:
    return [m["message"] for m in call.get("messages") or [] if m["role"] == "user"]


async def replies_stored(stack: TwilioStack, call_id: str, count: int, timeout: float = 30.0) -> None:
    """Until the call has `count` assistant messages: the reply was heard to its end."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.2)):
        if len(bot_messages(await stack.get_call(call_id))) >= count or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.2)


async def heard_text(stream: MediaStream) -> str:
    """What the callee heard: every stretch of the app's audio, 0.3 s apart, read in one go."""
    gap = MULAW_SILENCE * 15
    stretches: list[bytes] = []
    for i, played in enumerate(stream.played):
        if played.from_app:
            if i == 0 or not stream.played[i - 1].from_app:
                stretches.append(b"")
            stretches[-1] += played.mulaw
    return await transcribe_8k(mulaw_decode(gap.join(stretches)))


async def answer_greeting_with(stream: MediaStream, pcm: np.ndarray, rate: int) -> float:
    """The callee hears the greeting out, says `pcm`, and waits for the reply to be quiet; when it spoke."""
    first = await stream.wait_voiced(stream.started_at, timeout=30)
    assert first is not None, "the assistant never spoke"
    await stream.wait_quiet(first, quiet_seconds=1.0)
    said = await stream.speak(pcm, rate)
    await stream.wait_quiet(said, quiet_seconds=1.0, timeout=30)
    return said


def llama(max_tokens: int = 50) -> dict[str, Any]:
    return {
        "provider": "vapi",
        "model": "smollm2-135m",
        "maxTokens": max_tokens,
        "messages": [{"role": "system", "content": SYSTEM}],
    }


async def run_outbound(stack: TwilioStack, outcome: Outcome, **assistant: Any) -> tuple[dict[str, Any], SimCall]:
    """`POST /call {to, from, assistantId}` through the simulator's phone line (what the bench uses too)."""
    line = SimPhoneLine(stack.sim, stack.server.base_url, stack.server.keys.private_key)
    try:
        await line.connect()
        created = await stack.assistant(**assistant)
        return await line.call(created["id"], outcome=outcome, timeout=60)
    finally:
        await line.aclose()


async def test_outbound_call_end_to_end_stores_what_was_said_and_the_callee_hears_the_reply(
    twilio_stack: TwilioStack,
) -> None:
    stack = twilio_stack
    pcm, rate, text = load_clip(CLIP)

    async def callee(call: SimCall) -> None:
        stream = call.stream
        await answer_greeting_with(stream, pcm, rate)
        await replies_stored(stack, stream.custom_parameters["callId"], 2)
        await stream.hang_up()

    started = time.monotonic()
    ended, sim_call = await run_outbound(
        stack, Outcome(answer="human", callee=callee), firstMessage=FIRST_MESSAGE, model=llama()
    )
    elapsed = time.monotonic() - started

    assert ended["endedReason"] == "customer-ended-call"
    assert sim_call.statuses() == ["initiated", "ringing", "in-progress", "completed"]
    assert [c.status for c in sim_call.twiml_fetches] == [200]
    assert sim_call.stream.custom_parameters["callId"] == ended["id"]
    users = user_messages(ended)
    assert wer(text, " ".join(users)) <= CLIP_FLOOR_WER, users
    bots = bot_messages(ended)
    assert bots[0] == FIRST_MESSAGE and len(bots) >= 2, bots
    heard = await heard_text(sim_call.stream)
    assert wer(" ".join(bots), heard) <= 0.25, (bots, heard)
    assert len(sim_call.stream.marks_echoed) >= sim_call.stream.received_frames // 2
    latencies = [t["turnLatency"] for t in ended["artifact"]["performanceMetrics"]["turnLatencies"]]
    print(f"\nwall {elapsed:.1f} s; turn latency {latencies} ms; users {users}; stored {bots}; heard {heard!r}")


async def test_barge_in_sends_clear_and_keeps_only_the_words_played_before_it(twilio_stack: TwilioStack) -> None:
    stack = twilio_stack
    long_greeting = (
        "Thank you for calling, this is the front desk of your dental practice. We offer cleanings, "
        "fillings, crowns and whitening, and we are open from nine to five, Monday through Friday."
    )
    pcm, rate, _ = load_clip(SECOND_CLIP)

    async def callee(call: SimCall) -> None:
        stream = call.stream
        first = await stream.wait_voiced(stream.started_at, timeout=30)
        assert first is not None
        await asyncio.sleep(3.0)  # a few clauses in
        said = await stream.speak(pcm, rate)
        await stream.wait_quiet(said, quiet_seconds=1.0, timeout=30)
        await stream.hang_up()

    ended, sim_call = await run_outbound(
        stack,
        Outcome(answer="human", callee=callee),
        firstMessage=long_greeting,
        firstMessageInterruptionsEnabled=True,
        model=llama(),
    )

    stream = sim_call.stream
    assert stream.clears >= 1
    cleared = stream.clear_times[0]
    onset = stream.voice_onsets[0]
    last_greeting = max(p.at for p in stream.played if p.from_app and p.at <= cleared)
    stopped_after = last_greeting - onset
    assert stopped_after <= STOP_WITHIN, f"the greeting kept playing {stopped_after:.2f} s into the barge-in"
    stored = bot_messages(ended)[0]
    assert stored and long_greeting.startswith(stored) and len(stored) < len(long_greeting) * 0.8, stored
    before_clear = [p.mulaw for p in stream.played if p.from_app and p.at <= cleared]
    played_words = await transcribe_8k(mulaw_decode(b"".join(before_clear)))
    assert wer(stored, played_words) <= 0.35, (stored, played_words)
    after_clear = [p for p in stream.played if p.from_app and cleared < p.at < cleared + 1.0]
    assert not after_clear, "audio of the interrupted greeting still played after clear"
    assert ended["artifact"]["performanceMetrics"]["numUserInterrupted"] >= 1
    print(
        f"\ngreeting stopped {stopped_after:.2f} s into the barge-in, clear after {cleared - onset:.2f} s;"
        f" stored {stored!r}; played {played_words!r}"
    )


async def test_voicemail_after_the_beep_speaks_the_voicemail_message_and_hangs_up(twilio_stack: TwilioStack) -> None:
    message = "Hi, this is Sam from the dental office. Please call us back about your appointment."

    ended, sim_call = await run_outbound(
        twilio_stack,
        Outcome(answer="machine", answered_by="machine_end_beep"),
        voicemailDetection={"provider": "twilio"},
        voicemailMessage=message,
    )

    assert sim_call.param("MachineDetection") == "DetectMessageEnd"
    assert ended["endedReason"] == "voicemail"
    assert sim_call.ended_by == "api"  # we hung up (REST Status=completed) once the message was heard
    assert bot_messages(ended) == [message]
    assert wer(message, await heard_text(sim_call.stream)) <= 0.2


async def test_inbound_call_answered_by_the_assistant_the_server_names(twilio_stack: TwilioStack) -> None:
    from tests.transports.test_twilio_inbound import inbound_number, receiver

    stack = twilio_stack
    greeting = "Thanks for calling the dental office, how can I help?"
    heard_greeting: list[float] = []

    async def caller(call: SimCall) -> None:
        stream = call.stream
        first = await stream.wait_voiced(stream.started_at, timeout=30)
        assert first is not None
        heard_greeting.append(first)
        await stream.wait_quiet(first, quiet_seconds=1.0)
        await stream.hang_up()

    async with receiver() as hook:
        hook.reply = lambda _m: {"assistant": {"firstMessage": greeting, "model": llama()}}
        created, number = await inbound_number(stack, server={"url": hook.url})
        sim_call = await stack.sim.place_inbound(number, from_="+15551230001", callee=caller)
        await asyncio.wait_for(sim_call.done.wait(), 60)
        async with stack.client() as client:
            (call,) = (await client.get("/call", params={"phoneNumberId": created["id"]})).json()
        ended = await stack.wait_call(call["id"])
        await asyncio.sleep(0.5)  # the end-of-call report follows the call's end

    (request,) = hook.of_type("assistant-request")
    assert request["call"]["id"] == ended["id"]
    assert ended["type"] == "inboundPhoneCall"
    assert ended["customer"]["number"] == "+15551230001"
    assert ended["phoneCallProviderId"] == sim_call.sid
    assert ended["endedReason"] == "customer-ended-call"
    assert bot_messages(ended) == [greeting]
    assert wer(greeting, await heard_text(sim_call.stream)) <= 0.2
    statuses = [m.get("status") for m in hook.of_type("status-update")]
    assert "in-progress" in statuses and "ended" in statuses, statuses


async def test_inbound_call_answered_by_the_numbers_own_assistant(twilio_stack: TwilioStack) -> None:
    from tests.transports.test_twilio_inbound import inbound_number

    stack = twilio_stack
    greeting = "Good morning, this is the dental office, Sam speaking."
    assistant = await stack.assistant(firstMessage=greeting, model=llama())

    async def caller(call: SimCall) -> None:
        stream = call.stream
        first = await stream.wait_voiced(stream.started_at, timeout=30)
        assert first is not None
        await stream.wait_quiet(first, quiet_seconds=1.0)
        await stream.hang_up()

    created, number = await inbound_number(stack, assistantId=assistant["id"])
    sim_call = await stack.sim.place_inbound(number, from_="+15551230003", callee=caller)
    await asyncio.wait_for(sim_call.done.wait(), 60)
    async with stack.client() as client:
        (call,) = (await client.get("/call", params={"phoneNumberId": created["id"]})).json()
    ended = await stack.wait_call(call["id"])

    assert ended["type"] == "inboundPhoneCall"
    assert ended["assistantId"] == assistant["id"]
    assert ended["endedReason"] == "customer-ended-call"
    assert bot_messages(ended) == [greeting]
    assert wer(greeting, await heard_text(sim_call.stream)) <= 0.2
