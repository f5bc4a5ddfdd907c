"""The OpenAI-compatible client against the Chat Completions simulator and a real llama.cpp server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack

import httpx
import pytest

from opencall.providers.base import (
    ChatDone,
    ChatEvent,
    ChatModel,
    ChatRequest,
    ProviderError,
    TextDelta,
    ToolCallRequest,
)
from opencall.providers.llm.local_llama import model_path
from opencall.providers.registry import build_llm, model_request
from opencall.settings import Settings
from tests.sim.openai import Call, Failure, OpenAISim, Reply, Script, ToolCalls
from tests.sim.server import bound_socket

KEY = "sk-test-123"
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi there"}]


async def collect(model: ChatModel, request: ChatRequest) -> list[ChatEvent]:
    return [event async for event in model.stream(request)]


def text_of(events: Sequence[ChatEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.fixture
async def openai_at() -> AsyncIterator[Callable[..., Awaitable[tuple[OpenAISim, ChatModel]]]]:
    """Start a simulator with a script; the model is `openai` pointed at it with the right key."""
    async with AsyncExitStack() as stack:

        async def start(script: Script, **model: object) -> tuple[OpenAISim, ChatModel]:
            sim = OpenAISim(script, api_key=KEY)
            url = await stack.enter_async_context(sim.serve())
            settings = Settings(cloud_base_urls={"openai": url})
            cfg = {"provider": "openai", "model": "gpt-4o-mini", **model}
            return sim, build_llm(cfg, settings, credentials=[{"provider": "openai", "apiKey": KEY}])

        yield start


@pytest.mark.timeout(20)
async def test_streamed_reply_arrives_token_by_token_with_bearer_key(openai_at) -> None:
    sim, llm = await openai_at([Reply("Sure, I can help with that.")])
    request = model_request({"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.2}, MESSAGES)

    events = await collect(llm, request)

    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert [d.text for d in deltas] == ["Sure,", " I", " can", " help", " with", " that."]
    assert events[-1] == ChatDone(finish_reason="stop", prompt_tokens=10, completion_tokens=6)
    sent = sim.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["stream"] is True and sent.body["messages"] == MESSAGES
    assert sent.body["temperature"] == 0.2 and sent.body["max_completion_tokens"] == 250


@pytest.mark.timeout(20)
async def test_tool_calls_split_across_chunks_are_assembled_exactly(openai_at) -> None:
    booking = {"date": "2026-12-01", "time": "09:30", "notes": 'first visit, "urgent"'}
    _, llm = await openai_at(
        [ToolCalls([Call("book", booking, id="call_A"), Call("lookup", {"name": "Ann"}, id="call_B")], pieces=5)]
    )
    tools = [{"type": "function", "function": {"name": "book", "parameters": {"type": "object", "properties": {}}}}]

    events = await collect(llm, model_request({"provider": "openai", "model": "gpt-4o"}, MESSAGES, tools))

    calls = [e for e in events if isinstance(e, ToolCallRequest)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_A", "book", booking),
        ("call_B", "lookup", {"name": "Ann"}),
    ]
    assert json.loads(calls[0].raw_arguments) == booking
    assert text_of(events) == ""
    assert isinstance(events[-1], ChatDone) and events[-1].finish_reason == "tool_calls"


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, "pipeline-error-openai-401-unauthorized"),
        (429, "pipeline-error-openai-429-exceeded-quota"),
        (500, "pipeline-error-openai-500-server-error"),
        (503, "pipeline-error-openai-503-server-overloaded-error"),
    ],
)
async def test_http_errors_end_the_call_with_vapi_reasons(openai_at, status: int, reason: str) -> None:
    _, llm = await openai_at([Failure(status)])
    with pytest.raises(ProviderError) as raised:
        await collect(llm, ChatRequest(model="gpt-4o", messages=MESSAGES))
    assert raised.value.reason == reason


@pytest.mark.timeout(20)
async def test_wrong_key_is_refused_by_the_simulator_as_401() -> None:
    sim = OpenAISim([Reply("never sent")], api_key=KEY)
    async with sim.serve() as url:
        llm = build_llm(
            {"provider": "groq", "model": "llama"},
            Settings(cloud_base_urls={"groq": url}),
            [{"provider": "groq", "apiKey": "wrong"}],
        )
        with pytest.raises(ProviderError) as raised:
            await collect(llm, ChatRequest(model="llama", messages=MESSAGES))
    assert raised.value.reason == "pipeline-error-groq-401-unauthorized"
    assert "Incorrect API key" in raised.value.detail


@pytest.mark.timeout(20)
async def test_custom_llm_sends_headers_and_metadata_as_variable_or_destructured() -> None:
    sim = OpenAISim([Reply("one"), Reply("two"), Reply("three")])
    extra = {"metadata": {"tenant": "acme"}, "call": {"id": "call-1"}, "customer": {"number": "+15550001"}}
    async with sim.serve() as url:
        for mode in ("variable", "destructured", "off"):
            cfg = {
                "provider": "custom-llm",
                "url": url,
                "model": "mine",
                "headers": {"X-Tenant": "acme"},
                "metadataSendMode": mode,
            }
            events = await collect(build_llm(cfg, Settings()), model_request(cfg, MESSAGES, extra_body=extra))
            assert text_of(events)
    variable, destructured, off = (r.body for r in sim.requests)
    assert variable["metadata"] == {"tenant": "acme"} and variable["call"] == {"id": "call-1"}
    assert (
        destructured["tenant"] == "acme" and "metadata" not in destructured and destructured["call"] == {"id": "call-1"}
    )
    assert not {"metadata", "call", "customer", "tenant"} & off.keys()
    assert all(r.headers["x-tenant"] == "acme" and "authorization" not in r.headers for r in sim.requests)
    assert sim.requests[0].path == "/v1/chat/completions"


@pytest.mark.timeout(20)
async def test_custom_llm_slower_than_timeout_seconds_fails_as_llm_failed() -> None:
    sim = OpenAISim([Reply("late", ttft_s=2.0)])
    async with sim.serve() as url:
        cfg = {"provider": "custom-llm", "url": url, "model": "slow", "timeoutSeconds": 0.5}
        started = time.monotonic()
        with pytest.raises(ProviderError) as raised:
            await collect(build_llm(cfg, Settings()), ChatRequest(model="slow", messages=MESSAGES))
    assert raised.value.reason == "pipeline-error-custom-llm-llm-failed"
    assert time.monotonic() - started < 1.8


def test_cloud_provider_without_a_key_fails_at_build_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCALL_OPENAI_API_KEY", raising=False)
    with pytest.raises(ProviderError) as raised:
        build_llm({"provider": "openai", "model": "gpt-4o"}, Settings())
    assert raised.value.reason == "pipeline-error-openai-401-unauthorized"


# --- a real OpenAI-compatible server: llama-cpp-python's own, running SmolLM2 ---------------------


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with bound_socket() as sock:
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--n_ctx", "2048", "--n_threads", "2"]
    log = tmp_path_factory.mktemp("llama") / "server.log"  # a file, not a pipe: the load log is ~200 kB
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                raise RuntimeError("llama_cpp.server did not answer within 60 s")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_custom_llm_streams_a_reply_from_a_real_llama_cpp_server(llama_server: str) -> None:
    cfg = {
        "provider": "custom-llm",
        "url": llama_server,
        "model": "smollm2",
        "maxTokens": 40,
        "temperature": 0,
    }
    messages = [{"role": "user", "content": "Say hello to Maria in one short sentence."}]

    events = await collect(build_llm(cfg, Settings()), model_request(cfg, messages, extra_body={"call": {"id": "c1"}}))

    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) >= 2, "the reply should stream in several chunks"
    assert len(text_of(events).split()) >= 2
    assert isinstance(events[-1], ChatDone) and events[-1].finish_reason in ("stop", "length")
