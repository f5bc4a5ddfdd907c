"""Transcriber (STT) configurations (`assistant.transcriber`), discriminated by `provider`.

All 14 Vapi providers plus OpenCall's embedded `opencall-whisper`. OpenCall runs `opencall-whisper` and
`deepgram`, typed here; the others are stored verbatim (`PassthroughModel`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from opencall.schemas.base import PassthroughModel, VapiModel
from opencall.schemas.common import Server, canonical_vapi_provider, union_members

WHISPER_DEFAULT_MODEL = "tiny.en"
"""The faster-whisper model that ships with OpenCall."""

_KEYWORD = re.compile(r"^[^\W\d_][^\W_]*(?::[+-]?\d+)?$")


def _check_keyword(keyword: str) -> str:
    # The spec's pattern is /^\p{L}[\p{L}\d]*(?::[+-]?\d+)?$/u; Python's `re` has no \p{L}, and a \p{..}
    # pattern in /openapi.json breaks JSON-schema tools that use `re`, so the check is done here.
    if not _KEYWORD.match(keyword):
        raise ValueError("must be a word of letters and digits, optionally followed by :<intensifier>")
    return keyword


DeepgramKeyword = Annotated[str, AfterValidator(_check_keyword)]
"""A word with an optional intensifier, e.g. `OpenCall:2`."""


class FallbackTranscriberPlan(VapiModel):
    """Transcribers tried in order when this one fails."""

    transcribers: list[dict[str, Any]] | None = None
    """Fallback transcriber configurations (`{provider, ...}`), stored verbatim."""


class _TranscriberCommon(VapiModel):
    fallback_plan: FallbackTranscriberPlan | None = None
    """Transcribers used when this one fails."""


class DeepgramTranscriber(_TranscriberCommon):
    """Deepgram streaming STT."""

    provider: Literal["deepgram"]
    model: str | None = None
    """Model, e.g. `nova-3`, `nova-2-phonecall`, `flux-general-en`; default `nova-3`."""
    language: str | None = None
    """Language code (`en`, `en-US`, `multi`, ...); default `en`."""
    smart_format: bool | None = None
    """Deepgram smart formatting; default false."""
    mip_opt_out: bool | None = None
    """Opt out of Deepgram's model improvement programme; default false."""
    numerals: bool | None = None
    """Write spoken numbers as digits; default false."""
    profanity_filter: bool | None = None
    """Mask profanity; default false."""
    redaction: list[Literal["pci", "pii", "phi", "numbers"]] | None = None
    """Entities redacted from transcripts."""
    confidence_threshold: float | None = Field(None, ge=0, le=1)
    """Transcripts below this confidence are dropped; default 0.4."""
    eot_threshold: float | None = Field(None, ge=0.5, le=0.9)
    """End-of-turn confidence (Flux models); default 0.7."""
    eot_timeout_ms: float | None = Field(None, ge=500, le=10000)
    """Turn ends this long after speech regardless of confidence (Flux models); default 5000 ms."""
    languages: list[str] | None = None
    """Language hints (`flux-general-multi` only)."""
    keywords: list[DeepgramKeyword] | None = None
    """Boosted words (older models)."""
    keyterm: list[str] | None = None
    """Keyterm prompting (Nova-3 / Flux)."""
    endpointing: float | None = Field(None, ge=10, le=500)
    """Silence that ends an utterance, in ms; default 10."""


class LocalWhisperTranscriber(_TranscriberCommon):
    """`vapi`: the platform's own transcriber, which in OpenCall is faster-whisper in the worker.

    Spelled with Vapi's provider name so the official SDKs parse it; `opencall-whisper` is accepted
    as an alias and stored as `vapi`.
    """

    provider: Literal["vapi", "opencall-whisper"]
    model: str = WHISPER_DEFAULT_MODEL
    """faster-whisper model name (`tiny.en`, `base.en`, `small`, ...)."""
    language: str = "en"
    """ISO 639-1 language of the speech."""
    version: str | None = None
    """Vapi's transcriber version; accepted and kept, not used."""
    languages: list[str] | None = None
    """Vapi's multi-language list; accepted and kept (Whisper tiny.en is English only)."""
    keywords: list[str] | None = None
    """Vapi's keyword boosts; accepted and kept, not applied."""
    turn_taking: Any = None
    """Vapi's turn-taking options; accepted and kept (the assistant's speaking plans decide)."""
    fitted_window: bool = True
    """OpenCall: decode each utterance on a window fitted to its length (false: Whisper's 30 s window)."""
    partial_transcripts: bool = True
    """OpenCall: interim transcripts while the caller speaks (re-reads of the turn, about one a second)."""

    _canonical_provider = field_validator("provider")(canonical_vapi_provider)


class _PassthroughTranscriber(_TranscriberCommon, PassthroughModel):
    """Stored verbatim; provider-specific fields are kept as sent."""


class AssemblyAITranscriber(_PassthroughTranscriber):
    """AssemblyAI Universal streaming. Stored verbatim (not run by OpenCall)."""

    provider: Literal["assembly-ai"]


class AzureSpeechTranscriber(_PassthroughTranscriber):
    """Azure Speech. Stored verbatim (not run by OpenCall)."""

    provider: Literal["azure"]


class CustomTranscriber(_PassthroughTranscriber):
    """Your server transcribes (a websocket to `server.url`). Stored verbatim (not run by OpenCall)."""

    provider: Literal["custom-transcriber"]
    server: Server
    """Websocket server that receives the audio and answers `transcriber-response` messages."""


class ElevenLabsTranscriber(_PassthroughTranscriber):
    """ElevenLabs Scribe. Stored verbatim (not run by OpenCall)."""

    provider: Literal["11labs"]


class GladiaTranscriber(_PassthroughTranscriber):
    """Gladia. Stored verbatim (not run by OpenCall)."""

    provider: Literal["gladia"]


class GoogleTranscriber(_PassthroughTranscriber):
    """Google Gemini transcription. Stored verbatim (not run by OpenCall)."""

    provider: Literal["google"]


class SpeechmaticsTranscriber(_PassthroughTranscriber):
    """Speechmatics. Stored verbatim (not run by OpenCall)."""

    provider: Literal["speechmatics"]
    custom_vocabulary: list[Any]
    """Custom vocabulary entries, stored verbatim."""


class TalkscriberTranscriber(_PassthroughTranscriber):
    """Talkscriber. Stored verbatim (not run by OpenCall)."""

    provider: Literal["talkscriber"]


class OpenAITranscriber(_PassthroughTranscriber):
    """OpenAI realtime transcription. Stored verbatim (not run by OpenCall)."""

    provider: Literal["openai"]
    model: str


class CartesiaTranscriber(_PassthroughTranscriber):
    """Cartesia Ink. Stored verbatim (not run by OpenCall)."""

    provider: Literal["cartesia"]


class SonioxTranscriber(_PassthroughTranscriber):
    """Soniox. Stored verbatim (not run by OpenCall)."""

    provider: Literal["soniox"]


class XaiTranscriber(_PassthroughTranscriber):
    """xAI transcription. Stored verbatim (not run by OpenCall)."""

    provider: Literal["xai"]


Transcriber = Annotated[
    DeepgramTranscriber
    | LocalWhisperTranscriber
    | AssemblyAITranscriber
    | AzureSpeechTranscriber
    | CustomTranscriber
    | ElevenLabsTranscriber
    | GladiaTranscriber
    | GoogleTranscriber
    | SpeechmaticsTranscriber
    | TalkscriberTranscriber
    | OpenAITranscriber
    | CartesiaTranscriber
    | SonioxTranscriber
    | XaiTranscriber,
    Field(discriminator="provider"),
]
"""`assistant.transcriber`: one of the Vapi transcriber providers or `opencall-whisper`."""

TRANSCRIBERS: dict[str, type[VapiModel]] = union_members(Transcriber, "provider")
"""`transcriber.provider` value → its class."""
