"""Streaming Chat Completions client for every OpenAI-compatible LLM: `openai`, `custom-llm`, groq, ...

One pooled `httpx.AsyncClient` per event loop carries all calls (keep-alive saves the TLS handshake
on every turn). Server-sent events are decoded here; chunk semantics live in `openai_stream`.
HTTP failures become Vapi's `pipeline-error-<provider>-...` endedReasons.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from opencall.providers.base import ChatEvent, ChatRequest, ProviderError
from opencall.providers.llm.openai_stream import UpstreamError, parse_chunks
from opencall.settings import Settings

log = logging.getLogger(__name__)

# Public OpenAI-compatible endpoints, keyed by Vapi's `model.provider` (from each vendor's docs).
BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "groq": "https://api.groq.com/openai/v1",
    "together-ai": "https://api.together.xyz/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "deepinfra": "https://api.deepinfra.com/v1/openai",
    "deep-seek": "https://api.deepseek.com/v1",
    "xai": "https://api.x.ai/v1",
    "cerebras": "https://api.cerebras.ai/v1",
    "perplexity-ai": "https://api.perplexity.ai",
    "mistral": "https://api.mistral.ai/v1",
    "anyscale": "https://api.endpoints.anyscale.com/v1",
}

CUSTOM_LLM_TIMEOUT_S = 20.0  # Vapi CustomLLMModel.timeoutSeconds default
CLOUD_TIMEOUT_S = 20.0  # same budget for the clouds; a read gap longer than this is a dead stream
METADATA_FIELDS = ("metadata", "call", "phoneNumber", "customer")
"""What Vapi adds to custom-llm bodies when metadataSendMode is not `off` (Vapi docs)."""

_STATUS_REASONS = {
    400: "400-bad-request-validation-failed",
    401: "401-unauthorized",
    403: "403-model-access-denied",
    429: "429-exceeded-quota",
    503: "503-server-overloaded-error",
}

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()


def shared_client() -> httpx.AsyncClient:
    """The process's pooled client (one per event loop: an httpx pool cannot cross loops)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=60)
        client = httpx.AsyncClient(limits=limits, timeout=CLOUD_TIMEOUT_S)
        _clients[loop] = client
    return client


async def aclose_shared_client() -> None:
    """Close this loop's pooled client (app shutdown)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


class OpenAICompatibleLLM:
    """A `ChatModel` that POSTs `{base_url}/chat/completions` with `stream: true` and reads SSE."""

    supports_tools = True

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = CLOUD_TIMEOUT_S,
        metadata_send_mode: str = "variable",
        usage_in_stream: bool = False,
    ) -> None:
        self.provider = provider
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Accept": "text/event-stream", **(headers or {})}
        if api_key and not any(k.lower() == "authorization" for k in self._headers):
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = httpx.Timeout(timeout_s)
        self._metadata_send_mode = metadata_send_mode
        self._usage_in_stream = usage_in_stream

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body sent for `request` (public so tests and logs can show it)."""
        body: dict[str, Any] = {"model": request.model, "messages": request.messages, "stream": True}
        if self._usage_in_stream:
            body["stream_options"] = {"include_usage": True}
        if request.tools:
            body["tools"] = request.tools
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            # OpenAI's newer models refuse `max_tokens`; every other server still expects it.
            key = "max_completion_tokens" if self.provider == "openai" else "max_tokens"
            body[key] = request.max_tokens
        body.update(self._extra(request.extra_body))
        return body

    def _extra(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in extra.items() if k not in METADATA_FIELDS}
        if self._metadata_send_mode == "off":
            return out
        for key in METADATA_FIELDS:
            if key in extra:
                out[key] = extra[key]
        if self._metadata_send_mode == "destructured" and isinstance(out.get("metadata"), Mapping):
            out.update(out.pop("metadata"))
        return out

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        try:
            async with shared_client().stream(
                "POST", self.url, json=self.body(request), headers=self._headers, timeout=self._timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self._http_error(response)
                async with contextlib.aclosing(parse_chunks(_sse_chunks(response))) as events:
                    async for event in events:
                        yield event
        except httpx.TimeoutException as exc:
            raise self._error("llm-failed", f"timed out: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise self._error("llm-failed", f"{type(exc).__name__}: {exc}") from exc
        except UpstreamError as exc:
            raise self._error("llm-failed", str(exc)) from exc

    def _error(self, suffix: str, detail: str) -> ProviderError:
        return ProviderError(f"pipeline-error-{self.provider}-{suffix}", detail)

    def _http_error(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        suffix = _STATUS_REASONS.get(status) or ("500-server-error" if status >= 500 else "llm-failed")
        detail = f"HTTP {status}: {_error_message(response)}"
        log.warning("%s %s -> %s", self.provider, self.url, detail)
        return self._error(suffix, detail)


def _error_message(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return json.dumps(payload)[:300]


async def _sse_chunks(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """JSON objects from `data:` lines; `[DONE]` ends the stream (OpenAI SSE framing)."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
            continue
        if line or not data:
            continue  # comments (":"), `event:`/`id:` fields, keep-alive blank lines
        payload = "\n".join(data)
        data.clear()
        if payload.strip() == "[DONE]":
            return
        yield _decode_event(payload)
    if data and "\n".join(data).strip() != "[DONE]":
        yield _decode_event("\n".join(data))


def _decode_event(payload: str) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise UpstreamError(f"malformed SSE data: {payload[:200]}") from exc
    if not isinstance(value, dict):
        raise UpstreamError(f"SSE data is not an object: {payload[:200]}")
    return value


def create(config: Mapping[str, Any], settings: Settings, api_key: str | None = None) -> OpenAICompatibleLLM:
    """Build the client for a Vapi model object (`openai`, `custom-llm` or a provider in BASE_URLS)."""
    provider = str(config["provider"])
    if provider == "custom-llm":
        url = config.get("url")
        if not url:
            raise ProviderError("pipeline-error-custom-llm-llm-failed", "custom-llm model has no `url`")
        timeout = config.get("timeoutSeconds")
        return OpenAICompatibleLLM(
            provider,
            str(url),
            api_key=api_key,
            headers={str(k): str(v) for k, v in (config.get("headers") or {}).items()},
            timeout_s=float(timeout) if timeout else CUSTOM_LLM_TIMEOUT_S,
            metadata_send_mode=str(config.get("metadataSendMode") or "variable"),
        )
    base_url = settings.cloud_base_urls.get(provider) or BASE_URLS.get(provider)
    if base_url is None:
        raise ProviderError(f"pipeline-error-{provider}-llm-failed", f"no OpenAI-compatible URL: {provider}")
    if not api_key:
        raise ProviderError(f"pipeline-error-{provider}-401-unauthorized", f"no API key for {provider}")
    return OpenAICompatibleLLM(
        provider, base_url, api_key=api_key, metadata_send_mode="off", usage_in_stream=provider == "openai"
    )
