"""A Chat Completions simulator speaking OpenAI's wire protocol, with scripted replies.

`POST /v1/chat/completions` (and `/chat/completions`, for base URLs without `/v1`) answers from a
script: a list of turns consumed one per request, or a function of the request body. Streams use
OpenAI's chunk shapes: a first `{"role": "assistant"}` delta, one delta per token, tool calls whose
`arguments` JSON is split across chunks, a final delta with `finish_reason`, the usage chunk when
`stream_options.include_usage` is set, then `data: [DONE]`. Every request is recorded.

    python -m tests.sim.openai --port 8100 --api-key sk-test     # echoes the last user message
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.sim.server import port_argument, serve_asgi


@dataclass(frozen=True)
class Reply:
    """A text answer, streamed one word-piece per chunk."""

    text: str
    ttft_s: float = 0.0
    chunk_delay_s: float = 0.0


@dataclass(frozen=True)
class Call:
    name: str
    arguments: Mapping[str, Any]
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:24]}")


@dataclass(frozen=True)
class ToolCalls:
    """The model asks for tools; each call's arguments JSON arrives in `pieces` chunks."""

    calls: Sequence[Call]
    pieces: int = 3
    ttft_s: float = 0.0


@dataclass(frozen=True)
class Failure:
    """An HTTP error with OpenAI's error body."""

    status: int
    message: str = ""


Turn = Reply | ToolCalls | Failure
Script = Sequence[Turn] | Callable[[dict[str, Any]], Turn]

# Error bodies as OpenAI sends them (type/code per status, from the API's error reference).
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    429: ("insufficient_quota", "insufficient_quota", "You exceeded your current quota."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def echo(body: dict[str, Any]) -> Turn:
    """Default script: repeat the caller's last words, so runs are deterministic."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    said = str(users[-1].get("content") or "") if users else ""
    return Reply(f"You said: {said}" if said else "Hello! How can I help you today?")


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class OpenAISim:
    def __init__(self, script: Script = echo, api_key: str | None = None) -> None:
        self.script = script
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self._turn = 0
        routes = [Route(p, self._completions, methods=["POST"]) for p in ("/v1/chat/completions", "/chat/completions")]
        self.app = Starlette(routes=routes)

    @contextlib.asynccontextmanager
    async def serve(self, port: int = 0) -> AsyncIterator[str]:
        """`async with sim.serve() as url:` -> url is the OpenAI base URL (ends in /v1)."""
        async with serve_asgi(self.app, port) as url:
            yield url + "/v1"

    def _next_turn(self, body: dict[str, Any]) -> Turn:
        if callable(self.script):
            return self.script(body)
        if self._turn >= len(self.script):
            return Failure(500, f"simulator script exhausted after {len(self.script)} turns")
        turn = self.script[self._turn]
        self._turn += 1
        return turn

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(Failure(401))
        turn = self._next_turn(body)
        if isinstance(turn, Failure):
            return _error(turn)
        model = str(body.get("model") or "gpt-4o-mini")
        if not body.get("stream"):
            return JSONResponse(_completion(turn, model))
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(_sse(turn, model, usage), media_type="text/event-stream")


def _error(failure: Failure) -> JSONResponse:
    kind, code, default = _ERRORS.get(failure.status, ("invalid_request_error", None, "Request failed."))
    error = {"message": failure.message or default, "type": kind, "param": None, "code": code}
    return JSONResponse({"error": error}, status_code=failure.status)


def word_pieces(text: str) -> list[str]:
    """Token-like pieces: each word with its leading space, as OpenAI's deltas usually are."""
    return re.findall(r"\s*\S+", text) or [text]


def _split(text: str, pieces: int) -> list[str]:
    size = max(1, -(-len(text) // max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class _Chunks:
    def __init__(self, model: str, usage: bool) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:29]}"
        self.created = int(time.time())
        self.model = model
        self.usage = usage

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> str:
        payload: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_opencall_sim",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self.usage:
            payload["usage"] = None
        return f"data: {json.dumps(payload)}\n\n"

    def usage_chunk(self, prompt: int, completion: int) -> str:
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        payload = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_opencall_sim",
            "choices": [],
            "usage": usage,
        }
        return f"data: {json.dumps(payload)}\n\n"


async def _sse(turn: Reply | ToolCalls, model: str, usage: bool) -> AsyncIterator[str]:
    out = _Chunks(model, usage)
    await asyncio.sleep(turn.ttft_s)
    completion = 0
    if isinstance(turn, Reply):
        yield out.chunk({"role": "assistant", "content": "", "refusal": None})
        for piece in word_pieces(turn.text):
            await asyncio.sleep(turn.chunk_delay_s)
            completion += 1
            yield out.chunk({"content": piece})
        yield out.chunk({}, "stop")
    else:
        for index, call in enumerate(turn.calls):
            head = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            delta: dict[str, Any] = {"tool_calls": [head]}
            if index == 0:
                delta = {"role": "assistant", "content": None, **delta}
            yield out.chunk(delta)
            for piece in _split(json.dumps(dict(call.arguments)), turn.pieces):
                completion += 1
                yield out.chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield out.chunk({}, "tool_calls")
    if usage:
        yield out.usage_chunk(prompt=10, completion=completion)
    yield "data: [DONE]\n\n"


def _completion(turn: Reply | ToolCalls, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if isinstance(turn, Reply):
        message["content"] = turn.text
        finish = "stop"
    else:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(dict(c.arguments))},
            }
            for c in turn.calls
        ]
        finish = "tool_calls"
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


async def _main() -> None:
    args = port_argument("OpenAI Chat Completions simulator (echo script)").parse_args()
    sim = OpenAISim(api_key=args.api_key)
    async with sim.serve(args.port) as url:
        print(f"OpenAI simulator at {url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
