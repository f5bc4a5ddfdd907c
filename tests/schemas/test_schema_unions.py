"""Discriminated unions pick the right class; passthrough variants keep what they do not know; responses
round-trip and never leak secrets."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from opencall.schemas.assistant import Assistant, CreateAssistantDTO
from opencall.schemas.call import Call, CreateCallDTO, VapiWebsocketTransport
from opencall.schemas.llm_models import AnthropicModel, CustomLLMModel, LLMModel, LocalLlamaModel, OpenAIModel
from opencall.schemas.phone_number import (
    CreatePhoneNumberDTO,
    PhoneNumber,
    TwilioPhoneNumber,
    validate_phone_number_update,
)
from opencall.schemas.squad import CreateSquadDTO, Squad
from opencall.schemas.tool_variants import CreateMcpToolDTO
from opencall.schemas.tools import (
    CreateFunctionToolDTO,
    CreateToolDTO,
    CreateTransferCallToolDTO,
    FunctionTool,
    Tool,
    validate_tool_update,
)
from opencall.schemas.transcribers import DeepgramTranscriber, LocalWhisperTranscriber, Transcriber
from opencall.schemas.voices import CartesiaVoice, ElevenLabsVoice, PiperVoice, Voice

PERSISTED = {
    "id": "5b0a4a08-0000-4000-8000-000000000001",
    "orgId": "eb166faa-0000-4000-8000-000000000002",
    "createdAt": "2024-09-10T11:14:12.339Z",
    "updatedAt": "2024-09-10T11:14:12.339Z",
}


@pytest.mark.parametrize(
    ("union", "body", "cls"),
    [
        (LLMModel, {"provider": "openai", "model": "gpt-4o"}, OpenAIModel),
        (
            LLMModel,
            {"provider": "custom-llm", "url": "http://localhost:8080/v1", "model": "m"},
            CustomLLMModel,
        ),
        (LLMModel, {"provider": "vapi"}, LocalLlamaModel),
        (LLMModel, {"provider": "anthropic", "model": "claude-3-5-haiku-20241022"}, AnthropicModel),
        (Voice, {"provider": "11labs", "voiceId": "burt"}, ElevenLabsVoice),
        (Voice, {"provider": "vapi"}, PiperVoice),
        (Voice, {"provider": "cartesia", "voiceId": "x"}, CartesiaVoice),
        (Transcriber, {"provider": "deepgram", "model": "nova-3"}, DeepgramTranscriber),
        (Transcriber, {"provider": "vapi"}, LocalWhisperTranscriber),
        (CreateToolDTO, {"type": "function", "function": {"name": "lookup"}}, CreateFunctionToolDTO),
        (CreateToolDTO, {"type": "transferCall", "destinations": []}, CreateTransferCallToolDTO),
        (CreateToolDTO, {"type": "mcp"}, CreateMcpToolDTO),
    ],
)
def test_discriminated_union_picks_the_class_of_the_tag(union: Any, body: dict[str, Any], cls: type) -> None:
    assert type(TypeAdapter(union).validate_python(body)) is cls


def test_embedded_variants_fill_their_defaults() -> None:
    assert TypeAdapter(LLMModel).validate_python({"provider": "vapi"}).model == "smollm2-135m"
    piper = TypeAdapter(Voice).validate_python({"provider": "vapi"})
    assert (piper.voice_id, piper.speed) == ("joe", 1.0)
    whisper = TypeAdapter(Transcriber).validate_python({"provider": "vapi"})
    assert (whisper.model, whisper.language) == ("tiny.en", "en")
    custom = TypeAdapter(LLMModel).validate_python({"provider": "custom-llm", "url": "http://h/v1", "model": "m"})
    assert custom.timeout_seconds == 20


def test_passthrough_variant_keeps_provider_specific_keys() -> None:
    body = {
        "provider": "anthropic",
        "model": "claude-3-7-sonnet-20250219",
        "thinking": {"type": "enabled", "budgetTokens": 1024},
    }
    model = TypeAdapter(LLMModel).validate_python(body)
    assert model.to_wire() == body


def test_passthrough_variant_still_checks_the_common_fields() -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(LLMModel).validate_python({"provider": "groq", "model": "x", "temperature": 9})


def test_openai_model_accepts_ids_newer_than_the_spec() -> None:
    assert TypeAdapter(LLMModel).validate_python({"provider": "openai", "model": "gpt-9"}).model == "gpt-9"


def test_websocket_transport_defaults_to_16k_pcm() -> None:
    dto = CreateCallDTO.model_validate({"transport": {"provider": "vapi.websocket", "audioFormat": {}}})
    assert isinstance(dto.transport, VapiWebsocketTransport)
    assert dto.transport.audio_format is not None
    assert dto.transport.audio_format.to_wire() == {}
    assert dto.transport.audio_format.model_dump(by_alias=True) == {
        "format": "pcm_s16le",
        "container": "raw",
        "sampleRate": 16000,
    }


def test_customer_number_check_can_be_turned_off() -> None:
    dto = CreateCallDTO.model_validate({"customer": {"number": "1234", "numberE164CheckEnabled": False}})
    assert dto.customer is not None and dto.customer.number == "1234"


def test_tool_update_is_validated_against_the_stored_type() -> None:
    assert validate_tool_update("function", {"async": True, "function": {"name": "x"}}) == {
        "async": True,
        "function": {"name": "x"},
    }
    with pytest.raises(ValidationError, match="function"):
        validate_tool_update("function", {"type": "endCall"})
    with pytest.raises(ValidationError):
        validate_tool_update("endCall", {"function": {"name": "x"}})
    assert validate_tool_update("mcp", {"server": {"url": "https://m"}}) == {"server": {"url": "https://m"}}


def test_phone_number_update_is_validated_against_the_stored_provider() -> None:
    assert validate_phone_number_update("twilio", {"name": "Main line"}) == {"name": "Main line"}
    with pytest.raises(ValidationError):
        validate_phone_number_update("twilio", {"credentialId": "c"})
    with pytest.raises(ValidationError):
        validate_phone_number_update("vonage", {"provider": "twilio"})


def test_phone_number_response_never_carries_twilio_secrets() -> None:
    stored = {
        **PERSISTED,
        "provider": "twilio",
        "number": "+14155550123",
        "twilioAccountSid": "AC123",
        "twilioAuthToken": "secret-token",
        "twilioApiSecret": "secret-api",
        "status": "active",
    }
    TypeAdapter(CreatePhoneNumberDTO).validate_python(
        {k: v for k, v in stored.items() if k not in PERSISTED and k != "status"}
    )
    number = TypeAdapter(PhoneNumber).validate_python(stored)
    assert isinstance(number, TwilioPhoneNumber)
    wire = number.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert "twilioAuthToken" not in wire and "twilioApiSecret" not in wire
    assert wire["twilioAccountSid"] == "AC123"
    assert "twilioAuthToken" not in TypeAdapter(PhoneNumber).json_schema()["$defs"]["TwilioPhoneNumber"]["properties"]


def test_call_response_never_carries_transient_number_secrets() -> None:
    phone = {"twilioPhoneNumber": "+14155550000", "twilioAccountSid": "AC1", "twilioAuthToken": "secret"}
    call = Call.model_validate({**PERSISTED, "phoneNumber": phone})
    assert "twilioAuthToken" not in call.model_dump_json(by_alias=True)


def round_trip(model: Any, stored: dict[str, Any]) -> dict[str, Any]:
    adapter = TypeAdapter(model)
    once = adapter.dump_python(adapter.validate_python(stored), mode="json", by_alias=True, exclude_none=True)
    twice = adapter.dump_python(adapter.validate_python(once), mode="json", by_alias=True, exclude_none=True)
    assert once == twice
    return once


ASSISTANT = {
    **PERSISTED,
    "name": "Receptionist",
    "model": {
        "provider": "openai",
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "Be brief."}],
        "tools": [
            {
                "type": "function",
                "async": False,
                "function": {
                    "name": "lookup",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                },
            },
            {"type": "transferCall", "destinations": [{"type": "number", "number": "+14155550123"}]},
            {"type": "mcp", "server": {"url": "https://mcp"}, "metadata": {"protocol": "sse"}},
        ],
        "temperature": 0.5,
        "maxTokens": 250,
    },
    "voice": {"provider": "11labs", "voiceId": "burt", "stability": 0.5, "chunkPlan": {"minCharacters": 30}},
    "transcriber": {
        "provider": "deepgram",
        "model": "nova-3",
        "endpointing": 300,
        "keywords": ["OpenCall:2"],
    },
    "firstMessage": "Hello!",
    "maxDurationSeconds": 600,
    "startSpeakingPlan": {
        "waitSeconds": 0.4,
        "smartEndpointingPlan": {"provider": "livekit", "waitFunction": "200 + 8000 * x"},
    },
    "analysisPlan": {"structuredDataPlan": {"enabled": True, "schema": {"type": "object"}}},
    "server": {
        "url": "https://example.com/hook",
        "backoffPlan": {"type": "fixed", "maxRetries": 2, "baseDelaySeconds": 1},
    },
    "silenceTimeoutSeconds": 30,
    "latestVersion": None,
    "prompt": "Be brief.",
}


def test_assistant_round_trip_is_stable_and_keeps_extra_keys() -> None:
    wire = round_trip(Assistant, ASSISTANT)
    assert wire["prompt"] == "Be brief."
    assert wire["model"]["tools"][2]["metadata"] == {"protocol": "sse"}
    assert wire["analysisPlan"]["structuredDataPlan"]["schema"] == {"type": "object"}
    assert wire["model"]["tools"][0]["async"] is False
    CreateAssistantDTO.model_validate(
        {k: v for k, v in ASSISTANT.items() if k not in {*PERSISTED, "latestVersion", "prompt"}}
    )


def test_call_round_trip_keeps_launch_metadata_and_websocket_url() -> None:
    stored = {
        **PERSISTED,
        "type": "vapi.websocketCall",
        "status": "queued",
        "assistantId": "a1",
        "customer": {"number": "anonymous"},
        "transport": {"provider": "vapi.websocket", "websocketCallUrl": "wss://h/c1/transport"},
        "monitor": {"listenUrl": "wss://h/c1/listen", "controlUrl": "https://h/c1/control"},
        "messages": [{"role": "bot", "message": "Hi", "time": 1, "endTime": 2, "secondsFromStart": 0.1}],
        "artifact": {
            "transcript": "AI: Hi",
            "messagesOpenAIFormatted": [{"role": "assistant", "content": "Hi"}],
        },
        "endedReason": "customer-ended-call",
        "cost": 0,
        "metadata": {"crm": 7},
    }
    wire = round_trip(Call, stored)
    assert wire["metadata"] == {"crm": 7}
    assert wire["transport"]["websocketCallUrl"] == "wss://h/c1/transport"
    assert wire["artifact"]["messagesOpenAIFormatted"] == [{"role": "assistant", "content": "Hi"}]


def test_tool_and_squad_round_trip() -> None:
    tool = round_trip(Tool, {**PERSISTED, "type": "function", "function": {"name": "lookup"}, "async": True})
    assert tool["async"] is True
    assert isinstance(TypeAdapter(Tool).validate_python(tool), FunctionTool)
    squad = round_trip(Squad, {**PERSISTED, "members": [{"assistantId": "a1"}, {"assistant": {"name": "b"}}]})
    assert squad["members"][1] == {"assistant": {"name": "b"}}
    with pytest.raises(ValidationError):
        CreateSquadDTO.model_validate({"members": []})


def test_byo_number_update_keeps_the_e164_check() -> None:
    assert validate_phone_number_update("byo-phone-number", {"number": "+14155550123"}) == {"number": "+14155550123"}
    with pytest.raises(ValidationError, match="E.164"):
        validate_phone_number_update("byo-phone-number", {"number": "1234"})
