"""The assistant's behaviour plans: turn-taking, recording and artifacts, post-call analysis, monitoring.

OpenCall runs these (the engine reads them), so they are typed with the spec's limits; defaults in the
docstrings are the spec's `@default` values, applied by the engine when a field is absent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from opencall.schemas.base import VapiModel
from opencall.schemas.common import Server


class VapiSmartEndpointingPlan(VapiModel):
    """Vapi's own end-of-turn model; OpenCall maps it to its local smart-turn model."""

    provider: Literal["vapi"]


class LivekitSmartEndpointingPlan(VapiModel):
    """LiveKit's end-of-turn model: waits `waitFunction(x)` ms, x = probability the user is still talking."""

    provider: Literal["livekit"]
    wait_function: str | None = None
    """Math expression of `x` giving the wait in milliseconds, e.g. `"200 + 8000 * x"`."""


class CustomEndpointingModelSmartEndpointingPlan(VapiModel):
    """Ask your server (`call.endpointing.request`) whether the user has finished speaking."""

    provider: Literal["custom-endpointing-model"]
    server: Server | None = None
    """Where the endpointing request is sent."""


SmartEndpointingPlan = Annotated[
    VapiSmartEndpointingPlan | LivekitSmartEndpointingPlan | CustomEndpointingModelSmartEndpointingPlan,
    Field(discriminator="provider"),
]


class TranscriptionEndpointingPlan(VapiModel):
    """Wait after the last transcript before replying, by how the transcript ends."""

    on_punctuation_seconds: float | None = Field(None, ge=0, le=3)
    """Wait after a transcript ending in punctuation; default 0.1 s."""
    on_no_punctuation_seconds: float | None = Field(None, ge=0, le=3)
    """Wait after a transcript without final punctuation; default 1.5 s."""
    on_number_seconds: float | None = Field(None, ge=0, le=3)
    """Wait after a transcript ending in a number (the user may be reading digits); default 0.4 s."""


class StartSpeakingPlan(VapiModel):
    """When the assistant starts talking after the user stops."""

    wait_seconds: float | None = Field(None, ge=0, le=5)
    """Minimum silence before the assistant speaks; default 0.4 s."""
    smart_endpointing_enabled: bool | Literal["livekit"] | None = None
    """Deprecated form of `smartEndpointingPlan`; default false."""
    smart_endpointing_plan: SmartEndpointingPlan | None = None
    """End-of-turn model; when absent the transcription endpointing rules decide."""
    custom_endpointing_rules: list[dict[str, Any]] | None = None
    """Regex rules (`{type: assistant|customer|both, regex, timeoutSeconds}`) overriding the wait; stored
    verbatim."""
    transcription_endpointing_plan: TranscriptionEndpointingPlan | None = None
    """Punctuation-based waits, used when no smart endpointing plan is set."""


class StopSpeakingPlan(VapiModel):
    """When the user's speech interrupts the assistant (barge-in)."""

    num_words: int | None = Field(None, ge=0, le=10)
    """Words the user must say to interrupt; 0 = voice activity alone (`voiceSeconds`) decides. Default 0."""
    voice_seconds: float | None = Field(None, ge=0, le=0.5)
    """Seconds of user voice activity that interrupt the assistant; default 0.2 s."""
    backoff_seconds: float | None = Field(None, ge=0, le=10)
    """Pause after an interruption before the assistant may speak again; default 1 s."""
    acknowledgement_phrases: list[Annotated[str, Field(max_length=240)]] | None = None
    """Phrases that never interrupt ("okay", "right", ...); default the spec's list of 22."""
    interruption_phrases: list[Annotated[str, Field(max_length=240)]] | None = None
    """Phrases that interrupt immediately ("stop", "wait", ...); default the spec's list of 20."""


class TranscriptPlan(VapiModel):
    """How `call.artifact.transcript` is written."""

    enabled: bool | None = None
    """Produce the transcript; default true."""
    assistant_name: str | None = None
    """Speaker label of the assistant's lines; default "AI"."""
    user_name: str | None = None
    """Speaker label of the user's lines; default "User"."""


class ArtifactPlan(VapiModel):
    """What is recorded and kept after the call (`call.artifact`)."""

    recording_enabled: bool | None = None
    """Record the call; default true."""
    recording_format: Literal["wav;l16", "mp3"] | None = None
    """Recording file format; default `wav;l16`."""
    recording_use_custom_storage_enabled: bool | None = None
    """Upload the recording to the org's own bucket; default true."""
    video_recording_enabled: bool | None = None
    """Record video of web calls; default false."""
    full_message_history_enabled: bool | None = None
    """Keep the full history (including squad transfers) in `artifact.messages`; default false."""
    pcap_enabled: bool | None = None
    """Capture SIP packets; default true."""
    pcap_s3_path_prefix: str | None = None
    """Bucket path prefix of the packet capture."""
    pcap_use_custom_storage_enabled: bool | None = None
    """Upload the packet capture to the org's own bucket; default true."""
    logging_enabled: bool | None = None
    """Keep the call log (`artifact.logUrl`); default true."""
    logging_use_custom_storage_enabled: bool | None = None
    """Upload the call log to the org's own bucket; default true."""
    transcript_plan: TranscriptPlan | None = None
    """How the transcript is written."""
    recording_path: str | None = None
    """Bucket path the recording is uploaded to."""
    logging_path: str | None = None
    """Bucket path the log is uploaded to."""
    structured_output_ids: list[str] | None = None
    """Saved structured outputs extracted after the call."""
    structured_outputs: list[dict[str, Any]] | None = None
    """Transient structured outputs (CreateStructuredOutputDTO), stored verbatim."""
    scorecard_ids: list[str] | None = None
    """Saved scorecards evaluated after the call."""
    scorecards: list[dict[str, Any]] | None = None
    """Transient scorecards (CreateScorecardDTO), stored verbatim."""


class SummaryPlan(VapiModel):
    """The end-of-call summary (`call.analysis.summary`)."""

    messages: list[dict[str, Any]] | None = None
    """Prompt messages (`{{transcript}}`, `{{systemPrompt}}` are substituted); default Vapi's prompt."""
    enabled: bool | None = None
    """Produce the summary; default true."""
    timeout_seconds: float | None = Field(None, ge=1, le=60)
    """Give up after this long; default 5 s."""


class StructuredDataPlan(VapiModel):
    """Structured data extracted from the call (`call.analysis.structuredData`)."""

    messages: list[dict[str, Any]] | None = None
    """Prompt messages; `{{transcript}}`, `{{schema}}` are substituted."""
    enabled: bool | None = None
    """Extract structured data; default false."""
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    """JSON schema of the data to extract (`{type: "object", properties: {...}}`)."""
    timeout_seconds: float | None = Field(None, ge=1, le=60)
    """Give up after this long; default 5 s."""


class StructuredDataMultiPlan(VapiModel):
    """One of several structured-data extractions, keyed in `call.analysis.structuredDataMulti`."""

    key: str
    plan: StructuredDataPlan


class SuccessEvaluationPlan(VapiModel):
    """Whether the call reached its goal (`call.analysis.successEvaluation`)."""

    rubric: (
        Literal[
            "NumericScale",
            "DescriptiveScale",
            "Checklist",
            "Matrix",
            "PercentageScale",
            "LikertScale",
            "AutomaticRubric",
            "PassFail",
        ]
        | None
    ) = None
    """Scale of the verdict; default `PassFail`."""
    messages: list[dict[str, Any]] | None = None
    """Prompt messages; `{{transcript}}`, `{{rubric}}` are substituted."""
    enabled: bool | None = None
    """Evaluate success; default true."""
    timeout_seconds: float | None = Field(None, ge=1, le=60)
    """Give up after this long; default 5 s."""


class AnalysisPlan(VapiModel):
    """Post-call analysis (deprecated by Vapi in favour of structured outputs; OpenCall still runs it)."""

    min_messages_threshold: int | None = Field(None, ge=0)
    """Skip analysis for calls with fewer messages; default 2."""
    summary_plan: SummaryPlan | None = None
    structured_data_plan: StructuredDataPlan | None = None
    structured_data_multi_plan: list[StructuredDataMultiPlan] | None = None
    success_evaluation_plan: SuccessEvaluationPlan | None = None
    outcome_ids: list[str] | None = None
    """Saved outcomes evaluated after the call."""


class MonitorPlan(VapiModel):
    """Live listening and control of the assistant's calls (`call.monitor`)."""

    listen_enabled: bool | None = None
    """Expose `monitor.listenUrl` (live audio websocket); default true."""
    listen_authentication_enabled: bool | None = None
    """Require the API key on the listen URL; default false."""
    control_enabled: bool | None = None
    """Expose `monitor.controlUrl` (say, end-call, ...); default true."""
    control_authentication_enabled: bool | None = None
    """Require the API key on the control URL; default false."""
    monitor_ids: list[str] | None = None
    """Saved monitors attached to the call."""


class KeypadInputPlan(VapiModel):
    """DTMF (keypad) input from the caller, delivered to the model as text."""

    enabled: bool | None = None
    """Listen for keypad presses; default false."""
    timeout_seconds: float | None = Field(None, ge=0, le=10)
    """Seconds after the last key before the digits are sent; default 2 s."""
    delimiters: Literal["#", "*", ""] | list[Literal["#", "*"]] | None = None
    """Key that sends the digits at once; empty = none."""
