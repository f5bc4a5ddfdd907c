"""One assistant reply: model tokens -> clauses for the voice, with tool rounds in between.

A reply may be speculative (asked before the caller's turn is confirmed over). It streams text
freely, but runs no tool until `released` is set: a side effect must not happen for a turn the
caller had not finished.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from opencall.engine.clauses import ClauseSplitter
from opencall.engine.record import CallRecord
from opencall.engine.session import ToolRunner
from opencall.engine.tools import END_CALL, ToolSet, vapi_tool_call
from opencall.providers.base import ChatDone, ChatModel, ProviderError, TextDelta, ToolCallRequest
from opencall.providers.registry import model_request

MAX_TOOL_ROUNDS = 4  # a model that keeps calling tools is cut off after this many rounds
ENDED_CALL_RESULT = "The call is ending."


@dataclass
class ReplyOutcome:
    text: str = ""
    end_reason: str | None = None
    """Set when this reply should end the call once it has been heard."""


@dataclass
class ReplyTimings:
    request_at: float = 0.0
    first_token_at: float = 0.0


@dataclass
class ReplyWriter:
    """Everything a reply needs from the call; one instance per call."""

    llm: ChatModel
    model_config: dict[str, Any]
    """The assistant's `model` object; requests are built from it by the registry."""
    tools: ToolSet
    runner: ToolRunner | None
    record: CallRecord
    end_call_phrases: tuple[str, ...]
    end_call_message: str | None
    say: Callable[[int, str], Awaitable[None]]
    """Queue one clause of reply `id` for the voice."""
    emit: Callable[[dict[str, Any]], Awaitable[None]]
    timings: dict[int, ReplyTimings] = field(default_factory=dict)

    async def prewarm(self, pending_user: str | None) -> None:
        """Let a model that keeps a prompt cache read the next request's prompt ahead of time.

        The history is read when a reply ends and the caller's words so far on each partial
        transcript, so the request at the end of the turn only reads its last few tokens (SmolLM2 on
        one thread reads ~150 tokens/s: a 30-token reply plus the user's words cost ~200 ms of TTFT).
        """
        prewarm = getattr(self.llm, "prewarm", None)  # local models only: a cloud model bills it
        if prewarm is not None:
            await prewarm(model_request(self.model_config, messages=self.record.model_messages(pending_user)))

    async def write(self, reply_id: int, pending_user: str | None, released: asyncio.Event) -> ReplyOutcome:
        outcome = ReplyOutcome()
        timings = self.timings.setdefault(reply_id, ReplyTimings())
        splitter = ClauseSplitter()
        spoken: list[str] = []
        for _round in range(MAX_TOOL_ROUNDS):
            # Once released, the conductor has committed the user turn to the record.
            messages = self.record.model_messages(None if released.is_set() else pending_user)
            calls = await self._stream(reply_id, messages, splitter, spoken, timings, outcome)
            if outcome.end_reason or not calls:
                break
            await released.wait()
            if not await self._run_tools(reply_id, calls, spoken, outcome):
                break
        for clause in splitter.flush():
            await self._say(reply_id, clause, spoken, outcome)
        outcome.text = " ".join(spoken)
        return outcome

    async def _stream(
        self,
        reply_id: int,
        messages: list[dict[str, Any]],
        splitter: ClauseSplitter,
        spoken: list[str],
        timings: ReplyTimings,
        outcome: ReplyOutcome,
    ) -> list[ToolCallRequest]:
        request = model_request(self.model_config, messages=messages)
        loop = asyncio.get_running_loop()
        timings.request_at = timings.request_at or loop.time()
        calls: list[ToolCallRequest] = []
        async for event in self.llm.stream(request):
            if isinstance(event, TextDelta) and event.text:
                timings.first_token_at = timings.first_token_at or loop.time()
                await self.emit({"type": "model-output", "output": event.text, "turnId": str(reply_id)})
                for clause in splitter.feed(event.text):
                    await self._say(reply_id, clause, spoken, outcome)
                    if outcome.end_reason:
                        return []
            elif isinstance(event, ToolCallRequest):
                timings.first_token_at = timings.first_token_at or loop.time()
                calls.append(event)
            elif isinstance(event, ChatDone):
                break
        return calls

    async def _say(self, reply_id: int, clause: str, spoken: list[str], outcome: ReplyOutcome) -> None:
        spoken.append(clause)
        await self.say(reply_id, clause)
        said = " ".join(spoken).lower()
        if any(phrase and phrase in said for phrase in self.end_call_phrases):
            outcome.end_reason = "assistant-said-end-call-phrase"

    async def _run_tools(
        self, reply_id: int, calls: list[ToolCallRequest], spoken: list[str], outcome: ReplyOutcome
    ) -> bool:
        """Run the round's tool calls; True when the model should be asked again with the results."""
        loop = asyncio.get_running_loop()
        wire = [vapi_tool_call(c) for c in calls]
        self.record.add_tool_calls(wire, loop.time())
        await self.emit(
            {
                "type": "tool-calls",
                "toolCallList": wire,
                "toolWithToolCallList": [
                    {**self.tools.configs.get(c.name, {}), "toolCall": w} for c, w in zip(calls, wire, strict=True)
                ],
            }
        )
        ask_again = False
        for call in calls:
            if call.name == END_CALL:
                result = ENDED_CALL_RESULT
                outcome.end_reason = "assistant-ended-call"
            elif call.name in self.tools.configs and self.runner is not None:
                try:
                    result = await self.runner.run(call, self.tools.configs[call.name])
                except ProviderError:
                    raise
                except Exception as exc:  # a tool runner's failure is the model's problem, not the call's
                    result = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
                ask_again = True
            else:
                result = json.dumps({"error": f"unknown tool {call.name}"})
                ask_again = True
            self.record.add_tool_result(call.id, call.name, result, loop.time())
            await self.emit(
                {
                    "type": "tool-calls-result",
                    "toolCallResult": {"toolCallId": call.id, "name": call.name, "result": result},
                }
            )
        if outcome.end_reason == "assistant-ended-call" and self.end_call_message:
            await self._say(reply_id, self.end_call_message, spoken, outcome)
            outcome.end_reason = "assistant-ended-call"
        return ask_again and outcome.end_reason is None
