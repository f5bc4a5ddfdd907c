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
from tests.sim.twilio import Outcome, SimCall
from tests.sim.twilio_media import MULAW_SILENCE, MediaStream
from tests.transports.twilio_stack import TwilioStack, twilio_sim, twilio_stack  # noqa: F401

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

CLIP = "piper-joe_s0_8k-mulaw-roundtrip"
CLIP_FLOOR_WER = 0.25
"""Whisper tiny.en reads this clip, and its clean 16 kHz original alike, as "...calling that me devil..."
(3 errors in 12 words): the model's floor on it, with or without a phone line in between."""
SECOND_CLIP = "piper-joe_s1"  # played at 16 kHz: the simulator makes it 8 kHz µ-law, as a phone line does
FIRST_MESSAGE = "Hi, this is Sam from Acme Dental."
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
    while len(bot_messages(await stack.get_call(call_id))) < count and time.monotonic() < deadline:
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


async def test_outbound_call_end_to_end_stores_what_was_said_and_the_callee_hears_the_reply(
    twilio_stack: TwilioStack,
) -> None:
    stack = twilio_stack
    clips = [load_clip(CLIP), load_clip(SECOND_CLIP)]

    async def callee(call: SimCall) -> None:
        stream = call.stream
        first = await stream.wait_voiced(stream.started_at, timeout=30)
        assert first is not None, "the assistant never spoke"
        await stream.wait_quiet(first, quiet_seconds=1.0)
        for turn, (pcm, rate, _) in enumerate(clips, start=1):
            said = await stream.speak(pcm, rate)
            await stream.wait_quiet(said, quiet_seconds=1.0, timeout=30)
            await replies_stored(stack, stream.custom_parameters["callId"], 1 + turn)
        await stream.hang_up()

    to = "+15557770201"
    stack.sim.script(to, Outcome(answer="human", callee=callee))
    await stack.phone_number()
    assistant = await stack.assistant(
        firstMessage=FIRST_MESSAGE,
        model={
            "provider": "opencall-llama",
            "model": "smollm2-135m",
            "maxTokens": 50,
            "messages": [{"role": "system", "content": SYSTEM}],
        },
    )
    started = time.monotonic()
    call = await stack.post("/call", {"to": to, "from": stack.number.phone_number, "assistantId": assistant["id"]})
    sim_call = await stack.sim.wait_call(to)
    await asyncio.wait_for(sim_call.done.wait(), 60)
    ended = await stack.wait_call(call["id"], timeout=20)
    elapsed = time.monotonic() - started

    assert ended["endedReason"] == "customer-ended-call"
    assert sim_call.statuses() == ["initiated", "ringing", "in-progress", "completed"]
    assert [c.status for c in sim_call.twiml_fetches] == [200]
    assert sim_call.stream.custom_parameters["callId"] == call["id"]
    users = user_messages(ended)
    metrics = ended["artifact"]["performanceMetrics"]
    print(f"\nusers {users}\nturn latencies {metrics['turnLatencies']}")
    assert len(users) == 2, users
    assert wer(clips[0][2], users[0]) <= CLIP_FLOOR_WER, users
    assert wer(clips[1][2], users[1]) <= 0.2, users
    bots = bot_messages(ended)
    assert bots[0] == FIRST_MESSAGE and len(bots) >= 2, bots
    heard = await heard_text(sim_call.stream)
    assert wer(" ".join(bots), heard) <= 0.25, (bots, heard)
    assert sim_call.stream.marks_echoed, "OpenCall sent no marks"
    print(f"\nouter wall time {elapsed:.1f} s; stored {bots}; heard {heard}")
