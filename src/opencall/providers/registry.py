"""One place that turns an assistant's `transcriber` / `model` / `voice` objects into providers.

Each kind has a table keyed by Vapi's `provider` string. Factories import their module lazily, so
the heavy local models (and optional cloud clients) load only for assistants that use them.
A provider OpenCall stores but cannot run fails with Vapi's own `pipeline-error-...` reason.

Cloud keys come from the assistant's inline `credentials` (`[{"provider": "openai", "apiKey": ...}]`,
Vapi's CreateOpenAICredentialDTO and friends) and else from `OPENCALL_<PROVIDER>_API_KEY`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opencall.providers.base import (
    ChatModel,
    ChatRequest,
    ProviderError,
    SpeechToText,
    TextToSpeech,
    UnsupportedProvider,
)
from opencall.providers.llm.openai_compat import BASE_URLS
from opencall.settings import Settings

Config = Mapping[str, Any]
Factory = Callable[[Config, Settings, "str | None"], Any]

VAPI_DEFAULT_TEMPERATURE = 0.5  # Vapi model.temperature default
VAPI_DEFAULT_MAX_TOKENS = 250  # Vapi model.maxTokens default

# Vapi spells some providers differently inside endedReasons (vapi-ended-reasons.txt).
_VOICE_REASON_NAMES = {"11labs": "eleven-labs"}
_STT_REASON_NAMES = {"11labs": "eleven-labs", "azure": "azure-speech", "custom-transcriber": "custom"}

# Vapi credential `provider` values, where they differ from the assistant's provider string.
_CREDENTIAL_NAMES = {"11labs": ("11labs", "elevenlabs")}


def _local(module: str) -> Factory:
    """A factory in one of our modules taking `(config, settings)`; no key needed."""

    def build(config: Config, settings: Settings, api_key: str | None) -> Any:
        return _import(module, config).create(config, settings)

    return build


def _cloud(module: str) -> Factory:
    """A factory taking `(config, settings, api_key)`."""

    def build(config: Config, settings: Settings, api_key: str | None) -> Any:
        return _import(module, config).create(config, settings, api_key)

    return build


def _import(module: str, config: Config) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ProviderError(_failed_reason(module, str(config.get("provider"))), f"{module}: {exc}") from exc


STT_FACTORIES: dict[str, Factory] = {
    "vapi": _local("opencall.providers.stt.local_whisper"),  # the platform's own = the embedded one
    "opencall-whisper": _local("opencall.providers.stt.local_whisper"),
    "deepgram": _cloud("opencall.providers.stt.deepgram"),
}
LLM_FACTORIES: dict[str, Factory] = {
    "vapi": _local("opencall.providers.llm.local_llama"),
    "opencall-llama": _local("opencall.providers.llm.local_llama"),
    "custom-llm": _cloud("opencall.providers.llm.openai_compat"),
    **{provider: _cloud("opencall.providers.llm.openai_compat") for provider in BASE_URLS},
}
TTS_FACTORIES: dict[str, Factory] = {
    "vapi": _local("opencall.providers.tts.piper"),
    "opencall-piper": _local("opencall.providers.tts.piper"),
    "opencall-espeak": _local("opencall.providers.tts.espeak"),
    "11labs": _cloud("opencall.providers.tts.elevenlabs"),
}


def stt_failed_reason(provider: str) -> str:
    return f"pipeline-error-{_STT_REASON_NAMES.get(provider, provider)}-transcriber-failed"


def llm_failed_reason(provider: str) -> str:
    return f"pipeline-error-{provider}-llm-failed"


def voice_failed_reason(provider: str) -> str:
    if provider == "custom-voice":
        return "pipeline-error-custom-voice-failed"
    return f"pipeline-error-{_VOICE_REASON_NAMES.get(provider, provider)}-voice-failed"


def _failed_reason(module: str, provider: str) -> str:
    if ".stt." in module:
        return stt_failed_reason(provider)
    if ".tts." in module:
        return voice_failed_reason(provider)
    return llm_failed_reason(provider)


def api_key_for(provider: str, credentials: Sequence[Config] = ()) -> str | None:
    """The assistant's inline credential for `provider`, else `OPENCALL_<PROVIDER>_API_KEY`."""
    names = _CREDENTIAL_NAMES.get(provider, (provider,))
    for credential in credentials:
        if credential.get("provider") in names and credential.get("apiKey"):
            return str(credential["apiKey"])
    return os.environ.get(api_key_env_var(provider)) or None


def api_key_env_var(provider: str) -> str:
    """OPENCALL_OPENAI_API_KEY, OPENCALL_DEEPGRAM_API_KEY, OPENCALL_ELEVENLABS_API_KEY, ..."""
    name = "ELEVENLABS" if provider == "11labs" else provider.upper().replace("-", "_")
    return f"OPENCALL_{name}_API_KEY"


def _build(
    table: Mapping[str, Factory],
    reason: Callable[[str], str],
    config: Config,
    settings: Settings,
    credentials: Sequence[Config],
) -> Any:
    provider = str(config.get("provider") or "")
    factory = table.get(provider)
    if factory is None:
        raise UnsupportedProvider(reason=reason(provider), detail=f"OpenCall does not run {provider} yet")
    return factory(config, settings, api_key_for(provider, credentials))


def build_stt(cfg: Config, settings: Settings, credentials: Sequence[Config] = ()) -> SpeechToText:
    stt: SpeechToText = _build(STT_FACTORIES, stt_failed_reason, cfg, settings, credentials)
    return stt


def build_llm(cfg: Config, settings: Settings, credentials: Sequence[Config] = ()) -> ChatModel:
    llm: ChatModel = _build(LLM_FACTORIES, llm_failed_reason, cfg, settings, credentials)
    return llm


def build_tts(cfg: Config, settings: Settings, credentials: Sequence[Config] = ()) -> TextToSpeech:
    tts: TextToSpeech = _build(TTS_FACTORIES, voice_failed_reason, cfg, settings, credentials)
    return tts


# --- model object -> Chat Completions request -----------------------------------------------------

# Vapi's built-in tools as the model sees them (names as in Vapi's docs for these tool types).
_BUILTIN_FUNCTIONS: dict[str, dict[str, Any]] = {
    "endCall": {
        "name": "endCall",
        "description": "End the call. Use it when the conversation is over.",
        "parameters": {"type": "object", "properties": {}},
    },
    "dtmf": {
        "name": "dtmf",
        "description": "Press keys on the phone keypad.",
        "parameters": {
            "type": "object",
            "properties": {"digits": {"type": "string", "description": "Keys to press, e.g. 1234#"}},
            "required": ["digits"],
        },
    },
}

_OPENAI_EXTRA_FIELDS = {  # OpenAIModel fields that are plain Chat Completions parameters
    "reasoningEffort": "reasoning_effort",
    "promptCacheKey": "prompt_cache_key",
    "promptCacheRetention": "prompt_cache_retention",
}


def openai_tool(tool: Config) -> dict[str, Any] | None:
    """A Vapi tool DTO as an OpenAI `tools[]` entry; None for tools the model never calls itself."""
    function = tool.get("function")
    if isinstance(function, Mapping) and function.get("name"):
        spec: dict[str, Any] = {"name": function["name"]}
        for key in ("description", "parameters", "strict"):
            if function.get(key) is not None:
                spec[key] = function[key]
        spec.setdefault("parameters", {"type": "object", "properties": {}})
        return {"type": "function", "function": spec}
    kind = tool.get("type")
    if kind in _BUILTIN_FUNCTIONS:
        return {"type": "function", "function": dict(_BUILTIN_FUNCTIONS[kind])}
    if kind == "transferCall":
        return {"type": "function", "function": _transfer_function(tool)}
    if kind == "apiRequest" and tool.get("name"):
        parameters = tool.get("body") or {"type": "object", "properties": {}}
        spec = {"name": tool["name"], "description": tool.get("description", ""), "parameters": parameters}
        return {"type": "function", "function": spec}
    return None


def _transfer_function(tool: Config) -> dict[str, Any]:
    destinations = [
        d.get("number") or d.get("sipUri") or d.get("assistantName")
        for d in tool.get("destinations") or ()
        if isinstance(d, Mapping)
    ]
    destination: dict[str, Any] = {"type": "string", "description": "Where to transfer the call."}
    if any(destinations):
        destination["enum"] = [d for d in destinations if d]
    return {
        "name": "transferCall",
        "description": "Transfer the call to another number or assistant.",
        "parameters": {
            "type": "object",
            "properties": {"destination": destination},
            "required": ["destination"],
        },
    }


def model_request(
    model_cfg: Config,
    messages: Sequence[Mapping[str, Any]] | None = None,
    tools: Sequence[Config] | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> ChatRequest:
    """The Chat Completions request for a Vapi model object.

    `messages` is the whole conversation to send (OpenAI format); None sends the model's own
    `messages` (its starting state). `tools` are Vapi tool DTOs (inline `model.tools` plus the saved
    tools behind `toolIds`, resolved by the caller); None uses `model.tools`. `extra_body` carries
    per-call fields such as custom-llm's `call` / `metadata`.
    """
    provider = str(model_cfg.get("provider") or "")
    vapi_tools = model_cfg.get("tools") or () if tools is None else tools
    extra: dict[str, Any] = {}
    if provider == "openai":
        extra = {wire: model_cfg[key] for key, wire in _OPENAI_EXTRA_FIELDS.items() if key in model_cfg}
    extra.update(extra_body or {})
    temperature = model_cfg.get("temperature")
    max_tokens = model_cfg.get("maxTokens")
    return ChatRequest(
        model=str(model_cfg.get("model") or provider),
        messages=[dict(m) for m in (model_cfg.get("messages") or () if messages is None else messages)],
        tools=[t for t in (openai_tool(tool) for tool in vapi_tools) if t is not None],
        temperature=float(temperature) if temperature is not None else VAPI_DEFAULT_TEMPERATURE,
        max_tokens=int(max_tokens) if max_tokens is not None else VAPI_DEFAULT_MAX_TOKENS,
        extra_body=extra,
    )
