"""The small protocols every speech and language provider implements.

The engine talks to these and nothing else; which class stands behind them is chosen from the
assistant's `provider` fields by `providers.registry`. Audio is always 16-bit little-endian mono
PCM; each side says its own sample rate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class ProviderError(Exception):
    """A provider failed in a way that ends the call; `reason` is Vapi's `endedReason`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class UnsupportedProvider(ProviderError):
    """The assistant names a provider OpenCall stores but cannot run."""


# --- speech to text -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    is_final: bool
    confidence: float | None = None
    language: str | None = None


@runtime_checkable
class SttStream(Protocol):
    """One caller's audio, pushed as it arrives; transcripts come back on `transcripts()`."""

    async def push(self, pcm16: bytes) -> None: ...

    async def anticipate(self) -> None:
        """The caller may be stopping (the VAD lost the voice a moment ago): a transcriber that reads
        on demand may start reading what was pushed so far. If `finalize` follows with nothing pushed
        in between, that reading is the final transcript; any push makes it stale."""

    async def finalize(self) -> None:
        """The caller stopped speaking: emit the final transcript of what was pushed so far."""

    def transcripts(self) -> AsyncIterator[Transcript]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class SpeechToText(Protocol):
    provider: str
    supports_streaming: bool
    """True when partial transcripts arrive while the caller is still speaking."""

    def open_stream(self, sample_rate: int) -> SttStream: ...


# --- language model -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """An OpenAI Chat Completions request, already in wire form (messages, tools)."""

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    temperature: float | None = None
    max_tokens: int | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str


@dataclass(frozen=True, slots=True)
class ChatDone:
    finish_reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0


ChatEvent = TextDelta | ToolCallRequest | ChatDone


@runtime_checkable
class ChatModel(Protocol):
    provider: str

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        """Tokens as they come; complete tool calls once their arguments are whole; then ChatDone."""


# --- text to speech -----------------------------------------------------------------------------


@runtime_checkable
class TextToSpeech(Protocol):
    provider: str
    sample_rate: int

    def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """PCM16 chunks at `sample_rate` for one clause or sentence, first chunk as early as possible."""
