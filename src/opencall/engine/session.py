"""The seam between the API layer and a call in real time.

The API layer resolves the assistant (overrides and {{variables}} applied), accepts the transport
and hands over a `CallSetup`, a `CallSink` that persists and routes what the call produces, and
optionally a `ToolRunner`. The engine never imports `api` or `store`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from opencall.providers.base import ToolCallRequest


@dataclass
class AudioFormat:
    encoding: Literal["pcm_s16le", "mulaw"]
    sample_rate: int


@dataclass
class CallSetup:
    call_id: str
    org_id: str
    assistant: dict[str, Any]
    """Resolved Vapi assistant JSON (camelCase): overrides and {{variables}} already applied."""
    audio_format: AudioFormat
    started_at: datetime | None = None


class CallSink(Protocol):
    async def started(self, at: datetime) -> None: ...

    async def progress(self, messages: list[dict[str, Any]], artifact: dict[str, Any]) -> None:
        """After every turn, so a crash keeps what was said."""

    async def ended(
        self,
        reason: str,
        at: datetime,
        messages: list[dict[str, Any]],
        artifact: dict[str, Any],
        detail: str | None,
    ) -> None: ...

    async def event(self, message: dict[str, Any]) -> None:
        """Every Vapi message {"type": ...} the call produces (speech-update, transcript, tool-calls, ...)."""


class ToolRunner(Protocol):
    async def run(self, call: ToolCallRequest, tool_config: dict[str, Any]) -> str:
        """Run one function tool; the returned string is the result the model sees."""


class AudioOut(Protocol):
    """The transport's outbound audio, paced by the transport's own clock.

    The engine writes PCM16 at `sample_rate` as fast as it is made; the transport sends it in real
    time with a small lead. `sent_seconds` counts audio actually handed to the caller.
    """

    sample_rate: int

    def write(self, pcm16: bytes) -> None: ...

    def clear(self) -> None:
        """Drop everything queued (barge-in)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    @property
    def sent_seconds(self) -> float: ...

    @property
    def queued_seconds(self) -> float: ...
