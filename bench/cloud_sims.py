"""The cloud stack for the benchmarks: Deepgram, OpenAI and ElevenLabs simulators in a process of their own.

    .venv/bin/python bench/cloud_sims.py --deepgram-port 8101 --openai-port 8100 --elevenlabs-port 8102 --api-key K

The simulators speak each cloud's wire protocol (tests/sim/): Deepgram transcribes with Whisper
tiny.en, OpenAI echoes the caller ("You said: ..."), ElevenLabs speaks with Piper. They answer as
fast as the box lets them, with none of a real cloud's network or queueing time, so a bench on them
measures what OpenCall itself costs with cloud providers. Running them apart from the server keeps
their Whisper and Piper out of the server's RSS (the CPU they use is still the same two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import GREETING, SYSTEM_PROMPT, spawn, stop, wait_port  # noqa: E402
from tests.fixtures.caller import free_port  # noqa: E402

PROVIDERS = ("deepgram", "openai", "11labs")


def simulator_assistant(api_key: str) -> dict[str, Any]:
    """The bench assistant with cloud providers; keys inline, as Vapi's assistant `credentials`."""
    return {
        "firstMessage": GREETING,
        "transcriber": {"provider": "deepgram", "model": "nova-3", "language": "en"},
        "model": {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}],
        },
        "voice": {"provider": "11labs", "voiceId": "burt"},
        "credentials": [{"provider": provider, "apiKey": api_key} for provider in PROVIDERS],
    }


@dataclass(frozen=True)
class CloudStack:
    pid: int
    assistant: dict[str, Any]
    cloud_base_urls: dict[str, str]
    """`OPENCALL_CLOUD_BASE_URLS` for the server under test."""


@contextlib.asynccontextmanager
async def running_simulators(workdir: Path) -> AsyncIterator[CloudStack]:
    """The three simulators in a child process on free ports, until the block exits."""
    ports = {provider: free_port() for provider in PROVIDERS}
    api_key = f"bench-{uuid.uuid4().hex[:8]}"
    proc = spawn(
        [
            sys.executable,
            __file__,
            "--deepgram-port",
            str(ports["deepgram"]),
            "--openai-port",
            str(ports["openai"]),
            "--elevenlabs-port",
            str(ports["11labs"]),
            "--api-key",
            api_key,
        ],
        workdir / "cloud-sims.log",
    )
    try:
        for port in ports.values():
            await wait_port(port, proc=proc)
        urls = {
            "deepgram": f"ws://127.0.0.1:{ports['deepgram']}",
            "openai": f"http://127.0.0.1:{ports['openai']}/v1",
            "11labs": f"ws://127.0.0.1:{ports['11labs']}",
        }
        yield CloudStack(proc.pid, simulator_assistant(api_key), urls)
    finally:
        stop(proc)


async def serve_all(deepgram_port: int, openai_port: int, elevenlabs_port: int, api_key: str) -> None:
    from tests.sim.deepgram import DeepgramSim
    from tests.sim.elevenlabs import ElevenLabsSim
    from tests.sim.openai import OpenAISim

    async with (
        DeepgramSim(api_key=api_key).serve(deepgram_port) as deepgram,
        OpenAISim(api_key=api_key).serve(openai_port) as openai,
        ElevenLabsSim(api_key=api_key).serve(elevenlabs_port) as elevenlabs,
    ):
        print(json.dumps({"deepgram": deepgram, "openai": openai, "11labs": elevenlabs}), flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deepgram-port", type=int, required=True)
    parser.add_argument("--openai-port", type=int, required=True)
    parser.add_argument("--elevenlabs-port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()
    asyncio.run(serve_all(args.deepgram_port, args.openai_port, args.elevenlabs_port, args.api_key))
