"""How many simultaneous calls one server process holds with p95 v2v < 1.5 s, per provider stack.

    .venv/bin/python bench/concurrency.py --max-calls 4 [--stack embedded|simulators|both] [--write-docs]

Runs 1, 2, ... simultaneous callers (each: greeting, then clips s1..s4 as in voice_to_voice.py)
against one server process, measures v2v at each caller, and reads the server's RSS and CPU time
from /proc to give the memory each extra call costs. Every level up to --max-calls runs, so the
curve shows. `embedded`: Whisper, SmolLM2 and Piper inside the server. `simulators`: Deepgram,
OpenAI and ElevenLabs adapters talking to the simulators of tests/sim/, which run in a process of
their own (bench/cloud_sims.py) so the server's RSS and CPU are OpenCall's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cloud_sims import running_simulators  # noqa: E402
from bench.common import REPO, cpu_seconds, rss_mb, spawn, stop, wait_port  # noqa: E402
from bench.v2v_report import write_docs_section  # noqa: E402
from bench.voice_to_voice import one_call, serve_command  # noqa: E402
from tests.fixtures.caller import free_port  # noqa: E402

P95_BOUND_MS = 1500.0  # issue 4: "p95 voice-to-voice under 1.5 s"
STACK_LABELS = {
    "embedded": "embedded (Whisper tiny.en, SmolLM2, Piper in the server)",
    "simulators": "simulators (Deepgram, OpenAI, ElevenLabs adapters; tests/sim/ in another process)",
}


@dataclass(frozen=True)
class Server:
    port: int
    pid: int
    sims_pid: int | None
    """The simulators' process, whose CPU is reported beside the server's."""


@contextlib.asynccontextmanager
async def running_server(stack: str, workdir: Path) -> AsyncIterator[Server]:
    """voice_to_voice.py's server for `stack` in a child process (with the simulators when needed)."""
    async with contextlib.AsyncExitStack() as exits:
        assistant, cloud, sims_pid = None, "{}", None
        if stack == "simulators":
            sims = await exits.enter_async_context(running_simulators(workdir))
            assistant, cloud, sims_pid = sims.assistant, json.dumps(sims.cloud_base_urls), sims.pid
        port = free_port()
        results = workdir / f"concurrency-{stack}-calls.jsonl"
        results.unlink(missing_ok=True)
        proc = spawn(serve_command(port, results, assistant, cloud), workdir / f"concurrency-{stack}-server.log")
        exits.callback(stop, proc)
        await wait_port(port, proc=proc)
        yield Server(port, proc.pid, sims_pid)


async def level(server: Server, calls: int, tag: str) -> dict[str, Any]:
    peak = 0.0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_mb(server.pid))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    cpu0 = cpu_seconds(server.pid)
    sims0 = cpu_seconds(server.sims_pid) if server.sims_pid else 0.0
    wall0 = time.monotonic()
    urls = [f"ws://127.0.0.1:{server.port}/{tag}-{i}/transport" for i in range(calls)]
    results = await asyncio.gather(*(one_call(url, {"type": "end-call"}) for url in urls))
    wall = time.monotonic() - wall0
    sampler.cancel()
    values = [v for r in results for v in r.v2v_ms if v is not None]
    missing = sum(v is None for r in results for v in r.v2v_ms)
    return {
        "calls": calls,
        "turns": len(values),
        "missing": missing,
        "p50": float(np.percentile(values, 50)) if values else float("nan"),
        "p95": float(np.percentile(values, 95)) if values else float("nan"),
        "peak_rss_mb": peak,
        "server_cpu": (cpu_seconds(server.pid) - cpu0) / wall,
        "sims_cpu": (cpu_seconds(server.sims_pid) - sims0) / wall if server.sims_pid else None,
    }


async def run_stack(stack: str, max_calls: int, workdir: Path) -> dict[str, Any]:
    async with running_server(stack, workdir) as server:
        await one_call(f"ws://127.0.0.1:{server.port}/warm/transport", {"type": "end-call"})  # models loaded
        idle = rss_mb(server.pid)
        rows = []
        for calls in range(1, max_calls + 1):
            row = await level(server, calls, f"{stack}-c{calls}")
            row["rss_per_call_mb"] = (row["peak_rss_mb"] - idle) / calls
            rows.append(row)
            print(stack, row, flush=True)
    held = max((r["calls"] for r in rows if r["p95"] < P95_BOUND_MS and not r["missing"]), default=0)
    return {"stack": stack, "idle_rss_mb": idle, "rows": rows, "held": held}


def table_row(label: str, r: dict[str, Any]) -> str:
    sims = f" {r['sims_cpu'] * 100:.0f} %" if r["sims_cpu"] is not None else " -"
    return (
        f"| {label} | {r['calls']} | {r['turns']} | {r['missing']} | {r['p50']:.0f} ms | {r['p95']:.0f} ms |"
        f" {r['peak_rss_mb']:.0f} MB | {r['rss_per_call_mb']:.0f} MB | {r['server_cpu'] * 100:.0f} % |{sims} |"
    )


def render(runs: list[dict[str, Any]], command: str) -> str:
    load = os.getloadavg()
    idle = ", ".join(f"{run['stack']} {run['idle_rss_mb']:.0f} MB" for run in runs)
    lines = [
        "## Concurrency (bench/concurrency.py)",
        "",
        f"    {command}",
        "",
        f"One server process, {os.cpu_count()} CPUs, load average at the end {load[0]:.1f} / {load[1]:.1f}."
        f" Idle server RSS after a first call: {idle}. CPU is the process's CPU time over the level's wall"
        " time (100 % = one core).",
        "",
        "| stack | simultaneous calls | turns | no reply | v2v p50 | v2v p95 | peak RSS | RSS per extra call"
        " (over idle) | server CPU | simulators CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [table_row(STACK_LABELS[run["stack"]], r) for run in runs for r in run["rows"]]
    lines.append("")
    lines += [f"Calls held with p95 < {P95_BOUND_MS:.0f} ms, {run['stack']}: **{run['held']}**." for run in runs]
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a few bytes, once
    stacks = ["embedded", "simulators"] if args.stack == "both" else [args.stack]
    runs = [await run_stack(stack, args.max_calls, workdir) for stack in stacks]
    report = render(runs, "python bench/concurrency.py " + " ".join(sys.argv[1:]))
    print(report)
    (workdir / "concurrency.json").write_text(json.dumps(runs, indent=1))
    if args.write_docs:
        write_docs_section("concurrency", report)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-calls", type=int, default=4)
    parser.add_argument(
        "--stack",
        choices=["embedded", "simulators", "both"],
        default="embedded",
        help="providers of the calls; both: embedded, then simulators, in one report",
    )
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--workdir", default=str(REPO / "data" / "bench"))
    asyncio.run(main(parser.parse_args()))
