"""Bad bodies are rejected with Vapi's (NestJS class-validator) messages, each naming its field path."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from opencall.schemas.assistant import CreateAssistantDTO
from opencall.schemas.call import CreateCallDTO
from opencall.schemas.errors import vapi_messages
from opencall.schemas.phone_number import CreatePhoneNumberDTO
from opencall.schemas.tools import CreateToolDTO, validate_tool_update


def messages_for(schema: Any, body: Any, *, with_body: bool = True) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(schema).validate_python(body)
    return vapi_messages(caught.value.errors(), body=body if with_body else None)


@pytest.mark.parametrize("with_body", [True, False])
@pytest.mark.parametrize(
    ("schema", "body", "expected"),
    [
        (CreateAssistantDTO, {"name": "x" * 41}, "name must be shorter than or equal to 40 characters"),
        (CreateAssistantDTO, {"maxDurationSeconds": 9}, "maxDurationSeconds must not be less than 10"),
        (
            CreateAssistantDTO,
            {"maxDurationSeconds": 43201},
            "maxDurationSeconds must not be greater than 43200",
        ),
        (CreateAssistantDTO, {"prompt": "hi"}, "property prompt should not exist"),
        (CreateCallDTO, {"webhookUrl": "https://x"}, "property webhookUrl should not exist"),
        (
            CreateAssistantDTO,
            {"model": {"provider": "openai", "model": "gpt-4o", "functions": []}},
            "model.property functions should not exist",
        ),
        (
            CreateCallDTO,
            {"assistant": {"backchannelPlan": {}}},
            "assistant.property backchannelPlan should not exist",
        ),
        (
            CreateAssistantDTO,
            {"model": {"provider": "openai", "model": "gpt-4o", "temperature": 2.5}},
            "model.temperature must not be greater than 2",
        ),
        (
            CreateAssistantDTO,
            {"model": {"provider": "openai", "model": "gpt-4o", "maxTokens": 10}},
            "model.maxTokens must not be less than 50",
        ),
        (CreateAssistantDTO, {"model": {"model": "gpt-4o"}}, "model.provider should not be empty"),
        (CreateAssistantDTO, {"model": {"provider": "openai"}}, "model.model should not be empty"),
        (CreateAssistantDTO, {"voice": "alloy"}, "voice must be an object"),
        (CreateAssistantDTO, {"endCallPhrases": "bye"}, "endCallPhrases must be an array"),
        (
            CreateAssistantDTO,
            {"firstMessageInterruptionsEnabled": "maybe"},
            "firstMessageInterruptionsEnabled must be a boolean value",
        ),
        (CreateAssistantDTO, {"name": 5}, "name must be a string"),
        (
            CreateAssistantDTO,
            {"maxDurationSeconds": "long"},
            "maxDurationSeconds must be a number conforming to the specified constraints",
        ),
        (
            CreateAssistantDTO,
            {"firstMessageMode": "shout"},
            "firstMessageMode must be one of the following values: assistant-speaks-first, "
            "assistant-speaks-first-with-model-generated-message, assistant-waits-for-user",
        ),
        (
            CreateAssistantDTO,
            {"stopSpeakingPlan": {"voiceSeconds": 0.9}},
            "stopSpeakingPlan.voiceSeconds must not be greater than 0.5",
        ),
        (
            CreateAssistantDTO,
            {
                "server": {
                    "url": "https://x",
                    "backoffPlan": {"type": "fixed", "maxRetries": 11, "baseDelaySeconds": 1},
                }
            },
            "server.backoffPlan.maxRetries must not be greater than 10",
        ),
        (
            CreateCallDTO,
            {"customer": {"number": "4155550123"}},
            "customer.number must be a valid phone number in E.164 format (e.g. +14155550123), "
            "or set numberE164CheckEnabled to false",
        ),
        (CreateCallDTO, {"squad": {"members": []}}, "squad.members must contain at least 1 elements"),
        (
            CreateCallDTO,
            {"transport": {"provider": "vapi.websocket", "audioFormat": {"sampleRate": 4000}}},
            "transport.audioFormat.sampleRate must not be less than 8000",
        ),
        (
            CreateAssistantDTO,
            {
                "model": {
                    "provider": "openai",
                    "model": "gpt-4o",
                    "tools": [{"type": "function", "function": {"name": "bad name"}}],
                }
            },
            "model.tools.0.function.name must match /^[a-zA-Z0-9_-]+$/ regular expression",
        ),
        (
            CreateToolDTO,
            {"type": "function", "function": {"name": "ok", "foo": 1}},
            "function.property foo should not exist",
        ),
        (CreateToolDTO, {"type": "function", "async": "sometimes"}, "async must be a boolean value"),
        (CreateToolDTO, {"type": "endCall", "bar": 1}, "property bar should not exist"),
        (
            CreateToolDTO,
            {
                "type": "transferCall",
                "destinations": [{"type": "number", "number": "+14155550123", "foo": 1}],
            },
            "destinations.0.property foo should not exist",
        ),
        (
            CreatePhoneNumberDTO,
            {"provider": "twilio", "number": "+14155550123"},
            "twilioAccountSid should not be empty",
        ),
        (
            CreateToolDTO,
            {"type": "nope"},
            "type must be one of the following values: apiRequest, code, dtmf, "
            "endCall, function, transferCall, handoff, bash, computer, textEditor, query, "
            "google.calendar.event.create, google.sheets.row.append, google.calendar.availability.check, "
            "slack.message.send, sms, mcp, gohighlevel.calendar.availability.check, "
            "gohighlevel.calendar.event.create, gohighlevel.contact.create, gohighlevel.contact.get, "
            "sipRequest, voicemail",
        ),
    ],
)
def test_invalid_body_gets_the_vapi_message(schema: Any, body: Any, expected: str, with_body: bool) -> None:
    assert expected in messages_for(schema, body, with_body=with_body)


def test_unknown_model_provider_lists_the_allowed_providers() -> None:
    (message,) = messages_for(CreateAssistantDTO, {"model": {"provider": "nope", "model": "x"}})
    assert message.startswith("model.provider must be one of the following values: openai, custom-llm, ")
    assert "vapi" in message and "anthropic" in message


def test_fastapi_body_prefix_is_dropped() -> None:
    with pytest.raises(ValidationError) as caught:
        CreateAssistantDTO.model_validate({"name": "x" * 41})
    errors = [{**error, "loc": ("body", *error["loc"])} for error in caught.value.errors()]
    assert vapi_messages(errors) == ["name must be shorter than or equal to 40 characters"]


def test_prefix_names_a_nested_object_validated_alone() -> None:
    with pytest.raises(ValidationError) as caught:
        CreateAssistantDTO.model_validate({"foo": 1, "name": "x" * 41})
    assert sorted(vapi_messages(caught.value.errors(), prefix="assistant.")) == [
        "assistant.name must be shorter than or equal to 40 characters",
        "assistant.property foo should not exist",
    ]


def test_plain_union_member_labels_are_not_in_the_path() -> None:
    messages = messages_for(CreateAssistantDTO, {"voicemailDetection": 5})
    assert messages == [
        "voicemailDetection must be one of the following values: off",
        "voicemailDetection must be an object",
    ]


def test_tool_update_errors_name_the_field_of_the_stored_tool_type() -> None:
    body = {"function": {"name": "ok", "foo": 1}, "async": "sometimes"}
    with pytest.raises(ValidationError) as caught:
        validate_tool_update("function", body)
    assert sorted(vapi_messages(caught.value.errors(), body=body)) == [
        "async must be a boolean value",
        "function.property foo should not exist",
    ]


def test_malformed_json_is_reported_on_the_body() -> None:
    error: Any = {
        "type": "json_invalid",
        "loc": ("body", 1),
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": "Expecting value"},
    }
    assert vapi_messages([error]) == ["body must be valid JSON (Expecting value)"]
