"""LLM configurations (`assistant.model`), discriminated by `provider`.

All 17 Vapi providers plus OpenCall's embedded `opencall-llama`. OpenCall runs `opencall-llama`, `openai`
and `custom-llm` (any OpenAI-compatible URL), typed here with the spec's limits; the other providers are
accepted and stored verbatim (`PassthroughModel`) with the common fields still checked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from opencall.schemas import base
from opencall.schemas.common import ToolRef, canonical_vapi_provider, union_members
from opencall.schemas.tools import CreateToolDTO

OPENAI_MODEL_IDS: frozenset[str] = frozenset(
    """
gpt-5.6-sol gpt-5.6-terra gpt-5.6-luna gpt-5.5 chat-latest gpt-5.4 gpt-5.4-mini gpt-5.4-nano gpt-5.2
gpt-5.2-chat-latest gpt-5.1 gpt-5.1-chat-latest gpt-5 gpt-5-chat-latest gpt-5-mini gpt-5-nano
gpt-4.1-2025-04-14 gpt-4.1-mini-2025-04-14 gpt-4.1-nano-2025-04-14 gpt-4.1 gpt-4.1-mini gpt-4.1-nano
chatgpt-4o-latest o3 o3-mini o4-mini o1-mini o1-mini-2024-09-12 gpt-4o-realtime-preview-2024-10-01
gpt-4o-realtime-preview-2024-12-17 gpt-4o-mini-realtime-preview-2024-12-17 gpt-realtime-2025-08-28
gpt-realtime-mini-2025-12-15 gpt-realtime-2 gpt-4o-mini-2024-07-18 gpt-4o-mini gpt-4o gpt-4o-2024-05-13
gpt-4o-2024-08-06 gpt-4o-2024-11-20 gpt-4-turbo gpt-4-turbo-2024-04-09 gpt-4-turbo-preview
gpt-4-0125-preview gpt-4-1106-preview gpt-4 gpt-4-0613 gpt-3.5-turbo gpt-3.5-turbo-0125 gpt-3.5-turbo-1106
gpt-3.5-turbo-16k gpt-3.5-turbo-0613 gpt-5.6-luna:westus3 gpt-5.6-terra:westus3 gpt-5.6-sol:westus3
gpt-5.4:eastus2 gpt-5.4:swedencentral gpt-5.4-mini:eastus2 gpt-5.4-mini:swedencentral gpt-5.4-nano:eastus2
gpt-5.4-nano:swedencentral gpt-5.2:eastus2 gpt-5.2:swedencentral gpt-5.1:eastus2 gpt-5.1:swedencentral
gpt-5:eastus2 gpt-5:swedencentral gpt-5:canadaeast gpt-5:eastus gpt-5:westeurope gpt-5:germanywestcentral
gpt-5:polandcentral gpt-5:spaincentral gpt-5-mini:eastus2 gpt-5-mini:swedencentral gpt-5-mini:westeurope
gpt-5-mini:germanywestcentral gpt-5-mini:polandcentral gpt-5-mini:spaincentral gpt-5-nano:eastus2
gpt-5-nano:swedencentral gpt-4.1-2025-04-14:westus gpt-4.1-2025-04-14:eastus2 gpt-4.1-2025-04-14:eastus
gpt-4.1-2025-04-14:westus3 gpt-4.1-2025-04-14:northcentralus gpt-4.1-2025-04-14:southcentralus
gpt-4.1-2025-04-14:westeurope gpt-4.1-2025-04-14:germanywestcentral gpt-4.1-2025-04-14:polandcentral
gpt-4.1-2025-04-14:spaincentral gpt-4.1-mini-2025-04-14:westus gpt-4.1-mini-2025-04-14:eastus2
gpt-4.1-mini-2025-04-14:eastus gpt-4.1-mini-2025-04-14:westus3 gpt-4.1-mini-2025-04-14:northcentralus
gpt-4.1-mini-2025-04-14:southcentralus gpt-4.1-mini-2025-04-14:westeurope
gpt-4.1-mini-2025-04-14:germanywestcentral gpt-4.1-mini-2025-04-14:polandcentral
gpt-4.1-mini-2025-04-14:spaincentral gpt-4.1-nano-2025-04-14:westus gpt-4.1-nano-2025-04-14:eastus2
gpt-4.1-nano-2025-04-14:westus3 gpt-4.1-nano-2025-04-14:northcentralus
gpt-4.1-nano-2025-04-14:southcentralus gpt-4o-2024-11-20:swedencentral gpt-4o-2024-11-20:westus
gpt-4o-2024-11-20:eastus2 gpt-4o-2024-11-20:eastus gpt-4o-2024-11-20:westus3
gpt-4o-2024-11-20:southcentralus gpt-4o-2024-11-20:westeurope gpt-4o-2024-11-20:germanywestcentral
gpt-4o-2024-11-20:polandcentral gpt-4o-2024-11-20:spaincentral gpt-4o-2024-08-06:westus
gpt-4o-2024-08-06:westus3 gpt-4o-2024-08-06:eastus gpt-4o-2024-08-06:eastus2
gpt-4o-2024-08-06:northcentralus gpt-4o-2024-08-06:southcentralus gpt-4o-mini-2024-07-18:westus
gpt-4o-mini-2024-07-18:westus3 gpt-4o-mini-2024-07-18:eastus gpt-4o-mini-2024-07-18:eastus2
gpt-4o-mini-2024-07-18:northcentralus gpt-4o-mini-2024-07-18:southcentralus gpt-4o-2024-05-13:eastus2
gpt-4o-2024-05-13:eastus gpt-4o-2024-05-13:northcentralus gpt-4o-2024-05-13:southcentralus
gpt-4o-2024-05-13:westus3 gpt-4o-2024-05-13:westus gpt-4-turbo-2024-04-09:eastus2 gpt-4-0125-preview:eastus
gpt-4-0125-preview:northcentralus gpt-4-0125-preview:southcentralus gpt-4-1106-preview:australiaeast
gpt-4-1106-preview:canadaeast gpt-4-1106-preview:france gpt-4-1106-preview:india gpt-4-1106-preview:norway
gpt-4-1106-preview:swedencentral gpt-4-1106-preview:uk gpt-4-1106-preview:westus gpt-4-1106-preview:westus3
gpt-4-0613:canadaeast gpt-3.5-turbo-0125:canadaeast gpt-3.5-turbo-0125:northcentralus
gpt-3.5-turbo-0125:southcentralus gpt-3.5-turbo-1106:canadaeast gpt-3.5-turbo-1106:westus
gpt-4.1:australiaeast gpt-4o:australiaeast gpt-5.4-mini:australiaeast
    """.split()
)
"""Model ids of the spec's `OpenAIModel.model` enum (vapi-openapi.json @ 0494c2f3, 156 ids). OpenCall accepts
any string there (OpenAI adds models faster than the spec); this list lets the launch contract recognise a
bare `"model": "gpt-4o"`."""

LOCAL_LLAMA_DEFAULT_MODEL = "smollm2-135m"
"""The embedded model that ships with OpenCall (SmolLM2-135M-Instruct, GGUF)."""


class OpenAIMessage(base.VapiModel):
    """One prompt message, OpenAI chat format."""

    role: Literal["assistant", "function", "user", "system", "tool"]
    content: str | None = Field(max_length=100_000_000)
    """Message text (nullable, as in OpenAI's format)."""


class _LLMCommon(base.VapiModel):
    messages: list[OpenAIMessage] | None = None
    """The conversation prompt; the system prompt is the `system` message."""
    tools: list[CreateToolDTO] | None = None
    """Transient tools available to the model in this assistant only."""
    tool_ids: list[str] | None = None
    """Saved tools (`/tool`) available to the model."""
    tool_refs: list[ToolRef] | None = None
    """Saved tools pinned to a version."""
    knowledge_base: dict[str, Any] | None = None
    """CreateCustomKnowledgeBaseDTO (`{provider: "custom-knowledge-base", server}`), stored verbatim."""
    temperature: float | None = Field(None, ge=0, le=2)
    """Sampling temperature; default 0.5."""
    max_tokens: int | None = Field(None, ge=50, le=10000)
    """Maximum tokens per reply; default 250."""
    emotion_recognition_enabled: bool | None = None
    """Add the detected emotion of the user to their messages; default false."""
    num_fast_turns: int | None = Field(None, ge=0)
    """Turns answered with a faster model before switching to this one; default 0."""


class OpenAIModel(_LLMCommon):
    """OpenAI chat models."""

    provider: Literal["openai"]
    model: str
    """Model id, e.g. `gpt-4o`; the spec's list is `OPENAI_MODEL_IDS`, any string is accepted."""
    fallback_models: list[str] | None = None
    """Models tried, in order, when `model` fails."""
    tool_strict_compatibility_mode: (
        Literal["strip-parameters-with-unsupported-validation", "strip-unsupported-validation"] | None
    ) = None
    """How tool schemas are adapted for OpenAI strict mode."""
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    """OpenAI prompt-cache retention."""
    prompt_cache_key: str | None = Field(None, max_length=64)
    """OpenAI prompt-cache key."""
    reasoning_effort: Literal["minimal", "none", "low", "medium", "high", "xhigh"] | None = None
    """Reasoning effort of reasoning models."""


class CustomLLMModel(_LLMCommon):
    """Any OpenAI-compatible chat-completions server (`POST {url}/chat/completions`, streamed)."""

    provider: Literal["custom-llm"]
    url: str
    """Base URL of the OpenAI-compatible API, e.g. `http://localhost:8080/v1`."""
    model: str
    """Model name sent in the request."""
    headers: dict[str, str] | None = None
    """Extra request headers (e.g. `Authorization`)."""
    metadata_send_mode: Literal["off", "variable", "destructured"] | None = None
    """How call metadata is sent with the request; default `variable`."""
    word_level_confidence_enabled: bool | None = None
    """Send word-level transcription confidence; default false."""
    timeout_seconds: float = Field(20, ge=0, le=300)
    """Connection timeout before the first token, in seconds."""


class LocalLlamaModel(_LLMCommon):
    """`vapi`: the platform's own model, which in OpenCall is the embedded llama.cpp model (no network).

    Spelled with Vapi's provider name so the official SDKs parse it (they drop providers they do not
    know); `opencall-llama` is accepted as an alias and stored as `vapi`.
    """

    provider: Literal["vapi", "opencall-llama"]
    model: str = LOCAL_LLAMA_DEFAULT_MODEL
    """Embedded model name (a GGUF file in the model directory)."""
    version: str | None = None
    """Vapi's model version label; accepted and kept, not used."""
    workflow_id: str | None = None
    """Vapi workflow id; accepted and kept, not run."""
    workflow: dict[str, Any] | None = None
    """Vapi transient workflow; accepted and kept, not run."""

    _canonical_provider = field_validator("provider")(canonical_vapi_provider)


class _PassthroughLLM(_LLMCommon, base.PassthroughModel):
    """Stored verbatim; provider-specific fields are kept as sent."""


class AnthropicModel(_PassthroughLLM):
    """Anthropic Claude. Stored verbatim (not run by OpenCall)."""

    provider: Literal["anthropic"]
    model: str


class AnthropicBedrockModel(_PassthroughLLM):
    """Anthropic Claude on AWS Bedrock. Stored verbatim (not run by OpenCall)."""

    provider: Literal["anthropic-bedrock"]
    model: str


class AnyscaleModel(_PassthroughLLM):
    """Anyscale endpoints. Stored verbatim (not run by OpenCall)."""

    provider: Literal["anyscale"]
    model: str


class CerebrasModel(_PassthroughLLM):
    """Cerebras. Stored verbatim (not run by OpenCall)."""

    provider: Literal["cerebras"]
    model: str


class DeepInfraModel(_PassthroughLLM):
    """DeepInfra. Stored verbatim (not run by OpenCall)."""

    provider: Literal["deepinfra"]
    model: str


class DeepSeekModel(_PassthroughLLM):
    """DeepSeek. Stored verbatim (not run by OpenCall)."""

    provider: Literal["deep-seek"]
    model: str


class GoogleModel(_PassthroughLLM):
    """Google Gemini. Stored verbatim (not run by OpenCall)."""

    provider: Literal["google"]
    model: str


class GroqModel(_PassthroughLLM):
    """Groq. Stored verbatim (not run by OpenCall)."""

    provider: Literal["groq"]
    model: str


class InflectionAIModel(_PassthroughLLM):
    """Inflection AI. Stored verbatim (not run by OpenCall)."""

    provider: Literal["inflection-ai"]
    model: str


class MinimaxLLMModel(_PassthroughLLM):
    """MiniMax. Stored verbatim (not run by OpenCall)."""

    provider: Literal["minimax"]
    model: str


class OpenRouterModel(_PassthroughLLM):
    """OpenRouter. Stored verbatim (not run by OpenCall)."""

    provider: Literal["openrouter"]
    model: str


class PerplexityAIModel(_PassthroughLLM):
    """Perplexity. Stored verbatim (not run by OpenCall)."""

    provider: Literal["perplexity-ai"]
    model: str


class TogetherAIModel(_PassthroughLLM):
    """Together AI. Stored verbatim (not run by OpenCall)."""

    provider: Literal["together-ai"]
    model: str


class XaiModel(_PassthroughLLM):
    """xAI Grok. Stored verbatim (not run by OpenCall)."""

    provider: Literal["xai"]
    model: str


LLMModel = Annotated[
    OpenAIModel
    | CustomLLMModel
    | LocalLlamaModel
    | AnthropicModel
    | AnthropicBedrockModel
    | AnyscaleModel
    | CerebrasModel
    | DeepInfraModel
    | DeepSeekModel
    | GoogleModel
    | GroqModel
    | InflectionAIModel
    | MinimaxLLMModel
    | OpenRouterModel
    | PerplexityAIModel
    | TogetherAIModel
    | XaiModel,
    Field(discriminator="provider"),
]
"""`assistant.model`: one of the Vapi model providers or `opencall-llama`."""

LLM_MODELS: dict[str, type[base.VapiModel]] = union_members(LLMModel, "provider")
"""`model.provider` value → its class."""
