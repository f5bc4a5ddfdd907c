"""What the benchmarks share: the clips and the assistant, one call's result, child processes.

Every server a benchmark measures runs in a child process of its own, so the caller's clock and the
simulators never share a GIL (or an RSS reading) with the engine under test.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CLIPS = ["piper-joe_s1", "piper-joe_s2", "piper-joe_s3", "piper-joe_s4"]
QUIET_AFTER_REPLY_S = 1.2  # the baseline harness's rule for "the bot is done"
SYSTEM_PROMPT = "You are the phone receptionist for Acme Dental. Reply in one short sentence."
GREETING = "Acme Dental, how can I help?"
ASSISTANT: dict[str, Any] = {
    "firstMessage": GREETING,
    "transcriber": {"provider": "vapi"},
    "model": {
        "provider": "vapi",
        "model": "smollm2-135m",
        "messages": [{"role": "system", "content": SYSTEM_PROMPT}],
    },
    "voice": {"provider": "vapi", "voiceId": "joe"},
}
"""The embedded stack: Whisper tiny.en, SmolLM2-135M, Piper joe."""

# Model libraries must not phone home or look for updates while they are being timed.
QUIET_ENV = {"ORT_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}


@dataclass
class CallResult:
    v2v_ms: list[float | None] = field(default_factory=list)
    """One per clip; None when no reply was heard."""
    heard_ms: list[float | None] = field(default_factory=list)
    """Phone line only: the same turn up to when the callee's loudspeaker played the reply."""
    talked_over: int = 0
    """Replies still playing when the caller's wait for quiet ran out, so the next clip spoke over them."""


def still_talking(last_voiced: float | None) -> bool:
    """After a wait for quiet: a reply was heard and had not been quiet for QUIET_AFTER_REPLY_S."""
    return last_voiced is not None and time.monotonic() - last_voiced <= QUIET_AFTER_REPLY_S


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a child with its output in `log` (a child writing to a full pipe would stall)."""
    full_env = {**os.environ, **QUIET_ENV, **(env or {})}
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=full_env)


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


async def wait_port(port: int, timeout: float = 120, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until something listens on `port`; fails early if `proc`, the child meant to listen, died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening on {port}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise TimeoutError(f"nothing listening on {port}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process, all its threads (fields 14-15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_idle(pid: int, below: float = 0.1, window_s: float = 1.0, timeout: float = 30.0) -> None:
    """Until the process used less than `below` of a core over `window_s` (or `timeout` passed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(window_s)
        if cpu_seconds(pid) - before < below * window_s:
            return


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024
