"""How many simultaneous calls one server process holds on the embedded stack with p95 v2v < 1.5 s.

    .venv/bin/python bench/concurrency.py --max-calls 4 [--write-docs]

Runs 1, 2, ... simultaneous callers (each: greeting, then clips s1..s4 as in voice_to_voice.py)
against one server process, measures v2v at each caller, and reads the server's RSS from /proc to
give the memory each extra call costs. Every level up to --max-calls runs, so the curve shows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.voice_to_voice import REPO, one_call, wait_port  # noqa: E402
from tests.fixtures.caller import free_port  # noqa: E402

P95_BOUND_MS = 1500.0  # issue 4: "p95 voice-to-voice under 1.5 s"


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


async def level(port: int, pid: int, calls: int, tag: str) -> dict[str, Any]:
    peak = 0.0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_mb(pid))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    urls = [f"ws://127.0.0.1:{port}/{tag}-{i}/transport" for i in range(calls)]
    results = await asyncio.gather(*(one_call(url, {"type": "end-call"}) for url in urls))
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
    }


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    results = Path(args.workdir) / "concurrency-calls.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(  # noqa: ASYNC220 - spawns, never waits
        [sys.executable, str(REPO / "bench" / "voice_to_voice.py"), "--serve", str(port), "--results", str(results)],
        cwd=REPO,
        stderr=subprocess.DEVNULL,
    )
    rows = []
    try:
        await wait_port(port)
        await one_call(f"ws://127.0.0.1:{port}/warm/transport", {"type": "end-call"})  # models loaded
        idle = rss_mb(server.pid)
        for calls in range(1, args.max_calls + 1):
            row = await level(port, server.pid, calls, f"c{calls}")
            rows.append(row)
            print(row, flush=True)
    finally:
        server.terminate()
        server.wait(10)
    held = max((r["calls"] for r in rows if r["p95"] < P95_BOUND_MS and not r["missing"]), default=0)
    per_call = [(r["peak_rss_mb"] - idle) / r["calls"] for r in rows]
    lines = [
        "## Concurrency (bench/concurrency.py)",
        "",
        "    python bench/concurrency.py " + " ".join(sys.argv[1:]),
        "",
        f"One server process, embedded stack, {os.cpu_count()} CPUs, load average at the end"
        f" {os.getloadavg()[0]:.1f} / {os.getloadavg()[1]:.1f}. Idle RSS after a first call: {idle:.0f} MB.",
        "",
        "| simultaneous calls | turns | no reply | v2v p50 | v2v p95 | peak RSS | RSS per call over idle |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['calls']} | {r['turns']} | {r['missing']} | {r['p50']:.0f} ms | {r['p95']:.0f} ms |"
        f" {r['peak_rss_mb']:.0f} MB | {pc:.0f} MB |"
        for r, pc in zip(rows, per_call, strict=True)
    ]
    lines += ["", f"Calls held with p95 < {P95_BOUND_MS:.0f} ms: **{held}**."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write_docs:
        from bench.voice_to_voice import write_docs_section

        write_docs_section("concurrency", report)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-calls", type=int, default=4)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--workdir", default=str(REPO / "data" / "bench"))
    asyncio.run(main(parser.parse_args()))
