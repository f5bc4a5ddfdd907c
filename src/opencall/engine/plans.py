"""The assistant's turn-taking knobs, read once from its Vapi JSON with Vapi's defaults.

Defaults come from vapi-openapi.json (StartSpeakingPlan, StopSpeakingPlan,
TranscriptionEndpointingPlan) and vapi-api.md §3.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_ACKNOWLEDGEMENT_PHRASES = (
    "i understand",
    "i see",
    "i got it",
    "i hear you",
    "im listening",
    "im with you",
    "right",
    "okay",
    "ok",
    "sure",
    "alright",
    "got it",
    "understood",
    "yeah",
    "yes",
    "uh-huh",
    "mm-hmm",
    "gotcha",
    "mhmm",
    "ah",
    "yeah okay",
    "yeah sure",
)  # StopSpeakingPlan.acknowledgementPhrases default
DEFAULT_INTERRUPTION_PHRASES = (
    "stop",
    "shut",
    "up",
    "enough",
    "quiet",
    "silence",
    "but",
    "dont",
    "not",
    "no",
    "hold",
    "wait",
    "cut",
    "pause",
    "nope",
    "nah",
    "nevermind",
    "never",
    "bad",
    "actually",
)  # StopSpeakingPlan.interruptionPhrases default
# Smart Turn v3 judges "...goodbye." incomplete in 4 of 5 calls (pipecat-baseline README, problem 4);
# pipecat then waits its 3 s stop_secs. We cap the wait after an INCOMPLETE verdict instead.
SMART_INCOMPLETE_CAP_SECONDS = 1.0
DEFAULT_IDLE_PROMPT = "Are you still there?"


@dataclass(frozen=True, slots=True)
class TurnConfig:
    wait_seconds: float = 0.4
    """startSpeakingPlan.waitSeconds: least time from the caller's last voiced sample to our first audio."""
    endpointing: Literal["transcriber", "transcription", "smart"] = "transcriber"
    """transcriber: VAD stop + final transcript; transcription: transcriptionEndpointingPlan; smart: Smart Turn v3."""
    on_punctuation_seconds: float = 0.1
    on_no_punctuation_seconds: float = 1.5
    on_number_seconds: float = 0.5
    smart_incomplete_cap_seconds: float = SMART_INCOMPLETE_CAP_SECONDS
    num_words: int = 0
    voice_seconds: float = 0.2
    backoff_seconds: float = 1.0
    acknowledgement_phrases: tuple[str, ...] = DEFAULT_ACKNOWLEDGEMENT_PHRASES
    interruption_words: frozenset[str] = frozenset(DEFAULT_INTERRUPTION_PHRASES)
    first_message_interruptions: bool = False
    silence_timeout_seconds: float = 30.0
    """Legacy top-level silenceTimeoutSeconds (Vapi default 30)."""
    idle_prompts: tuple[str, ...] = (DEFAULT_IDLE_PROMPT,)
    idle_prompt_seconds: float = 15.0
    max_duration_seconds: float = 600.0


def _num(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _phrases(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list):
        return default
    return tuple(" ".join(str(p).lower().replace("'", "").split()) for p in value if str(p).strip())


def turn_config(assistant: dict[str, Any]) -> TurnConfig:
    start = assistant.get("startSpeakingPlan") or {}
    stop = assistant.get("stopSpeakingPlan") or {}
    transcription = start.get("transcriptionEndpointingPlan")
    endpointing: Literal["transcriber", "transcription", "smart"] = "transcriber"
    if start.get("smartEndpointingPlan") or start.get("smartEndpointingEnabled") is True:
        endpointing = "smart"
    elif isinstance(transcription, dict):
        endpointing = "transcription"
    transcription = transcription if isinstance(transcription, dict) else {}
    silence = _num(assistant.get("silenceTimeoutSeconds"), 30.0)
    plan = assistant.get("messagePlan") or {}
    idle_messages = plan.get("idleMessages")
    idle_prompts = tuple(str(m) for m in idle_messages) if isinstance(idle_messages, list) else (DEFAULT_IDLE_PROMPT,)
    max_spoken = int(_num(plan.get("idleMessageMaxSpokenCount"), 1))
    interruption = _phrases(stop.get("interruptionPhrases"), DEFAULT_INTERRUPTION_PHRASES)
    return TurnConfig(
        wait_seconds=_num(start.get("waitSeconds"), 0.4),
        endpointing=endpointing,
        on_punctuation_seconds=_num(transcription.get("onPunctuationSeconds"), 0.1),
        on_no_punctuation_seconds=_num(transcription.get("onNoPunctuationSeconds"), 1.5),
        on_number_seconds=_num(transcription.get("onNumberSeconds"), 0.5),
        num_words=int(_num(stop.get("numWords"), 0)),
        voice_seconds=_num(stop.get("voiceSeconds"), 0.2),
        backoff_seconds=_num(stop.get("backoffSeconds"), 1.0),
        acknowledgement_phrases=_phrases(stop.get("acknowledgementPhrases"), DEFAULT_ACKNOWLEDGEMENT_PHRASES),
        interruption_words=frozenset(w for p in interruption for w in p.split()),
        first_message_interruptions=bool(assistant.get("firstMessageInterruptionsEnabled", False)),
        silence_timeout_seconds=silence,
        idle_prompts=idle_prompts[: max(0, max_spoken)],
        idle_prompt_seconds=_num(plan.get("idleTimeoutSeconds"), min(15.0, silence / 2)),
        max_duration_seconds=_num(assistant.get("maxDurationSeconds"), 600.0),
    )
