"""The one parser of OpenAI `chat.completion.chunk` objects into our chat events.

Every LLM path ends here: cloud and custom-llm streams (SSE over HTTP) and the embedded llama.cpp
model (whose `create_chat_completion(stream=True)` yields the same chunk dicts). Keeping one parser
means a tool call split across chunks is assembled the same way whoever produced it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opencall.providers.base import ChatDone, ChatEvent, TextDelta, ToolCallRequest

log = logging.getLogger(__name__)


class UpstreamError(Exception):
    """The stream itself carried an error object (OpenAI sends `{"error": {...}}` mid-stream)."""


@dataclass(slots=True)
class _PendingToolCall:
    id: str = ""
    name: str = ""
    fragments: list[str] = field(default_factory=list)
    whole_arguments: dict[str, Any] | None = None
    """Set when a server sent `arguments` as an object instead of a JSON string."""

    def add(self, delta: Mapping[str, Any]) -> None:
        if delta.get("id"):
            self.id = str(delta["id"])
        function = delta.get("function") or {}
        if function.get("name"):
            # Names arrive once on OpenAI, but some servers repeat or split them; keep the longest.
            name = str(function["name"])
            self.name = name if name.startswith(self.name) else self.name + name
        arguments = function.get("arguments")
        if isinstance(arguments, Mapping):
            self.whole_arguments = dict(arguments)
        elif isinstance(arguments, str):
            self.fragments.append(arguments)

    def complete(self) -> ToolCallRequest:
        if self.whole_arguments is not None:
            raw = json.dumps(self.whole_arguments)
            arguments = self.whole_arguments
        else:
            raw = "".join(self.fragments)
            arguments = _decode_arguments(raw, self.name)
        call_id = self.id or f"call_{uuid.uuid4().hex[:24]}"
        return ToolCallRequest(id=call_id, name=self.name, arguments=arguments, raw_arguments=raw)


def _decode_arguments(raw: str, name: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        # Models do emit broken JSON; the raw text still reaches the tool server, as on Vapi.
        log.warning("tool call %s: arguments are not valid JSON: %.200s", name, raw)
        return {}
    if isinstance(value, dict):
        return value
    log.warning("tool call %s: arguments are JSON but not an object: %.200s", name, raw)
    return {}


class ChunkParser:
    """Feed chunks in order; collect events; call `finish()` once the stream ends."""

    def __init__(self) -> None:
        self._tool_calls: dict[int, _PendingToolCall] = {}
        self._emitted: set[int] = set()
        self._finish_reason: str | None = None
        self._prompt_tokens = 0
        self._completion_tokens = 0

    def feed(self, chunk: Mapping[str, Any]) -> list[ChatEvent]:
        if chunk.get("error"):
            raise UpstreamError(_error_text(chunk["error"]))
        usage = chunk.get("usage")
        if isinstance(usage, Mapping):
            self._prompt_tokens = int(usage.get("prompt_tokens") or 0)
            self._completion_tokens = int(usage.get("completion_tokens") or 0)
        events: list[ChatEvent] = []
        for choice in chunk.get("choices") or ():
            if int(choice.get("index") or 0) != 0:
                continue  # we never ask for n > 1; ignore stray choices rather than mix them in
            events.extend(self._feed_delta(choice.get("delta") or {}))
            if choice.get("finish_reason"):
                self._finish_reason = str(choice["finish_reason"])
        return events

    def _feed_delta(self, delta: Mapping[str, Any]) -> list[ChatEvent]:
        events: list[ChatEvent] = []
        content = delta.get("content")
        if isinstance(content, str) and content:
            events.append(TextDelta(content))
        tool_calls = list(delta.get("tool_calls") or ())
        legacy = delta.get("function_call")
        if legacy:
            # The deprecated `functions` API (still emitted by some llama.cpp chat handlers).
            tool_calls.append({"index": 0, "function": legacy})
        for tool_delta in tool_calls:
            index = int(tool_delta.get("index") or 0)
            if index not in self._tool_calls:
                # OpenAI streams tool calls one after another: a new index closes the earlier ones.
                events.extend(self._complete(below=index))
                self._tool_calls[index] = _PendingToolCall()
            self._tool_calls[index].add(tool_delta)
        return events

    def _complete(self, below: int | None = None) -> list[ChatEvent]:
        done: list[ChatEvent] = []
        for index in sorted(self._tool_calls):
            if index in self._emitted or (below is not None and index >= below):
                continue
            self._emitted.add(index)
            done.append(self._tool_calls[index].complete())
        return done

    def finish(self) -> list[ChatEvent]:
        """The stream ended (`[DONE]` or end of iteration): flush tool calls, then ChatDone."""
        events = self._complete()
        events.append(
            ChatDone(
                finish_reason=self._finish_reason,
                prompt_tokens=self._prompt_tokens,
                completion_tokens=self._completion_tokens,
            )
        )
        return events


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        return str(error.get("message") or error)
    return str(error)


async def parse_chunks(chunks: AsyncIterator[Mapping[str, Any]]) -> AsyncGenerator[ChatEvent, None]:
    """Chat events from an async stream of chunk dicts; ChatDone comes last.

    Closing this generator closes `chunks` at once (an `async for` would leave it to the garbage
    collector), so a barge-in that drops the reply stops the producer too.
    """
    parser = ChunkParser()
    try:
        async for chunk in chunks:
            for event in parser.feed(chunk):
                yield event
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    for event in parser.finish():
        yield event
