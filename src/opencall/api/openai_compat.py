"""`POST /v1/chat/completions`: the embedded LLM behind the OpenAI wire format.

So an assistant can point a `custom-llm` model at this server (or any OpenAI client at it), and the
embedded model is reached through the same path as every cloud LLM. Streams are SSE
(`data: {chunk}` ... `data: [DONE]`), non-streamed answers a `chat.completion` object. Fields Vapi
adds for custom LLMs (`call`, `metadata`, `customer`, `phoneNumber`) are accepted and ignored.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from opencall.providers.base import (
    ChatDone,
    ChatModel,
    ChatRequest,
    ProviderError,
    TextDelta,
    ToolCallRequest,
)
from opencall.providers.llm.local_llama import LocalLlama
from opencall.settings import Settings

router = APIRouter(tags=["OpenAI-compatible"])


class ChatMessage(BaseModel):
    """One message; only its role is checked here (an unknown or missing role is OpenAI's 400 too),
    everything else reaches the model as sent."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]


class ChatCompletionRequest(BaseModel):
    """The part of OpenAI's request body the embedded model honours; other fields are ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = "opencall-llama"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    """OpenAI's newer name for max_tokens; wins when both are given."""
    tools: list[dict[str, Any]] | None = None
    stream_options: dict[str, Any] | None = None


def embedded_model(request: Request) -> ChatModel:
    """The shared embedded model; override with `app.dependency_overrides` to serve another."""
    settings = getattr(request.app.state, "settings", None)
    return LocalLlama(settings if isinstance(settings, Settings) else Settings())


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, model: ChatModel = Depends(embedded_model)
) -> StreamingResponse | JSONResponse:
    request = ChatRequest(
        model=body.model,
        messages=[message.model_dump() for message in body.messages],
        tools=body.tools or [],
        temperature=body.temperature,
        max_tokens=body.max_completion_tokens or body.max_tokens,
    )
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        return StreamingResponse(
            _sse(model, request, completion_id, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )
    try:
        return JSONResponse(await _complete(model, request, completion_id))
    except ProviderError as exc:
        return JSONResponse(_error_body(exc), status_code=500)


def _chunk(
    completion_id: str, model: str, delta: dict[str, Any], finish: str | None = None
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _data(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


async def _sse(
    model: ChatModel, request: ChatRequest, completion_id: str, include_usage: bool
) -> AsyncIterator[str]:
    name = request.model
    yield _data(_chunk(completion_id, name, {"role": "assistant", "content": ""}))
    tool_index = 0
    try:
        async for event in model.stream(request):
            if isinstance(event, TextDelta):
                yield _data(_chunk(completion_id, name, {"content": event.text}))
            elif isinstance(event, ToolCallRequest):
                yield _data(_chunk(completion_id, name, {"tool_calls": [_tool_call(event, tool_index)]}))
                tool_index += 1
            elif isinstance(event, ChatDone):
                yield _data(_chunk(completion_id, name, {}, _finish_reason(event, tool_index)))
                if include_usage:
                    yield _data({**_chunk(completion_id, name, {}), "choices": [], "usage": _usage(event)})
    except ProviderError as exc:
        # Headers are gone already; OpenAI reports mid-stream failures as an `error` data event.
        yield _data(_error_body(exc))
    yield "data: [DONE]\n\n"


async def _complete(model: ChatModel, request: ChatRequest, completion_id: str) -> dict[str, Any]:
    text: list[str] = []
    calls: list[dict[str, Any]] = []
    done = ChatDone(finish_reason="stop")
    async for event in model.stream(request):
        if isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, ToolCallRequest):
            calls.append(_tool_call(event, len(calls)))
        elif isinstance(event, ChatDone):
            done = event
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
    if calls:
        message["tool_calls"] = [{k: v for k, v in call.items() if k != "index"} for call in calls]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish_reason(done, len(calls)),
            }
        ],
        "usage": _usage(done),
    }


def _tool_call(event: ToolCallRequest, index: int) -> dict[str, Any]:
    return {
        "index": index,
        "id": event.id,
        "type": "function",
        "function": {"name": event.name, "arguments": event.raw_arguments},
    }


def _finish_reason(done: ChatDone, tool_calls: int) -> str:
    if tool_calls and done.finish_reason in (None, "stop"):
        return "tool_calls"
    return done.finish_reason or "stop"


def _usage(done: ChatDone) -> dict[str, int]:
    total = done.prompt_tokens + done.completion_tokens
    return {
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
        "total_tokens": total,
    }


def _error_body(exc: ProviderError) -> dict[str, Any]:
    return {
        "error": {
            "message": exc.detail or exc.reason,
            "type": "server_error",
            "param": None,
            "code": exc.reason,
        }
    }
