"""espeak-ng in a subprocess: the fallback voice (robotic, instant, no model to load).

Runs at arm's length (a separate process) so its GPL code never links into ours. It writes a
streaming WAV on stdout at 22.05 kHz; we skip the 44-byte header and pass the PCM on as it comes.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from opencall.providers.base import ProviderError

if TYPE_CHECKING:
    from opencall.settings import Settings

ESPEAK_RATE = 22050  # espeak-ng --stdout always writes 22.05 kHz mono 16-bit
_WAV_HEADER_BYTES = 44
_READ_BYTES = 4410  # 100 ms at 22.05 kHz, 16-bit
_DEFAULT_WPM = 165  # words per minute; offline-models.md measured intelligibility at this rate


class EspeakTts:
    provider = "opencall-espeak"
    sample_rate = ESPEAK_RATE

    def __init__(self, voice: str = "en-us", speed: float = 1.0) -> None:
        self._voice = voice
        self._wpm = int(_DEFAULT_WPM * speed)

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise ProviderError("pipeline-error-opencall-espeak-voice-failed", "espeak-ng is not installed")
        proc = await asyncio.create_subprocess_exec(
            binary,
            "-v",
            self._voice,
            "-s",
            str(self._wpm),
            "--stdout",
            "--",
            text,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        try:
            header = await proc.stdout.readexactly(_WAV_HEADER_BYTES)
            if not header.startswith(b"RIFF"):
                raise ProviderError("pipeline-error-opencall-espeak-voice-failed", "no WAV on stdout")
            carry = b""
            while chunk := await proc.stdout.read(_READ_BYTES):
                chunk = carry + chunk
                even = len(chunk) // 2 * 2
                carry = chunk[even:]
                if even:
                    yield chunk[:even]
        except asyncio.IncompleteReadError as exc:
            stderr = (await proc.stderr.read()).decode(errors="replace") if proc.stderr else ""
            raise ProviderError("pipeline-error-opencall-espeak-voice-failed", stderr or str(exc)) from exc
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


def create(config: dict[str, Any], settings: Settings) -> EspeakTts:
    """Build from the assistant's `voice` JSON: `voiceId` is an espeak voice name (default en-us)."""
    voice_id = str(config.get("voiceId") or "en-us")
    return EspeakTts(voice=voice_id, speed=float(config.get("speed") or 1.0))
