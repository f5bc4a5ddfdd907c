"""Deepgram live transcription over its WebSocket API (`wss://api.deepgram.com/v1/listen`).

Audio goes up as binary linear16 frames; `Results` messages come back with interim and final
text. Deepgram finalises speech in segments (`is_final`); our protocol promises one final per
`finalize()` reading everything pushed to the stream so far (the stream is one user turn, as the
local Whisper does it), so segments are joined here, after the text of earlier finals, and the
final is released when Deepgram has answered our `Finalize` — its `from_finalize` result, or any
final reaching the audio sent before it. Interim results carry the turn so far the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, InvalidHandshake, InvalidStatus

from opencall.providers.base import ProviderError, SttStream, Transcript
from opencall.settings import Settings

log = logging.getLogger(__name__)

PROVIDER = "deepgram"
BASE_URL = "wss://api.deepgram.com"
DEFAULT_MODEL = "nova-3"
DEFAULT_LANGUAGE = "en"
KEEPALIVE_S = 4.0  # Deepgram closes after 10 s without audio or a message (NET-0001); docs say 3-5 s
FINALIZE_TIMEOUT_S = 2.0
"""Release the final anyway once Deepgram has been silent this long with a `Finalize` unanswered
(its docs: it answers "in most cases", when audio was buffered). Counted from its last message, so
a slow but working server is waited for."""
COVERED_SLACK_S = 0.25  # a final ending this close to the audio sent counts as covering all of it
CLOSE_TIMEOUT_S = 3.0  # wait for the last results after CloseStream, then drop the socket
CONNECT_TIMEOUT_S = 10.0

FAILED = "pipeline-error-deepgram-transcriber-failed"
_HANDSHAKE_REASONS = {  # HTTP status of a refused upgrade -> Vapi endedReason
    400: "pipeline-error-deepgram-returning-400-no-such-model-language-tier-combination",
    401: "pipeline-error-deepgram-returning-401-invalid-credentials",
    403: "pipeline-error-deepgram-returning-403-model-access-denied",
    404: "pipeline-error-deepgram-returning-404-not-found",
}


class DeepgramStt:
    provider = PROVIDER
    supports_streaming = True

    def __init__(self, api_key: str, base_url: str, config: Mapping[str, Any]) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._query = _query(config)
        self._language = str(config.get("language") or DEFAULT_LANGUAGE)

    def url(self, sample_rate: int) -> str:
        audio = [("encoding", "linear16"), ("sample_rate", str(sample_rate)), ("channels", "1")]
        return f"{self._base_url}/v1/listen?{urlencode(self._query + audio)}"

    def open_stream(self, sample_rate: int) -> SttStream:
        headers = {"Authorization": f"Token {self._api_key}"}
        return DeepgramStream(self.url(sample_rate), headers, sample_rate, self._language)


class DeepgramStream:
    """One live connection, opened at once (build it on the event loop); audio queues until it is up."""

    def __init__(self, url: str, headers: Mapping[str, str], sample_rate: int, language: str) -> None:
        self._url = url
        self._headers = dict(headers)
        self._bytes_per_s = sample_rate * 2
        self._language = language
        self._outgoing: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self._transcripts: asyncio.Queue[Transcript | ProviderError | None] = asyncio.Queue()
        self._audio_s = 0.0
        self._segments: list[tuple[str, float | None]] = []
        self._released: list[tuple[str, float | None]] = []  # segments of finals already given out
        self._waiting: list[float] = []  # audio position of each unanswered finalize()
        self._released_to = 0.0  # audio position up to which finals were given out
        self._unanswered = 0  # finalizes released on the timeout, whose `from_finalize` may still come
        self._deadline: asyncio.TimerHandle | None = None
        self._error: ProviderError | None = None
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def push(self, pcm16: bytes) -> None:
        if self._error is not None:
            raise self._error
        if self._closed or not pcm16:
            return
        self._audio_s += len(pcm16) / self._bytes_per_s
        self._outgoing.put_nowait(pcm16)

    async def anticipate(self) -> None:
        """Nothing to do: Deepgram reads the stream as it comes and finalizes on its own endpointing."""

    async def finalize(self) -> None:
        if self._closed or self._error is not None:
            return
        self._waiting.append(self._audio_s)
        self._outgoing.put_nowait(json.dumps({"type": "Finalize"}))
        self._restart_deadline()

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while (item := await self._transcripts.get()) is not None:
            if isinstance(item, ProviderError):
                raise item
            yield item

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._outgoing.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # --- connection ------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            async with connect(
                self._url, additional_headers=self._headers, open_timeout=CONNECT_TIMEOUT_S, max_size=2**22
            ) as ws:
                sender = asyncio.create_task(self._send(ws))
                try:
                    async for message in ws:
                        if isinstance(message, str):
                            self._on_message(json.loads(message))
                finally:
                    sender.cancel()
        except InvalidStatus as exc:
            status = exc.response.status_code
            self._fail(_HANDSHAKE_REASONS.get(status, FAILED), f"handshake refused: HTTP {status}")
        except ConnectionClosedError as exc:
            self._fail(FAILED, f"closed with {exc.rcvd.code if exc.rcvd else 'no'} code: {exc}")
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            self._fail(FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            self._release_all()
            self._transcripts.put_nowait(None)

    async def _send(self, ws: ClientConnection) -> None:
        while True:
            try:
                item = await asyncio.wait_for(self._outgoing.get(), KEEPALIVE_S)
            except TimeoutError:
                item = json.dumps({"type": "KeepAlive"})
            if item is None:
                await ws.send(json.dumps({"type": "CloseStream"}))
                return
            await ws.send(item)

    def _fail(self, reason: str, detail: str) -> None:
        if self._closed and reason == FAILED:
            log.debug("deepgram: connection ended badly while closing: %s", detail)
            return
        self._error = ProviderError(reason, detail)
        self._transcripts.put_nowait(self._error)

    # --- results -> transcripts -------------------------------------------------------------------

    def _restart_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._waiting:
            self._deadline = asyncio.get_running_loop().call_later(FINALIZE_TIMEOUT_S, self._release_all)

    def _on_message(self, message: Mapping[str, Any]) -> None:
        self._restart_deadline()
        kind = message.get("type")
        if kind == "Error":
            self._fail(FAILED, str(message.get("description") or message.get("message") or message))
            return
        if kind != "Results":
            return  # Metadata, SpeechStarted, UtteranceEnd
        alternatives = (message.get("channel") or {}).get("alternatives") or [{}]
        text = str(alternatives[0].get("transcript") or "").strip()
        confidence = alternatives[0].get("confidence")
        if not message.get("is_final"):
            if text:
                self._transcripts.put_nowait(self._utterance(text, confidence, is_final=False))
            return
        end = float(message.get("start") or 0.0) + float(message.get("duration") or 0.0)
        if text and end <= self._released_to + COVERED_SLACK_S:
            # Audio of an utterance already released on the timeout: its words are late, and
            # adding them to the next utterance would put them in the wrong turn.
            log.debug("deepgram: dropping late final for released audio: %r", text)
            text = ""
        if text:
            self._segments.append((text, confidence))
        answers = bool(message.get("from_finalize"))
        if answers and self._unanswered:
            self._unanswered -= 1  # the late answer to a finalize already released; not to the next one
            answers = False
        while self._waiting and (answers or end >= self._waiting[0] - COVERED_SLACK_S):
            self._release(self._waiting.pop(0))
            answers = False
        self._restart_deadline()

    def _utterance(self, tail: str, confidence: float | None, is_final: bool) -> Transcript:
        heard = self._released + self._segments
        parts = [t for t, _ in heard] + ([tail] if tail else [])
        scores = [c for _, c in heard if c is not None] + ([confidence] if confidence is not None else [])
        return Transcript(" ".join(parts), is_final, min(scores) if scores else None, self._language)

    def _release(self, position: float) -> None:
        self._transcripts.put_nowait(self._utterance("", None, is_final=True))
        self._released += self._segments
        self._segments = []
        self._released_to = max(self._released_to, position)

    def _release_all(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._waiting:
            log.debug("deepgram: %d finalize(s) unanswered; releasing what was heard", len(self._waiting))
        while self._waiting:
            self._release(self._waiting.pop(0))
            self._unanswered += 1


def _query(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Deepgram query parameters from Vapi's DeepgramTranscriber fields (lists as repeated keys)."""
    query = [
        ("model", str(config.get("model") or DEFAULT_MODEL)),
        ("language", str(config.get("language") or DEFAULT_LANGUAGE)),
        ("interim_results", "true"),
        ("punctuate", "true"),
        ("smart_format", _flag(config.get("smartFormat", True))),
    ]
    if config.get("endpointing") is not None:
        query.append(("endpointing", str(int(config["endpointing"]))))
    for field, param in (("numerals", "numerals"), ("profanityFilter", "profanity_filter")):
        if config.get(field) is not None:
            query.append((param, _flag(config[field])))
    for field, param in (("keywords", "keywords"), ("keyterm", "keyterm"), ("redaction", "redact")):
        query += [(param, str(value)) for value in config.get(field) or ()]
    return query


def _flag(value: Any) -> str:
    return "true" if value else "false"


def create(config: Mapping[str, Any], settings: Settings, api_key: str | None = None) -> DeepgramStt:
    if not api_key:
        raise ProviderError("pipeline-error-deepgram-transcriber-api-key-missing", "no Deepgram API key")
    base = settings.cloud_base_urls.get(PROVIDER) or BASE_URL
    base = base.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return DeepgramStt(api_key, base, config)
