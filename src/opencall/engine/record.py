"""The conversation as Vapi stores it: messages, OpenAI-formatted messages, transcript, metrics.

Times: `time`/`endTime` are epoch milliseconds, `secondsFromStart` counts from the call start,
as in Vapi's UserMessage/BotMessage (vapi-api.md §3.8).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from statistics import fmean
from typing import Any


@dataclass(slots=True)
class TurnLatency:
    """One user turn -> first reply audio, in ms (Vapi PerformanceMetrics.turnLatencies[])."""

    modelLatency: float  # noqa: N815 - Vapi's wire names
    voiceLatency: float  # noqa: N815
    transcriberLatency: float  # noqa: N815
    endpointingLatency: float  # noqa: N815
    turnLatency: float  # noqa: N815


@dataclass
class CallRecord:
    started_wall: float = field(default_factory=time.time)
    """Epoch seconds of the call start."""
    started_mono: float = 0.0
    """The same instant on the engine's monotonic clock."""
    system_messages: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    openai: list[dict[str, Any]] = field(default_factory=list)
    """Chat Completions history after the system prompt; what the model sees next turn."""
    turn_latencies: list[TurnLatency] = field(default_factory=list)
    from_transport_ms: list[float] = field(default_factory=list)
    to_transport_ms: list[float] = field(default_factory=list)
    num_user_interrupted: int = 0
    num_assistant_interrupted: int = 0
    assistant_name: str = "AI"
    user_name: str = "User"

    def epoch_ms(self, mono: float) -> int:
        return int((self.started_wall + (mono - self.started_mono)) * 1000)

    def _timing(self, start: float, end: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": self.epoch_ms(start),
            "secondsFromStart": round(max(0.0, start - self.started_mono), 3),
        }
        if end is not None:
            out["endTime"] = self.epoch_ms(end)
            out["duration"] = int(max(0.0, end - start) * 1000)
        return out

    def add_system(self, content: str) -> None:
        self.system_messages.append({"role": "system", "content": content})
        self.messages.append({"role": "system", "message": content, **self._timing(self.started_mono)})

    def add_user(self, text: str, start: float, end: float) -> None:
        self.messages.append({"role": "user", "message": text, **self._timing(start, end)})
        self.openai.append({"role": "user", "content": text})

    def retract_last_user(self, text: str) -> bool:
        """Take back the user turn just added (its reply was never heard: the caller went on)."""
        if not self.messages or self.messages[-1].get("role") != "user" or self.messages[-1].get("message") != text:
            return False
        self.messages.pop()
        if self.openai and self.openai[-1] == {"role": "user", "content": text}:
            self.openai.pop()
        return True

    def add_bot(self, text: str, start: float, end: float, source: str = "model") -> dict[str, Any]:
        msg = {"role": "bot", "message": text, "source": source, **self._timing(start, end)}
        self.messages.append(msg)
        self.openai.append({"role": "assistant", "content": text})
        return msg

    def add_tool_calls(self, calls: list[dict[str, Any]], at: float) -> None:
        self.messages.append({"role": "tool_calls", "toolCalls": calls, "message": "", **self._timing(at)})
        wire = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["function"]["name"], "arguments": json.dumps(c["function"]["arguments"])},
            }
            for c in calls
        ]
        self.openai.append({"role": "assistant", "content": None, "tool_calls": wire})

    def add_tool_result(self, call_id: str, name: str, result: str, at: float) -> None:
        self.messages.append(
            {"role": "tool_call_result", "toolCallId": call_id, "name": name, "result": result, **self._timing(at)}
        )
        self.openai.append({"role": "tool", "tool_call_id": call_id, "content": result})

    def model_messages(self, pending_user: str | None = None) -> list[dict[str, Any]]:
        """System prompt + history (+ the user turn not yet committed), for the next model request."""
        extra = [{"role": "user", "content": pending_user}] if pending_user else []
        return [*self.system_messages, *self.openai, *extra]

    def transcript(self) -> str:
        lines = []
        for m in self.messages:
            if m["role"] == "bot" and m["message"]:
                lines.append(f"{self.assistant_name}: {m['message']}")
            elif m["role"] == "user":
                lines.append(f"{self.user_name}: {m['message']}")
        return "\n".join(lines)

    def performance_metrics(self) -> dict[str, Any]:
        turns = [asdict(t) for t in self.turn_latencies]

        def avg(key: str) -> float | None:
            return round(fmean(t[key] for t in turns), 1) if turns else None

        return {
            "turnLatencies": turns,
            "modelLatencyAverage": avg("modelLatency"),
            "voiceLatencyAverage": avg("voiceLatency"),
            "transcriberLatencyAverage": avg("transcriberLatency"),
            "endpointingLatencyAverage": avg("endpointingLatency"),
            "turnLatencyAverage": avg("turnLatency"),
            "fromTransportLatencyAverage": round(fmean(self.from_transport_ms), 2) if self.from_transport_ms else None,
            "toTransportLatencyAverage": round(fmean(self.to_transport_ms), 2) if self.to_transport_ms else None,
            "numUserInterrupted": self.num_user_interrupted,
            "numAssistantInterrupted": self.num_assistant_interrupted,
        }

    def artifact(self) -> dict[str, Any]:
        return {
            "messages": list(self.messages),
            "messagesOpenAIFormatted": self.model_messages(),
            "transcript": self.transcript(),
            "performanceMetrics": self.performance_metrics(),
        }
