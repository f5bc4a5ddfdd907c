"""The embedded SmolLM2 on llama.cpp, directly and behind `POST /v1/chat/completions`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import aclosing

import httpx
import pytest
from fastapi import FastAPI

from opencall.api.openai_compat import router
from opencall.providers.base import ChatDone, ChatRequest, ProviderError, TextDelta
from opencall.providers.llm.local_llama import LocalLlama, fit_context, load, shared_model
from opencall.providers.registry import build_llm, model_request
from opencall.settings import Settings
from tests.sim.server import serve_asgi

pytestmark = pytest.mark.slow

SYSTEM = {
    "role": "system",
    "content": "You are the receptionist at Acme Dental. Answer in one short sentence.",
}
EOS_NEVER = {"logit_bias": {"2": -100.0}}  # token 2 is SmolLM2's <|im_end|>: forbid it, so only max_tokens stops


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(llm_threads=2, llm_context=2048)


@pytest.mark.timeout(60)
async def test_streams_a_nonempty_reply_with_usage(settings: Settings) -> None:
    await load(settings)
    llm = build_llm({"provider": "vapi"}, settings)
    request = model_request({"provider": "vapi", "maxTokens": 40}, [SYSTEM, {"role": "user", "content": "Hello!"}])

    events = [event async for event in llm.stream(request)]

    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.strip()
    done = events[-1]
    assert isinstance(done, ChatDone) and done.finish_reason in ("stop", "length")
    assert done.prompt_tokens > 20 and 0 < done.completion_tokens <= 40


@pytest.mark.timeout(60)
async def test_tools_are_accepted_though_smollm2_answers_in_text(settings: Settings) -> None:
    """SmolLM2 has no function calling: with tools offered it still answers, in text, and says so."""
    llm = build_llm({"provider": "vapi"}, settings)
    model = {"provider": "vapi", "maxTokens": 12, "tools": [{"type": "endCall"}]}
    request = model_request(model, [SYSTEM, {"role": "user", "content": "Goodbye!"}])
    assert request.tools and llm.supports_tools is False  # type: ignore[attr-defined]

    events = [event async for event in llm.stream(request)]

    assert isinstance(events[-1], ChatDone) and events[-1].completion_tokens > 0


@pytest.mark.timeout(60)
async def test_closing_the_stream_stops_generation_at_once(settings: Settings) -> None:
    """Barge-in: a reply that would run ~10 s is dropped after 3 tokens; the model is free right away."""
    llm = LocalLlama(settings)
    endless = ChatRequest(
        model="smollm2",
        messages=[SYSTEM, {"role": "user", "content": "Tell me a very long story."}],
        max_tokens=1000,
        extra_body=EOS_NEVER,
    )
    deltas = 0
    started = time.monotonic()
    async with aclosing(llm.stream(endless)) as stream:
        async for event in stream:
            deltas += isinstance(event, TextDelta)
            if deltas == 3:
                break
    three_tokens_s = time.monotonic() - started

    started = time.monotonic()
    short = ChatRequest(model="smollm2", messages=[SYSTEM, {"role": "user", "content": "Hi"}], max_tokens=3)
    async with aclosing(llm.stream(short)) as reply:
        first = [e async for e in reply if isinstance(e, TextDelta)][0]
    assert first.text
    # Uncancelled, the first request would hold the single llama thread for 997 more tokens, some
    # 30x the cost of a prefill and 3 tokens; compared with the same run's speed, so a busy CPU
    # slows both sides alike.
    assert time.monotonic() - started < 3 * three_tokens_s + 0.5


@pytest.mark.timeout(60)
async def test_concurrent_calls_are_served_one_after_another_without_mixing(settings: Settings) -> None:
    llm = LocalLlama(settings)
    requests = [
        ChatRequest(model="smollm2", messages=[SYSTEM, {"role": "user", "content": q}], max_tokens=8, temperature=0)
        for q in ("What is your name?", "Where are you?")
    ]

    async def reply(request: ChatRequest) -> str:
        return "".join([e.text async for e in llm.stream(request) if isinstance(e, TextDelta)])

    together = await asyncio.gather(*(reply(r) for r in requests))
    alone = [await reply(r) for r in requests]
    assert together == alone


@pytest.mark.timeout(60)
async def test_long_history_is_trimmed_deep_once_and_the_prefix_then_stays_put(settings: Settings) -> None:
    await load(settings)
    llama = shared_model(settings)
    turn = "The quick brown fox jumps over the lazy dog. " * 3  # 30 tokens + framing
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"{i}: {turn}"} for i in range(12)]

    kept, tokens, dropped = fit_context(llama, [SYSTEM, *history], budget_tokens=300)
    assert kept[0] == SYSTEM and kept[-1] == history[-1]
    assert tokens <= 150 and dropped == 12 - (len(kept) - 1)

    later = [SYSTEM, *history, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "and?"}]
    kept_later, _, dropped_later = fit_context(llama, later, budget_tokens=300, skip=dropped)
    assert dropped_later == dropped, "a turn that fits again must not shift the prompt's prefix"
    assert kept_later[: len(kept)] == kept

    with pytest.raises(ProviderError) as raised:
        fit_context(llama, [SYSTEM, {"role": "user", "content": turn * 20}], budget_tokens=300)
    assert raised.value.reason == "pipeline-error-vapi-llm-failed"


@pytest.mark.timeout(60)
async def test_a_prewarmed_prompt_leaves_a_request_sharing_it_only_its_tail_to_read(settings: Settings) -> None:
    import llama_cpp

    llm = LocalLlama(settings)
    llama = shared_model(settings)
    system = {"role": "system", "content": "You are the front desk of a bike shop called Spokes. Be brief."}

    def request(user: str) -> ChatRequest:
        return ChatRequest(model="smollm2", messages=[system, {"role": "user", "content": user}], max_tokens=1)

    async def prompt_tokens_read(user: str) -> int:
        llama_cpp.llama_perf_context_reset(llama.ctx)
        async for _ in llm.stream(request(user)):
            pass
        return int(llama_cpp.llama_perf_context(llama.ctx).n_p_eval)

    await prompt_tokens_read("Hi.")  # the system prompt is read (and cached) once
    unwarmed = await prompt_tokens_read("I would like to book a repair for my bike on Tuesday morning.")
    said = "Could you tell me how much a new chain for a road bike costs"
    await llm.prewarm(request(said))  # the partial transcript, while the caller still talks
    warmed = await prompt_tokens_read(said + " today?")
    assert unwarmed >= 15, unwarmed  # the words and the turn's framing
    assert warmed <= 10, warmed  # " today?" and the framing
    assert warmed < unwarmed - 5


@pytest.mark.timeout(60)
async def test_cached_prompt_states_keep_one_row_of_logits_and_still_answer_the_same(settings: Settings) -> None:
    llm = LocalLlama(settings)
    llama = shared_model(settings)
    asked = [SYSTEM, {"role": "user", "content": "When do you open?"}]
    request = ChatRequest(model="smollm2", messages=asked, max_tokens=8, temperature=0)

    async def reply() -> str:
        return "".join([e.text async for e in llm.stream(request) if isinstance(e, TextDelta)])

    first = await reply()
    other = ChatRequest(model="smollm2", messages=[{"role": "user", "content": "Count to three."}], max_tokens=4)
    async for _ in llm.stream(other):  # the context moves to another prompt ...
        pass
    assert await reply() == first  # ... and the first comes back from the cache, answering the same
    states = list(llama.cache.cache_state.values())  # type: ignore[union-attr]
    assert states and all(state.scores.shape[0] == 1 for state in states)


# --- the same model as an OpenAI endpoint ----------------------------------------------------------


@pytest.fixture
async def embedded_url() -> AsyncIterator[str]:
    app = FastAPI()
    app.include_router(router)
    async with serve_asgi(app) as url:
        yield url


@pytest.mark.timeout(60)
async def test_endpoint_streams_openai_chunks_and_done(embedded_url: str) -> None:
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 8,
        "stream": True,
    }
    body["stream_options"] = {"include_usage": True}
    async with httpx.AsyncClient() as client:
        async with client.stream("POST", f"{embedded_url}/v1/chat/completions", json=body) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = [line async for line in response.aiter_lines() if line.startswith("data: ")]

    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]).strip()
    assert chunks[-2]["choices"][0]["finish_reason"] in ("stop", "length")
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.timeout(60)
async def test_endpoint_answers_a_whole_completion_without_stream(embedded_url: str) -> None:
    body = {"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "max_completion_tokens": 8}
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{embedded_url}/v1/chat/completions", json=body)
    assert response.status_code == 200
    completion = response.json()
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["role"] == "assistant"
    assert completion["choices"][0]["message"]["content"].strip()


@pytest.mark.timeout(60)
async def test_embedded_model_is_reachable_as_a_custom_llm(embedded_url: str) -> None:
    cfg = {"provider": "custom-llm", "url": f"{embedded_url}/v1", "model": "smollm2", "maxTokens": 10}
    request = model_request(cfg, [{"role": "user", "content": "Hello"}], extra_body={"call": {"id": "c-1"}})
    events = [event async for event in build_llm(cfg, Settings()).stream(request)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).strip()
    assert isinstance(events[-1], ChatDone) and events[-1].finish_reason in ("stop", "length")
