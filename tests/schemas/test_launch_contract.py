"""The launch contract's short forms (reference §8.1, §8.2) become pure Vapi objects."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from opencall.schemas.assistant import CreateAssistantDTO
from opencall.schemas.errors import vapi_messages
from opencall.schemas.launch import CreateAssistantRequest, CreateCallRequest, apply_embedded_defaults


def vapi_assistant(body: dict[str, Any]) -> dict[str, Any]:
    return CreateAssistantRequest.model_validate(body).to_vapi().to_wire()


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", {"provider": "openai", "model": "gpt-4o"}),
        ("gpt-4.1-mini", {"provider": "openai", "model": "gpt-4.1-mini"}),
        ("openai/gpt-4o-mini", {"provider": "openai", "model": "gpt-4o-mini"}),
        (
            "anthropic/claude-3-5-haiku-20241022",
            {"provider": "anthropic", "model": "claude-3-5-haiku-20241022"},
        ),
        ("groq/openai/gpt-oss-20b", {"provider": "groq", "model": "openai/gpt-oss-20b"}),
        ("smollm2-135m", {"provider": "vapi", "model": "smollm2-135m"}),
        ("local/smollm2-135m", {"provider": "vapi", "model": "smollm2-135m"}),
        ("llama/smollm2-135m", {"provider": "vapi", "model": "smollm2-135m"}),
        ("opencall-llama/smollm2-135m", {"provider": "vapi", "model": "smollm2-135m"}),
    ],
)
def test_model_string_becomes_a_model_object(model: str, expected: dict[str, Any]) -> None:
    assert vapi_assistant({"model": model})["model"] == expected


@pytest.mark.parametrize("model", ["gpt-17-ultra", "nobody/some-model", "openai/", ""])
def test_unknown_model_string_is_rejected_on_model_naming_the_allowed_forms(model: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CreateAssistantRequest.model_validate({"model": model})
    (message,) = vapi_messages(caught.value.errors(), body={"model": model})
    assert message.startswith("model must be a model object")
    assert "gpt-4o" in message and "'<provider>/<model>'" in message and "smollm2-135m" in message


@pytest.mark.parametrize(
    ("voice", "expected"),
    [
        ("alloy", {"provider": "openai", "voiceId": "alloy"}),
        ("joe", {"provider": "vapi", "voiceId": "joe"}),
        ("piper/joe", {"provider": "vapi", "voiceId": "joe"}),
        ("piper", {"provider": "vapi", "voiceId": "joe"}),
        ("espeak/fr", {"provider": "opencall-espeak", "voiceId": "fr"}),
        ("11labs/21m00Tcm4TlvDq8ikWAM", {"provider": "11labs", "voiceId": "21m00Tcm4TlvDq8ikWAM"}),
        ("elevenlabs/burt", {"provider": "11labs", "voiceId": "burt"}),
        ("cartesia/a0e99841", {"provider": "cartesia", "voiceId": "a0e99841"}),
    ],
)
def test_voice_string_becomes_a_voice_object(voice: str, expected: dict[str, Any]) -> None:
    assert vapi_assistant({"voice": voice})["voice"] == expected


def test_unknown_voice_string_is_rejected_on_voice() -> None:
    with pytest.raises(ValidationError) as caught:
        CreateAssistantRequest.model_validate({"voice": "robot"})
    (message,) = vapi_messages(caught.value.errors(), body={"voice": "robot"})
    assert message.startswith("voice must be a voice object")


def test_prompt_becomes_the_system_message_replacing_any_other() -> None:
    body = {
        "model": {
            "provider": "openai",
            "model": "gpt-4o",
            "messages": [{"role": "system", "content": "old"}, {"role": "assistant", "content": "Hi!"}],
        },
        "prompt": "You are a helpful receptionist.",
    }
    assert vapi_assistant(body)["model"]["messages"] == [
        {"role": "system", "content": "You are a helpful receptionist."},
        {"role": "assistant", "content": "Hi!"},
    ]


def test_seed_assistant_body_maps_to_vapi_form() -> None:
    body = {"name": "Receptionist", "model": "gpt-4o", "prompt": "Be brief.", "voice": "alloy"}
    assert vapi_assistant(body) == {
        "name": "Receptionist",
        "model": {
            "provider": "openai",
            "model": "gpt-4o",
            "messages": [{"role": "system", "content": "Be brief."}],
        },
        "voice": {"provider": "openai", "voiceId": "alloy"},
    }


def test_prompt_without_model_goes_to_the_embedded_model() -> None:
    model = vapi_assistant({"prompt": "Be brief."})["model"]
    assert model == {
        "provider": "vapi",
        "model": "smollm2-135m",
        "messages": [{"role": "system", "content": "Be brief."}],
    }


def test_name_only_assistant_gets_the_embedded_models() -> None:
    filled = apply_embedded_defaults(CreateAssistantDTO.model_validate({"name": "x"})).to_wire()
    assert filled["model"] == {"provider": "vapi", "model": "smollm2-135m"}
    assert filled["voice"] == {"provider": "vapi", "voiceId": "joe", "speed": 1.0}
    assert filled["transcriber"] == {"provider": "vapi", "model": "tiny.en", "language": "en"}


def test_embedded_defaults_keep_what_was_given() -> None:
    given = CreateAssistantDTO.model_validate({"voice": {"provider": "openai", "voiceId": "nova"}})
    assert apply_embedded_defaults(given).to_wire()["voice"] == {"provider": "openai", "voiceId": "nova"}


def test_seed_call_body_maps_to_vapi_form_and_extras() -> None:
    request = CreateCallRequest.model_validate(
        {
            "to": "+14155550123",
            "from": "+14155550000",
            "assistantId": "a1",
            "webhookUrl": "https://example.com/hook",
            "record": False,
            "recordingUrl": "https://bucket.example.com/rec.wav",
            "metadata": {"crm": 7},
        }
    )
    dto, extras = request.to_vapi()
    assert dto.to_wire() == {
        "assistantId": "a1",
        "customer": {"number": "+14155550123"},
        "assistantOverrides": {
            "server": {"url": "https://example.com/hook"},
            "artifactPlan": {"recordingEnabled": False},
            "metadata": {"crm": 7},
        },
    }
    assert extras.to_wire() == {
        "from": "+14155550000",
        "recordingUrl": "https://bucket.example.com/rec.wav",
        "metadata": {"crm": 7},
    }


def test_call_short_fields_merge_into_given_overrides() -> None:
    request = CreateCallRequest.model_validate(
        {
            "assistantId": "a1",
            "assistantOverrides": {"server": {"timeoutSeconds": 5}, "variableValues": {"n": "Ann"}},
            "webhookUrl": "https://example.com/hook",
        }
    )
    overrides = request.to_vapi()[0].to_wire()["assistantOverrides"]
    assert overrides == {
        "server": {"timeoutSeconds": 5, "url": "https://example.com/hook"},
        "variableValues": {"n": "Ann"},
    }


def test_call_short_fields_merge_into_objects_given_as_null() -> None:
    # Schemathesis found this 500: an explicit null is "not given", not an object to merge into.
    body = {"assistantId": "a1", "customer": None, "assistantOverrides": None, "to": "+15550001111"}
    dto = CreateCallRequest.model_validate({**body, "metadata": {"k": 1}}).to_vapi()[0].to_wire()
    assert dto["customer"] == {"number": "+15550001111"}
    assert dto["assistantOverrides"] == {"metadata": {"k": 1}}


def test_transient_assistant_in_a_call_accepts_short_forms() -> None:
    dto, _ = CreateCallRequest.model_validate({"assistant": {"model": "gpt-4o", "prompt": "Hi"}}).to_vapi()
    assert dto.to_wire()["assistant"]["model"]["provider"] == "openai"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"to": "555"}, "to must be a valid phone number in E.164 format"),
        ({"webhookUrl": "ftp://x"}, "webhookUrl must be an http(s) URL"),
        ({"record": "loud"}, "record must be a boolean value"),
        ({"metadata": 3}, "metadata must be an object"),
        ({"color": "red"}, "property color should not exist"),
    ],
)
def test_call_short_fields_are_validated(body: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CreateCallRequest.model_validate(body)
    assert any(message.startswith(expected) for message in vapi_messages(caught.value.errors(), body=body))


def test_request_json_schemas_document_the_extensions() -> None:
    call = CreateCallRequest.model_json_schema(by_alias=True)["properties"]
    for name in ("to", "from", "webhookUrl", "record", "recordingUrl", "metadata"):
        assert "launch-contract extension" in call[name]["description"]
    assistant = CreateAssistantRequest.model_json_schema(by_alias=True)["properties"]
    assert "launch-contract extension" in assistant["prompt"]["description"]
    assert {"type": "string"} in assistant["model"]["anyOf"]
