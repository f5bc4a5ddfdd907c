"""Choosing providers from an assistant's config, and turning a Vapi model object into a request."""

from __future__ import annotations

import pytest

from opencall.providers.base import ChatModel, ChatRequest, SpeechToText, TextToSpeech, UnsupportedProvider
from opencall.providers.llm.openai_compat import BASE_URLS, OpenAICompatibleLLM
from opencall.providers.registry import api_key_for, build_llm, build_stt, build_tts, model_request
from opencall.settings import Settings

SETTINGS = Settings()


@pytest.mark.parametrize(
    ("build", "config", "reason"),
    [
        (build_tts, {"provider": "cartesia", "voiceId": "x"}, "pipeline-error-cartesia-voice-failed"),
        (build_tts, {"provider": "custom-voice"}, "pipeline-error-custom-voice-failed"),
        (build_stt, {"provider": "azure"}, "pipeline-error-azure-speech-transcriber-failed"),
        (build_stt, {"provider": "11labs"}, "pipeline-error-eleven-labs-transcriber-failed"),
        (build_stt, {"provider": "gladia"}, "pipeline-error-gladia-transcriber-failed"),
        (build_llm, {"provider": "anthropic", "model": "claude"}, "pipeline-error-anthropic-llm-failed"),
    ],
)
def test_unsupported_providers_fail_with_vapis_reason(build, config, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedProvider) as raised:
        build(config, SETTINGS)
    assert raised.value.reason == reason
    assert config["provider"] in raised.value.detail


def test_embedded_providers_build_the_local_adapters() -> None:
    stt = build_stt({"provider": "vapi"}, SETTINGS)
    llm = build_llm({"provider": "vapi"}, SETTINGS)
    piper = build_tts({"provider": "vapi", "speed": 1.2}, SETTINGS)
    espeak = build_tts({"provider": "opencall-espeak"}, SETTINGS)
    assert isinstance(stt, SpeechToText) and stt.provider == "vapi"
    assert isinstance(llm, ChatModel) and llm.provider == "vapi"
    assert isinstance(piper, TextToSpeech) and piper.provider == "vapi"
    assert isinstance(espeak, TextToSpeech) and espeak.provider == "opencall-espeak"


def test_cloud_adapters_follow_base_url_overrides() -> None:
    settings = Settings(cloud_base_urls={"deepgram": "http://127.0.0.1:9", "11labs": "https://tts.local"})
    creds = [{"provider": "deepgram", "apiKey": "d"}, {"provider": "11labs", "apiKey": "e"}]
    stt = build_stt({"provider": "deepgram"}, settings, creds)
    tts = build_tts({"provider": "11labs", "voiceId": "v1"}, settings, creds)
    assert stt.url(8000).startswith("ws://127.0.0.1:9/v1/listen?model=nova-3&language=en")  # type: ignore[attr-defined]
    assert "sample_rate=8000" in stt.url(8000)  # type: ignore[attr-defined]
    assert tts.url.startswith("wss://tts.local/v1/text-to-speech/v1/stream-input?model_id=")  # type: ignore[attr-defined]


@pytest.mark.parametrize("provider", sorted(BASE_URLS))
def test_every_openai_compatible_provider_posts_to_its_chat_completions(provider: str) -> None:
    llm = build_llm({"provider": provider, "model": "m"}, SETTINGS, [{"provider": provider, "apiKey": "k"}])
    assert isinstance(llm, OpenAICompatibleLLM)
    assert llm.url == BASE_URLS[provider] + "/chat/completions"


def test_inline_credential_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCALL_ELEVENLABS_API_KEY", "from-env")
    monkeypatch.setenv("OPENCALL_TOGETHER_AI_API_KEY", "together-env")
    assert api_key_for("11labs") == "from-env"
    assert api_key_for("11labs", [{"provider": "11labs", "apiKey": "inline"}]) == "inline"
    assert api_key_for("together-ai") == "together-env"
    monkeypatch.delenv("OPENCALL_OPENAI_API_KEY", raising=False)
    assert api_key_for("openai", [{"provider": "11labs", "apiKey": "inline"}]) is None


def test_model_request_maps_vapi_model_and_tools_to_chat_completions() -> None:
    model = {
        "provider": "openai",
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "Be brief."}],
        "reasoningEffort": "low",
        "tools": [
            {
                "type": "function",
                "async": False,
                "server": {"url": "https://tools.example/hook"},
                "function": {
                    "name": "book",
                    "description": "Book a slot",
                    "parameters": {"type": "object", "properties": {"day": {"type": "string"}}, "required": ["day"]},
                },
            },
            {"type": "endCall"},
            {"type": "transferCall", "destinations": [{"type": "number", "number": "+15550100"}]},
            {"type": "dtmf"},
            {"type": "apiRequest", "method": "GET", "url": "https://x", "name": "lookup"},
            {"type": "query", "knowledgeBases": []},
        ],
    }

    request = model_request(model)

    assert request == ChatRequest(
        model="gpt-4o",
        messages=[{"role": "system", "content": "Be brief."}],
        tools=request.tools,
        temperature=0.5,
        max_tokens=250,
        extra_body={"reasoning_effort": "low"},
    )
    functions = {t["function"]["name"]: t["function"] for t in request.tools}
    assert all(t["type"] == "function" for t in request.tools)
    assert list(functions) == ["book", "endCall", "transferCall", "dtmf", "lookup"]
    assert functions["book"] == model["tools"][0]["function"]  # type: ignore[index]
    assert functions["transferCall"]["parameters"]["properties"]["destination"]["enum"] == ["+15550100"]
    assert functions["lookup"]["parameters"] == {"type": "object", "properties": {}}


def test_model_request_takes_the_conversation_and_resolved_tools_from_the_caller() -> None:
    conversation = [{"role": "system", "content": "Hi"}, {"role": "user", "content": "Book me"}]
    tools = [{"type": "function", "function": {"name": "saved_tool"}}]
    model = {"provider": "custom-llm", "model": "m", "temperature": 0, "maxTokens": 60, "tools": [{"type": "endCall"}]}

    request = model_request(model, conversation, tools, extra_body={"call": {"id": "c"}})

    assert request.messages == conversation and request.messages is not conversation
    assert [t["function"]["name"] for t in request.tools] == ["saved_tool"]
    assert request.tools[0]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert (request.temperature, request.max_tokens, request.extra_body) == (0.0, 60, {"call": {"id": "c"}})
