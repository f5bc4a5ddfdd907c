"""ElevenLabs text-to-speech over its input-streaming WebSocket (`/v1/text-to-speech/{voice}/stream-input`).

One connection per `synthesize()` call: the single-context socket has no per-flush end marker, and
`isFinal` only follows the end-of-input message, so a connection per sentence is what tells us the
sentence's audio is complete. Audio comes back as base64 raw PCM (`output_format=pcm_<rate>`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from opencall.providers.base import ProviderError
from opencall.settings import Settings

PROVIDER = "11labs"
BASE_URL = "wss://api.elevenlabs.io"
DEFAULT_MODEL = "eleven_turbo_v2"  # Vapi ElevenLabsVoice.model default
SAMPLE_RATE = 16000  # pcm_16000: wideband, and a whole multiple of 8 kHz telephony
CONNECT_TIMEOUT_S = 10.0

FAILED = "pipeline-error-eleven-labs-voice-failed"
_REASONS = (  # words in ElevenLabs' error text -> Vapi endedReason
    (("invalid_api_key", "invalid api key", "api key"), "pipeline-error-eleven-labs-invalid-api-key"),
    (("voice_not_found", "voice not found"), "pipeline-error-eleven-labs-voice-not-found"),
    (("quota_exceeded", "quota"), "pipeline-error-eleven-labs-quota-exceeded"),
    (("max_character_limit", "character limit"), "pipeline-error-eleven-labs-max-character-limit-exceeded"),
)
_HANDSHAKE_REASONS = {
    401: "pipeline-error-eleven-labs-invalid-api-key",
    403: "pipeline-error-eleven-labs-unauthorized-access",
    404: "pipeline-error-eleven-labs-voice-not-found",
    500: "pipeline-error-eleven-labs-500-server-error",
    503: "pipeline-error-eleven-labs-503-server-error",
}
_VOICE_SETTINGS = {  # Vapi ElevenLabsVoice field -> ElevenLabs voice_settings key
    "stability": "stability",
    "similarityBoost": "similarity_boost",
    "style": "style",
    "useSpeakerBoost": "use_speaker_boost",
    "speed": "speed",
}


def reason_for(text: str) -> str:
    lowered = text.lower()
    for words, reason in _REASONS:
        if any(word in lowered for word in words):
            return reason
    return FAILED


class ElevenLabsTts:
    provider = PROVIDER
    sample_rate = SAMPLE_RATE

    def __init__(self, api_key: str, base_url: str, config: Mapping[str, Any]) -> None:
        self._api_key = api_key
        voice_id = str(config.get("voiceId") or "")
        if not voice_id:
            raise ProviderError("pipeline-error-eleven-labs-voice-not-found", "11labs voice has no voiceId")
        query = {"model_id": str(config.get("model") or DEFAULT_MODEL), "output_format": f"pcm_{SAMPLE_RATE}"}
        if config.get("optimizeStreamingLatency") is not None:
            query["optimize_streaming_latency"] = str(int(config["optimizeStreamingLatency"]))
        if config.get("language"):
            query["language_code"] = str(config["language"])
        for field, param in (("enableSsmlParsing", "enable_ssml_parsing"), ("autoMode", "auto_mode")):
            if config.get(field) is not None:
                query[param] = "true" if config[field] else "false"
        self.url = f"{base_url}/v1/text-to-speech/{quote(voice_id, safe='')}/stream-input?{urlencode(query)}"
        self._voice_settings = {key: config[f] for f, key in _VOICE_SETTINGS.items() if config.get(f) is not None}

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        if not text.strip():
            return
        try:
            async with connect(
                self.url, additional_headers={"xi-api-key": self._api_key}, open_timeout=CONNECT_TIMEOUT_S
            ) as ws:
                opening: dict[str, Any] = {"text": " "}  # the API's required first message: one space
                if self._voice_settings:
                    opening["voice_settings"] = self._voice_settings
                await ws.send(json.dumps(opening))
                # Text must end in a space (API docs); `flush` starts generation now, "" ends the input.
                await ws.send(json.dumps({"text": text.strip() + " ", "flush": True}))
                await ws.send(json.dumps({"text": ""}))
                carry = b""
                async for message in ws:
                    reply = json.loads(message)
                    if reply.get("error") or (reply.get("message") and "audio" not in reply):
                        detail = str(reply.get("message") or reply.get("error"))
                        raise ProviderError(reason_for(f"{reply.get('error')} {detail}"), detail)
                    if reply.get("audio"):
                        pcm = carry + base64.b64decode(reply["audio"])
                        whole = len(pcm) // 2 * 2  # a chunk may end mid-sample; keep the odd byte
                        carry = pcm[whole:]
                        if whole:
                            yield pcm[:whole]
                    if reply.get("isFinal"):
                        return
        except InvalidStatus as exc:
            status = exc.response.status_code
            reason = _HANDSHAKE_REASONS.get(status) or (
                "pipeline-error-eleven-labs-500-server-error" if status >= 500 else FAILED
            )
            raise ProviderError(reason, f"handshake refused: HTTP {status}") from exc
        except ConnectionClosed as exc:
            # ElevenLabs reports auth, voice and quota problems by closing (1008) with a reason.
            close = exc.rcvd
            detail = f"closed {close.code}: {close.reason}" if close else "connection lost"
            raise ProviderError(reason_for(close.reason) if close else FAILED, detail) from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise ProviderError(FAILED, f"{type(exc).__name__}: {exc}") from exc


def create(config: Mapping[str, Any], settings: Settings, api_key: str | None = None) -> ElevenLabsTts:
    if not api_key:
        raise ProviderError("pipeline-error-eleven-labs-invalid-api-key", "no ElevenLabs API key")
    base = settings.cloud_base_urls.get(PROVIDER) or BASE_URL
    base = base.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return ElevenLabsTts(api_key, base, config)
