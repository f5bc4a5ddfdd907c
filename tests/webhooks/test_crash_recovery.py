"""A server killed mid-call (SIGKILL) and restarted: the call ends with a reason, its report arrives."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.fixtures.caller import WsCaller
from tests.fixtures.speech import load_clip
from tests.webhooks.receiver import running_receiver

REPO = Path(__file__).resolve().parents[2]


def spawn_server(data_dir: Path, port: int, key: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OPENCALL_DATA_DIR": str(data_dir), "OPENCALL_PORT": str(port), "OPENCALL_API_KEY": key,
           "OPENCALL_CALL_ORPHAN_SECONDS": "2"}
    process = subprocess.Popen([sys.executable, "-m", "opencall.cli", "serve"], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("server did not start")


async def test_call_live_when_the_server_dies_is_ended_and_reported_after_restart(tmp_path: Path) -> None:
    key, port = str(uuid.uuid4()), free_port()
    headers = {"Authorization": f"Bearer {key}"}
    base = f"http://127.0.0.1:{port}"
    first = spawn_server(tmp_path, port, key)
    api = httpx.AsyncClient(base_url=base, headers=headers, timeout=30)
    with running_receiver() as receiver:
        try:
            assistant_body = {"name": "crash", "firstMessage": "Acme Dental, how can I help?",
                              "server": {"url": receiver.url}}
            assistant = (await api.post("/assistant", json=assistant_body)).json()
            call_body = {"assistantId": assistant["id"], "transport": {"provider": "vapi.websocket"}}
            call = (await api.post("/call", json=call_body)).json()
            pcm, _, _ = load_clip("piper-joe_s1")
            async with WsCaller(call["transport"]["websocketCallUrl"]) as caller:
                sent = await caller.speak(pcm)
                await caller.wait_quiet(after=sent, quiet_seconds=0.5, timeout=40)
                # Kill once the caller's turn is stored, as a crash mid-conversation would find it.
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    live = (await api.get(f"/call/{call['id']}")).json()
                    if "User:" in ((live.get("artifact") or {}).get("transcript") or ""):
                        break
                    await asyncio.sleep(0.2)
                assert live["status"] == "in-progress"
                assert "User:" in live["artifact"]["transcript"], "the caller's turn was never stored"
                first.send_signal(signal.SIGKILL)
                await asyncio.to_thread(first.wait, 10)
        finally:
            first.kill()
        second = spawn_server(tmp_path, port, key)
        try:
            report = await asyncio.to_thread(receiver.wait_for, "end-of-call-report", 60)
            stored = (await api.get(f"/call/{call['id']}")).json()
        finally:
            second.terminate()
            second.wait(timeout=20)
            await api.aclose()
    assert stored["status"] == "ended"
    assert stored["endedReason"] == "call.in-progress.error-vapifault-worker-died"
    assert "User:" in stored["artifact"]["transcript"]  # what was said before the kill survived
    message = report.body["message"]
    assert message["endedReason"] == "call.in-progress.error-vapifault-worker-died"
    assert message["call"]["id"] == call["id"] and "User:" in message["transcript"]
