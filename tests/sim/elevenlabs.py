"""An ElevenLabs input-streaming TTS simulator (`/v1/text-to-speech/{voice_id}/stream-input`).

Speaks the documented protocol: `xi-api-key` on the upgrade (or `xi_api_key` in the first
message), a first message whose text is a single space (with optional `voice_settings`), text
messages buffered until `flush`, `try_trigger_generation` past the first `chunk_length_schedule`
step (120 characters by default) or the end of input (`{"text": ""}`); replies
`{"audio": <base64 PCM>, "isFinal": null, "normalizedAlignment": ..., "alignment": ...}` and a last
`{"isFinal": true}` before closing. `output_format=pcm_<rate>`; `inactivity_timeout` (20 s).
Audio is real speech: OpenCall's Piper voice (espeak-ng if Piper is absent) resampled to the rate.

Errors: a wrong header key refuses the upgrade (401); a bad key in the first message, an unknown
output format or a malformed first message are reported as `{"message", "error", "code"}` and a
1008 close, our reading of how the service reports them.

    python -m tests.sim.elevenlabs --port 8102 --api-key xi-test
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import soxr
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.sim.server import bound_socket, port_argument

Synthesizer = Callable[[str], AsyncIterator[bytes]]
"""PCM16 mono chunks at SOURCE_RATE for a piece of text."""

SOURCE_RATE = 22050  # Piper joe-medium and espeak-ng both render at 22.05 kHz
PCM_RATES = (8000, 16000, 22050, 24000, 44100)  # ElevenLabs' pcm_* output formats
CHUNK_S = 0.25  # audio per message; the service sends a few hundred ms at a time
DEFAULT_SCHEDULE = (120, 160, 250, 290)  # ElevenLabs' default chunk_length_schedule
DEFAULT_INACTIVITY_S = 20.0  # ElevenLabs' default inactivity_timeout
_PATH = re.compile(r"^/v1/text-to-speech/(?P<voice>[^/]+)/stream-input$")


def default_synthesizer() -> Synthesizer:
    try:
        from opencall.providers.tts.piper import PiperTts
    except ImportError:
        return _espeak
    return PiperTts().synthesize


async def _espeak(text: str) -> AsyncIterator[bytes]:
    wav = await asyncio.to_thread(
        subprocess.run, ["espeak-ng", "-v", "en-us", "--stdout", text], capture_output=True, check=True
    )
    yield wav.stdout[44:]  # canonical 44-byte RIFF header, then 22.05 kHz PCM16


@dataclass
class Session:
    voice_id: str
    query: dict[str, str]
    messages: list[dict[str, Any]] = field(default_factory=list)
    generations: list[str] = field(default_factory=list)
    """The text of each generation, in order."""


class ElevenLabsSim:
    def __init__(self, api_key: str | None = None, synthesizer: Synthesizer | None = None) -> None:
        self.api_key = api_key
        self.sessions: list[Session] = []
        self._synthesizer = synthesizer

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
        if not _PATH.match(urlsplit(request.path).path):
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        key = request.headers.get("xi-api-key")
        if key is not None and self.api_key is not None and key != self.api_key:
            return connection.respond(HTTPStatus.UNAUTHORIZED, '{"detail":{"status":"invalid_api_key"}}\n')
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        url = urlsplit(ws.request.path)
        match = _PATH.match(url.path)
        assert match is not None
        session = Session(match["voice"], {k: v[-1] for k, v in parse_qs(url.query).items()})
        self.sessions.append(session)
        if self._synthesizer is None:
            self._synthesizer = default_synthesizer()
        header_key = ws.request.headers.get("xi-api-key")
        with contextlib.suppress(ConnectionClosed):
            await _Speaker(ws, session, self._synthesizer, self.api_key, header_key).run()


class _Speaker:
    def __init__(
        self, ws: ServerConnection, session: Session, synthesize: Synthesizer, key: str | None, header_key: str | None
    ) -> None:
        self.ws = ws
        self.session = session
        self.synthesize = synthesize
        self.key = key
        self.header_key = header_key
        self.buffer = ""
        self.schedule = DEFAULT_SCHEDULE
        self.inactivity_s = float(session.query.get("inactivity_timeout", DEFAULT_INACTIVITY_S))

    async def _refuse(self, error: str, message: str) -> None:
        await self.ws.send(json.dumps({"message": message, "error": error, "code": 1008}))
        await self.ws.close(1008, message)

    async def run(self) -> None:
        output = self.session.query.get("output_format", "mp3_44100_128")
        rate = int(output[4:]) if output.startswith("pcm_") and output[4:].isdigit() else 0
        if rate not in PCM_RATES:
            await self._refuse("invalid_output_format", f"the simulator only speaks pcm_<rate>, not {output}")
            return
        first = await self._receive()
        if first is None:
            return
        if first.get("text") != " ":
            await self._refuse("invalid_request", "the first message must have text ' '")
            return
        if self.key is not None and (self.header_key or first.get("xi_api_key")) != self.key:
            await self._refuse("invalid_api_key", "Invalid API key")
            return
        schedule = (first.get("generation_config") or {}).get("chunk_length_schedule")
        self.schedule = tuple(schedule) if schedule else DEFAULT_SCHEDULE
        while (message := await self._receive()) is not None:
            text = str(message.get("text", ""))
            if text == "":
                break  # end of input: speak what is left, then isFinal
            self.buffer += text
            if message.get("flush") or (message.get("try_trigger_generation") and len(self.buffer) >= self.schedule[0]):
                await self._generate(rate)
        await self._generate(rate)
        await self.ws.send(json.dumps({"audio": None, "isFinal": True, "normalizedAlignment": None, "alignment": None}))
        await self.ws.close()

    async def _receive(self) -> dict[str, Any] | None:
        try:
            raw = await asyncio.wait_for(self.ws.recv(), self.inactivity_s)
        except TimeoutError:
            await self._refuse(
                "input_timeout_exceeded", f"Have not received new text for {self.inactivity_s:g} seconds"
            )
            return None
        message: dict[str, Any] = json.loads(raw)
        self.session.messages.append(message)
        return message

    async def _generate(self, rate: int) -> None:
        text, self.buffer = self.buffer.strip(), ""
        if not text:
            return
        self.session.generations.append(text)
        pcm = b"".join([chunk async for chunk in self.synthesize(text)])
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        if rate != SOURCE_RATE:
            samples = soxr.resample(samples, SOURCE_RATE, rate)
        audio = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        step = int(rate * CHUNK_S) * 2
        for index, start in enumerate(range(0, len(audio), step)):
            alignment = _alignment(text, len(samples) / rate) if index == 0 else None
            message = {
                "audio": base64.b64encode(audio[start : start + step]).decode(),
                "isFinal": None,
                "normalizedAlignment": alignment,
                "alignment": alignment,
            }
            await self.ws.send(json.dumps(message))


def _alignment(text: str, seconds: float) -> dict[str, list[Any]]:
    """Characters spread evenly over the audio: the simulator has no real character timing."""
    chars = list(text)
    step_ms = int(seconds * 1000 / max(1, len(chars)))
    return {
        "chars": chars,
        "charStartTimesMs": [i * step_ms for i in range(len(chars))],
        "charsDurationsMs": [step_ms] * len(chars),
    }


async def _main() -> None:
    args = port_argument("ElevenLabs stream-input TTS simulator (Piper underneath)").parse_args()
    async with ElevenLabsSim(api_key=args.api_key).serve(args.port) as url:
        print(f"ElevenLabs simulator at {url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
