"""Our frames on pipecat's bus. System frames jump queues (VAD edges, control); data frames keep order.

Times are seconds on the engine's monotonic clock (`loop.time()`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipecat.frames.frames import DataFrame, SystemFrame


@dataclass
class CallerAudioFrame(DataFrame):
    """Caller audio at 16 kHz as it arrived; `received_at` measures the transport hop."""

    pcm: bytes = b""
    received_at: float = 0.0


@dataclass
class SpeechStartedFrame(DataFrame):
    """Data, not system: it must stay in order with the audio around it (pre-roll, STT)."""

    onset_at: float = 0.0
    detected_at: float = 0.0


@dataclass
class SpeechStoppedFrame(DataFrame):
    last_voiced_at: float = 0.0
    detected_at: float = 0.0


@dataclass
class SpeechPausingFrame(DataFrame):
    """Inside speech, the VAD has heard no voice for a moment (`active`), or the voice came back.

    Data, in order with the audio: the transcriber reads ahead on the audio before it, and holds what
    follows until the VAD decides (a stop, or speech again).
    """

    active: bool = False


@dataclass
class VoiceSuspectedFrame(SystemFrame):
    """The VAD heard a voiced window but has not confirmed speech yet (`active`), or dropped it."""

    active: bool = False


@dataclass
class UserTurnClosedFrame(SystemFrame):
    """Conductor -> SttStage (upstream): the next speech starts a new user turn (fresh transcript)."""


@dataclass
class SmartTurnFrame(SystemFrame):
    complete: bool = True
    probability: float = 1.0


@dataclass
class FinalTranscriptFrame(SystemFrame):
    text: str = ""
    finalized_at: float = 0.0
    """When the STT was asked for the final transcript (the VAD stop)."""
    received_at: float = 0.0


@dataclass
class PartialTranscriptFrame(SystemFrame):
    """The transcriber's interim reading of the turn so far, while the caller is still speaking."""

    text: str = ""


@dataclass
class ClauseFrame(DataFrame):
    """Text for the voice: one clause of a reply, in order."""

    reply_id: int = 0
    text: str = ""
    queued_at: float = 0.0


@dataclass
class ReplyEndFrame(DataFrame):
    """No more clauses for this reply; follows the last ClauseFrame through the TTS stage."""

    reply_id: int = 0


@dataclass
class ReplyAudioFrame(DataFrame):
    reply_id: int = 0
    clause: str = ""
    pcm: bytes = b""
    sample_rate: int = 0
    first_of_clause: bool = False
    clause_queued_at: float = 0.0


@dataclass
class ReplyControlFrame(SystemFrame):
    """Conductor -> TTS and playout: what to do with a reply's audio."""

    reply_id: int = 0
    action: Literal["release", "pause", "resume", "drop"] = "release"


@dataclass
class PlaybackFrame(SystemFrame):
    """Playout -> conductor (upstream): a reply's audio began, finished, or was cut."""

    reply_id: int = 0
    event: Literal["started", "done", "cut"] = "started"
    at: float = 0.0
    heard: str = ""
    """Done/cut: the words the caller was sent."""
    started_at: float = 0.0
    first_audio_ready_at: float = 0.0
    first_write_at: float = 0.0
    """When the reply's first audio was handed to the transport (it sends at once: no queue ahead)."""
    clause_queued_at: float = 0.0
    clauses: list[str] = field(default_factory=list)
