"""A customer's webhook server for tests: a real HTTP server on loopback that records what it gets.

It can be down for the first N requests (503), check an HMAC or a secret header, and answer
messages that expect a reply (`tool-calls`, `assistant-request`) from a script.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

from tests.conftest import free_port

Reply = Callable[[dict[str, Any]], Any]


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes

    @property
    def type(self) -> str:
        return str(self.body["message"]["type"])

    @property
    def message_id(self) -> str:
        return self.headers.get("x-message-id", "")


@dataclass
class Receiver:
    url: str
    fail_first: int = 0
    hmac_secret: str | None = None
    secret: str | None = None
    replies: dict[str, Reply] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    rejected: list[Received] = field(default_factory=list)
    attempts: int = 0

    def of_type(self, kind: str) -> list[Received]:
        return [r for r in self.received if r.type == kind]

    def wait_for(self, kind: str, timeout: float = 30.0) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.of_type(kind):
                return found[-1]
            time.sleep(0.05)
        raise AssertionError(f"no {kind} within {timeout} s; got {[r.type for r in self.received]}")

    def verify(self, headers: dict[str, str], raw: bytes) -> bool:
        if self.secret is not None and headers.get("x-vapi-secret") != self.secret:
            return False
        if self.hmac_secret is not None:
            timestamp = headers.get("x-timestamp", "")
            expected = hmac.new(self.hmac_secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, headers.get("x-signature", "")):
                return False
        return True


def receiver_app(state: Receiver) -> FastAPI:
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        item = Received(headers, json.loads(raw), raw)
        state.attempts += 1
        if state.attempts <= state.fail_first:
            return Response(status_code=503)
        if not state.verify(headers, raw):
            state.rejected.append(item)
            return Response(status_code=401)
        state.received.append(item)
        reply = state.replies.get(item.type)
        if reply is None:
            return Response(status_code=200)
        return Response(json.dumps(reply(item.body["message"])), media_type="application/json")

    return app


@contextmanager
def running_receiver(**options: Any) -> Iterator[Receiver]:
    port = free_port()
    state = Receiver(url=f"http://127.0.0.1:{port}/hook", **options)
    server = uvicorn.Server(uvicorn.Config(receiver_app(state), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=5)
