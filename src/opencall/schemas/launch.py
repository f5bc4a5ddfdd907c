"""The launch contract: the short request forms OpenCall promised before it spoke Vapi, mapped onto Vapi's.

`POST /assistant {"name", "model": "gpt-4o", "prompt", "voice": "alloy"}` and
`POST /call {"to", "from", "assistantId", "webhookUrl", "record", "recordingUrl", "metadata"}` are accepted
as documented extensions (reference §8.1, §8.2); every other unknown key is still rejected. Answers are
always in Vapi's object form.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema, field_validator

from opencall.schemas.assistant import CreateAssistantDTO
from opencall.schemas.base import VapiModel
from opencall.schemas.call import CreateCallDTO
from opencall.schemas.common import check_e164
from opencall.schemas.llm_models import (
    LLM_MODELS,
    LOCAL_LLAMA_DEFAULT_MODEL,
    OPENAI_MODEL_IDS,
    LLMModel,
    LocalLlamaModel,
)
from opencall.schemas.transcribers import WHISPER_DEFAULT_MODEL, LocalWhisperTranscriber
from opencall.schemas.voices import (
    ESPEAK_DEFAULT_VOICE,
    OPENAI_VOICE_IDS,
    PIPER_DEFAULT_VOICE,
    VOICES,
    PiperVoice,
    Voice,
)

EMBEDDED_LLM_MODELS = frozenset({LOCAL_LLAMA_DEFAULT_MODEL})
"""Model names of the embedded LLM accepted bare (`"model": "smollm2-135m"`)."""

PIPER_VOICES = frozenset({PIPER_DEFAULT_VOICE})
"""Piper voices that ship with OpenCall, accepted bare (`"voice": "joe"`)."""

LLM_PROVIDER_ALIASES = {"local": "vapi", "llama": "vapi", "opencall-llama": "vapi"}
VOICE_PROVIDER_ALIASES = {
    "elevenlabs": "11labs", "piper": "vapi", "opencall-piper": "vapi", "espeak": "opencall-espeak"
}

_DEFAULT_VOICE_IDS = {"vapi": PIPER_DEFAULT_VOICE, "opencall-espeak": ESPEAK_DEFAULT_VOICE}


def _model_from_string(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value in OPENAI_MODEL_IDS:
        return {"provider": "openai", "model": value}
    if value in EMBEDDED_LLM_MODELS:
        return {"provider": "vapi", "model": value}
    provider, slash, model = value.partition("/")
    provider = LLM_PROVIDER_ALIASES.get(provider, provider)
    if slash and model and provider in LLM_MODELS:
        return {"provider": provider, "model": model}
    raise ValueError(
        "must be a model object ({provider, model, ...}), an OpenAI model id such as gpt-4o, "
        f"'<provider>/<model>' with provider one of {', '.join(sorted(LLM_MODELS))}, local, llama, "
        f"or an embedded model name ({', '.join(sorted(EMBEDDED_LLM_MODELS))})"
    )


def _voice_from_string(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value in OPENAI_VOICE_IDS:
        return {"provider": "openai", "voiceId": value}
    if value in PIPER_VOICES:
        return {"provider": "vapi", "voiceId": value}
    provider, slash, voice_id = value.partition("/")
    provider = VOICE_PROVIDER_ALIASES.get(provider, provider)
    if not slash and provider in _DEFAULT_VOICE_IDS:
        return {"provider": provider, "voiceId": _DEFAULT_VOICE_IDS[provider]}
    if slash and voice_id and provider in VOICES:
        return {"provider": provider, "voiceId": voice_id}
    raise ValueError(
        "must be a voice object ({provider, voiceId, ...}), an OpenAI voice "
        f"({', '.join(sorted(OPENAI_VOICE_IDS))}), a Piper voice ({', '.join(sorted(PIPER_VOICES))}), "
        f"'piper/<voice>', 'espeak/<voice>', 'elevenlabs/<voiceId>', or '<provider>/<voiceId>' with provider "
        f"one of {', '.join(sorted(VOICES))}"
    )


def _check_http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return value


HttpUrlString = Annotated[
    str, AfterValidator(_check_http_url), WithJsonSchema({"type": "string", "format": "uri"})
]


class CreateAssistantRequest(CreateAssistantDTO):
    """Body of `POST /assistant`: Vapi's CreateAssistantDTO, plus the launch-contract short forms."""

    model: Annotated[
        LLMModel | None, BeforeValidator(_model_from_string, json_schema_input_type=LLMModel | str | None)
    ] = None
    """A model object, or (OpenCall launch-contract extension) a string: an OpenAI model id (`gpt-4o`),
    `<provider>/<model>` (`anthropic/claude-3-5-haiku-20241022`, `local/smollm2-135m`) or an embedded model
    name (`smollm2-135m`). Default the embedded `opencall-llama`."""
    voice: Annotated[
        Voice | None, BeforeValidator(_voice_from_string, json_schema_input_type=Voice | str | None)
    ] = None
    """A voice object, or (OpenCall launch-contract extension) a string: an OpenAI voice (`alloy`), a Piper
    voice (`joe`, `piper/joe`), `espeak/<voice>`, `elevenlabs/<voiceId>` or `<provider>/<voiceId>`.
    Default the embedded `opencall-piper` voice `joe`."""
    prompt: str | None = None
    """OpenCall launch-contract extension: the system prompt; becomes `model.messages[0]`
    (`{"role": "system", "content": prompt}`), replacing any system message."""

    def to_vapi(self) -> CreateAssistantDTO:
        """The same assistant in pure Vapi form (`prompt` moved into `model.messages`)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        prompt = data.pop("prompt", None)
        if prompt is not None:
            model = data.get("model") or {"provider": "vapi", "model": LOCAL_LLAMA_DEFAULT_MODEL}
            others = [m for m in model.get("messages") or [] if m.get("role") != "system"]
            model["messages"] = [{"role": "system", "content": prompt}, *others]
            data["model"] = model
        return CreateAssistantDTO.model_validate(data)


class UpdateAssistantRequest(CreateAssistantRequest):
    """Body of `PATCH /assistant/{id}`: UpdateAssistantDTO plus the launch-contract short forms."""


def apply_embedded_defaults(dto: CreateAssistantDTO) -> CreateAssistantDTO:
    """Fill an absent model, voice or transcriber with the embedded ones, so an assistant with only a name
    runs offline: `opencall-llama` (smollm2-135m), `opencall-piper` (joe), `opencall-whisper` (tiny.en)."""
    defaults: dict[str, Any] = {}
    if dto.model is None:
        defaults["model"] = LocalLlamaModel(provider="vapi", model=LOCAL_LLAMA_DEFAULT_MODEL)
    if dto.voice is None:
        defaults["voice"] = PiperVoice(provider="vapi", voice_id=PIPER_DEFAULT_VOICE, speed=1.0)
    if dto.transcriber is None:
        defaults["transcriber"] = LocalWhisperTranscriber(
            provider="vapi", model=WHISPER_DEFAULT_MODEL, language="en"
        )
    if not defaults:
        return dto
    filled = dto.model_copy(update=defaults)
    filled.__pydantic_fields_set__.update(defaults)
    return filled


class LaunchCallExtras(VapiModel):
    """What of a launch-contract call request has no place in CreateCallDTO, for the API layer."""

    from_: str | None = Field(None, alias="from")
    """Caller id to place the call from; the API layer resolves it to the org's `phoneNumberId`."""
    recording_url: str | None = None
    """Where the finished recording is uploaded (HTTP PUT)."""
    metadata: dict[str, Any] | None = None
    """Returned as the call's top-level `metadata`."""


class CreateCallRequest(CreateCallDTO):
    """Body of `POST /call`: Vapi's CreateCallDTO, plus the launch-contract short fields."""

    assistant: CreateAssistantRequest | None = None
    """Transient assistant (the launch-contract short forms of `model`, `voice`, `prompt` are accepted)."""
    to: str | None = Field(None, min_length=3, max_length=40)
    """OpenCall launch-contract extension: the number to call, E.164; same as `customer.number`."""
    from_: str | None = Field(None, alias="from")
    """OpenCall launch-contract extension: the caller id, one of the org's phone numbers; same as the
    `phoneNumberId` of the number with that `number`."""
    webhook_url: HttpUrlString | None = None
    """OpenCall launch-contract extension: where server messages of this call go; same as
    `assistantOverrides.server.url`."""
    record: bool | None = None
    """OpenCall launch-contract extension: record the call; same as
    `assistantOverrides.artifactPlan.recordingEnabled` (default true)."""
    recording_url: HttpUrlString | None = None
    """OpenCall launch-contract extension: the recording is uploaded here (HTTP PUT) when the call ends."""
    metadata: dict[str, Any] | None = None
    """OpenCall launch-contract extension: free-form data returned on the call as top-level `metadata`;
    also `assistantOverrides.metadata`."""

    _to_is_e164 = field_validator("to")(check_e164)

    def to_vapi(self) -> tuple[CreateCallDTO, LaunchCallExtras]:
        """The same call in pure Vapi form, and the extras the API layer resolves or keeps."""
        data = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        for name in ("to", "from", "webhookUrl", "record", "recordingUrl", "metadata"):
            data.pop(name, None)
        if self.assistant is not None:
            data["assistant"] = self.assistant.to_vapi().to_wire()
        if self.to is not None:
            data["customer"] = {**(data.get("customer") or {}), "number": self.to}
        overrides = data.get("assistantOverrides") or {}  # an explicit null is no overrides
        if self.webhook_url is not None:
            overrides["server"] = {**(overrides.get("server") or {}), "url": self.webhook_url}
        if self.record is not None:
            overrides["artifactPlan"] = {**(overrides.get("artifactPlan") or {}), "recordingEnabled": self.record}
        if self.metadata is not None:
            overrides["metadata"] = {**(overrides.get("metadata") or {}), **self.metadata}
        if overrides:
            data["assistantOverrides"] = overrides
        given = {"from": self.from_, "recordingUrl": self.recording_url, "metadata": self.metadata}
        extras = LaunchCallExtras.model_validate({key: val for key, val in given.items() if val is not None})
        return CreateCallDTO.model_validate(data), extras
