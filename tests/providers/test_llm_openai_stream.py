"""The chunk parser on shapes real servers send besides OpenAI's own."""

from __future__ import annotations

from typing import Any

import pytest

from opencall.providers.base import ChatDone, ChatEvent, TextDelta, ToolCallRequest
from opencall.providers.llm.openai_stream import ChunkParser, UpstreamError


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def parse(*chunks: dict[str, Any]) -> list[ChatEvent]:
    parser = ChunkParser()
    events = [event for c in chunks for event in parser.feed(c)]
    return events + parser.finish()


def test_arguments_sent_as_an_object_are_taken_as_is() -> None:
    events = parse(
        chunk({"tool_calls": [{"index": 0, "id": "t1", "function": {"name": "book", "arguments": {"day": "Mon"}}}]}),
        chunk({}, "tool_calls"),
    )
    assert events == [
        ToolCallRequest(id="t1", name="book", arguments={"day": "Mon"}, raw_arguments='{"day": "Mon"}'),
        ChatDone(finish_reason="tool_calls"),
    ]


def test_a_second_tool_index_completes_the_first_before_the_stream_ends() -> None:
    parser = ChunkParser()
    assert (
        parser.feed(chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "x", "arguments": "{}"}}]}))
        == []
    )
    second = parser.feed(chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "y", "arguments": "{"}}]}))
    assert second == [ToolCallRequest(id="a", name="x", arguments={}, raw_arguments="{}")]


def test_legacy_function_call_without_id_gets_an_id_and_broken_json_keeps_its_raw_text() -> None:
    events = parse(
        chunk({"function_call": {"name": "lookup", "arguments": '{"name": "Ann"'}}),
        chunk({"content": "ok"}, "function_call"),
    )
    call = events[1]
    assert events[0] == TextDelta("ok")
    assert isinstance(call, ToolCallRequest) and call.id.startswith("call_")
    assert (call.name, call.arguments, call.raw_arguments) == ("lookup", {}, '{"name": "Ann"')


def test_usage_chunk_and_stray_choices() -> None:
    events = parse(
        {"choices": [{"index": 1, "delta": {"content": "other choice"}}]},
        chunk({"content": "Hi"}, "stop"),
        {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 1}},
    )
    assert events == [TextDelta("Hi"), ChatDone(finish_reason="stop", prompt_tokens=7, completion_tokens=1)]


def test_error_object_in_the_stream_raises() -> None:
    with pytest.raises(UpstreamError, match="overloaded"):
        ChunkParser().feed({"error": {"message": "model overloaded", "type": "server_error"}})
