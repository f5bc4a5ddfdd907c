"""Voice-to-voice over a phone line: OpenCall's real server dialling out through the Twilio simulator.

The server (`opencall serve`: SQLite, migrations, webhooks, post-call analysis, the Twilio transport)
runs in a child process pointed at the simulator by `OPENCALL_CLOUD_BASE_URLS`. The simulator and
its callee run here, in the bench's process: `POST /call {to, from, assistantId}` dials, the callee
answers, hears the greeting, then speaks the clips at 16 kHz — the simulator sends them as 8 kHz
µ-law, as a phone line does — each after the reply to the previous one has been quiet for 1.2 s.

v2v is measured as the websocket caller measures it: the frame holding the clip's last voiced sample
sent -> the first 20 ms `media` frame from the app, as it arrives, whose µ-law-decoded RMS is > 300.
The threshold stays 300 at 8 kHz: RMS is an amplitude, the same for a signal at either rate, and
speech above the 4 kHz the phone line cuts carries little energy. Measured on clips piper-joe_s0..s4
(Piper joe, like the replies): median 20 ms frame RMS after 8 kHz µ-law / at 16 kHz = 1.00, and the
first and last frames above 300 are the same frames in every clip. The callee waits for quiet on what
its loudspeaker played (Twilio's side of the line), which trails the arrivals by the app's lead.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    ASSISTANT,
    CLIPS,
    QUIET_AFTER_REPLY_S,
    CallResult,
    spawn,
    still_talking,
    stop,
    wait_idle,
    wait_port,
)
from tests.fixtures.caller import free_port
from tests.fixtures.speech import load_clip
from tests.sim.twilio import SimCall, SimPhoneLine, TwilioSim

GREETING_TIMEOUT_S = 30.0  # the first call loads Whisper, SmolLM2 and Piper before it can greet
REPLY_TIMEOUT_S = 30.0  # as the websocket caller: a reply longer than this is spoken over


def server_env(port: int, data_dir: Path, twilio_url: str, api_key: str) -> dict[str, str]:
    """`opencall serve` on its own fresh SQLite, dialling through the simulator."""
    return {
        "OPENCALL_HOST": "127.0.0.1",
        "OPENCALL_PORT": str(port),
        "OPENCALL_DATA_DIR": str(data_dir),
        "OPENCALL_API_KEY": api_key,
        "OPENCALL_CLOUD_BASE_URLS": f'{{"twilio": "{twilio_url}"}}',
    }


def callee(result: CallResult) -> Callable[[SimCall], Awaitable[None]]:
    """The far end: hears the greeting out, speaks each clip, times the reply, hangs up."""

    async def speak_clips(call: SimCall) -> None:
        stream = call.stream
        await stream.wait_quiet(stream.started_at, quiet_seconds=QUIET_AFTER_REPLY_S, timeout=GREETING_TIMEOUT_S)
        for name in CLIPS:
            pcm, rate, _text = load_clip(name)
            sent = await stream.speak(pcm, rate)
            await stream.wait_quiet(sent, quiet_seconds=QUIET_AFTER_REPLY_S, timeout=REPLY_TIMEOUT_S)
            result.talked_over += still_talking(stream.last_voiced_after(sent))
            first = stream.first_voiced_arrival_after(sent)
            heard = stream.first_voiced_after(sent)
            result.v2v_ms.append(None if first is None else (first - sent) * 1000)
            result.heard_ms.append(None if heard is None else (heard - sent) * 1000)
        await stream.hang_up()

    return speak_clips


def record_of(ended: dict[str, Any]) -> dict[str, Any]:
    """The call as GET /call/{id} stored it, in the shape the websocket path's server writes."""
    artifact = ended.get("artifact") or {}
    return {
        "call": ended.get("id"),
        "reason": ended.get("endedReason"),
        "metrics": artifact.get("performanceMetrics"),
        "transcript": artifact.get("transcript"),
    }


async def create_assistant(base_url: str, api_key: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}) as client:
        response = await client.post("/assistant", json={"name": "Bench", **ASSISTANT})
    response.raise_for_status()
    return str(response.json()["id"])


async def place_calls(
    line: SimPhoneLine, assistant_id: str, calls: int, server_pid: int
) -> tuple[list[CallResult], list[dict[str, Any]]]:
    results, records = [], []
    for i in range(calls):
        # The real server analyses each ended call (summary, success evaluation) on the same SmolLM2:
        # the next call starts once that is done, so calls are measured one at a time, as over websocket.
        await wait_idle(server_pid)
        result = CallResult()
        ended, _sim_call = await line.call(assistant_id, callee(result))
        results.append(result)
        records.append(record_of(ended))
        shown = [round(v) if v else None for v in result.v2v_ms]
        print(f"twilio call {i + 1}: {shown} ({ended.get('endedReason')})", flush=True)
    return results, records


async def run_twilio(calls: int, workdir: Path) -> tuple[list[CallResult], list[dict[str, Any]]]:
    """`calls` outbound phone calls, one after another; (caller-side results, stored calls)."""
    data_dir = workdir / "twilio-server"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    port, api_key = free_port(), str(uuid.uuid4())
    sim = TwilioSim()
    async with sim.serve() as twilio_url:
        server = spawn(
            [sys.executable, "-m", "opencall.cli", "serve"],
            workdir / "twilio-server.log",
            server_env(port, data_dir, twilio_url, api_key),
        )
        line = None
        try:
            await wait_port(port, proc=server)
            base_url = f"http://127.0.0.1:{port}"
            line = SimPhoneLine(sim, base_url, api_key)
            await line.connect()
            return await place_calls(line, await create_assistant(base_url, api_key), calls, server.pid)
        finally:
            if line is not None:
                await line.aclose()
            stop(server)
