"""Assistants (`/assistant`) and the per-call `AssistantOverrides`.

`CreateAssistantDTO` has exactly the spec's 32 fields (none required) plus the 2024 top-level fields old
clients still send (marked *legacy*). The system prompt lives in `model.messages`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field

from opencall.schemas.base import PersistedFields, VapiModel
from opencall.schemas.common import Server
from opencall.schemas.llm_models import LLMModel
from opencall.schemas.plans import (
    AnalysisPlan,
    ArtifactPlan,
    KeypadInputPlan,
    MonitorPlan,
    StartSpeakingPlan,
    StopSpeakingPlan,
)
from opencall.schemas.tools import CreateToolDTO
from opencall.schemas.transcribers import Transcriber
from opencall.schemas.voices import Voice

ClientMessageType = Literal[
    "conversation-update",
    "assistant.speechStarted",
    "function-call",
    "function-call-result",
    "hang",
    "language-changed",
    "metadata",
    "model-output",
    "speech-update",
    "status-update",
    "transcript",
    "tool-calls",
    "tool-calls-result",
    "tool.completed",
    "transfer-update",
    "user-interrupted",
    "voice-input",
    "workflow.node.started",
    "assistant.started",
]
"""Messages that can be sent to client SDKs (`assistant.clientMessages`)."""

ServerMessageType = Literal[
    "assistant.started",
    "assistant.speechStarted",
    "conversation-update",
    "end-of-call-report",
    "function-call",
    "hang",
    "language-changed",
    "language-change-detected",
    "model-output",
    "phone-call-control",
    "speech-update",
    "status-update",
    "transcript",
    'transcript[transcriptType="final"]',
    "tool-calls",
    "transfer-destination-request",
    "handoff-destination-request",
    "transfer-update",
    "user-interrupted",
    "voice-input",
    "chat.created",
    "chat.deleted",
    "session.created",
    "session.updated",
    "session.deleted",
    "call.deleted",
    "call.delete.failed",
    "call.artifact.upload",
]
"""Messages that can be POSTed to the server URL (`assistant.serverMessages`)."""


def _check_background_sound(value: str) -> str:
    if value in ("off", "office") or value.startswith(("http://", "https://")):
        return value
    raise ValueError("must be 'off', 'office' or the URL of an audio file")


BackgroundSound = Annotated[str, AfterValidator(_check_background_sound)]

EndCallPhrase = Annotated[str, Field(min_length=2, max_length=140)]


class CreateAssistantDTO(VapiModel):
    """Body of `POST /assistant`; also a transient assistant in `POST /call` (`assistant`)."""

    transcriber: Transcriber | None = None
    """Speech-to-text; OpenCall's default is the embedded `opencall-whisper`."""
    model: LLMModel | None = None
    """The LLM and its prompt (`messages`), tools and sampling; default the embedded `opencall-llama`."""
    voice: Voice | None = None
    """Text-to-speech; OpenCall's default is the embedded `opencall-piper`."""
    first_message: str | None = None
    """Said first (text, or the URL of an audio file); unset = the assistant waits for the user."""
    first_message_interruptions_enabled: bool | None = None
    """Whether the user can interrupt the first message; default false."""
    first_message_mode: (
        Literal[
            "assistant-speaks-first",
            "assistant-speaks-first-with-model-generated-message",
            "assistant-waits-for-user",
        ]
        | None
    ) = None
    """Who speaks first; default `assistant-speaks-first`."""
    voicemail_detection: Literal["off"] | dict[str, Any] | None = None
    """`"off"` or a Google/OpenAI/Twilio/Vapi VoicemailDetectionPlan (stored verbatim); default off."""
    client_messages: list[ClientMessageType] | None = None
    """Messages sent to client SDKs; default conversation-update, function-call, hang, model-output,
    speech-update, status-update, transfer-update, transcript, tool-calls, user-interrupted, voice-input,
    workflow.node.started, assistant.started."""
    server_messages: list[ServerMessageType] | None = None
    """Messages POSTed to the server URL; default conversation-update, end-of-call-report, function-call,
    hang, speech-update, status-update, tool-calls, transfer-destination-request,
    handoff-destination-request, user-interrupted, assistant.started."""
    max_duration_seconds: float | None = Field(None, ge=10, le=43200)
    """The call ends (`exceeded-max-duration`) after this many seconds; default 600."""
    background_sound: BackgroundSound | None = None
    """`off`, `office` or the URL of an audio file looped under the call; default `office` on phone calls,
    `off` on web calls."""
    model_output_in_messages_enabled: bool | None = None
    """Use the model's output instead of the transcribed speech in the history; default false."""
    transport_configurations: list[dict[str, Any]] | None = None
    """Per-transport settings (TransportConfigurationTwilio), stored verbatim."""
    observability_plan: dict[str, Any] | None = None
    """LangfuseObservabilityPlan, stored verbatim."""
    credentials: list[dict[str, Any]] | None = None
    """Inline provider credentials (Create*CredentialDTO), stored verbatim."""
    hooks: list[dict[str, Any]] | None = None
    """Actions run on call events (call.ending, customer.speech.timeout, ...), stored verbatim."""
    name: str | None = Field(None, max_length=40)
    """Label; required when the assistant is a squad transfer target."""
    voicemail_message: str | None = Field(None, max_length=1000)
    """Said when the call reaches voicemail."""
    end_call_message: str | None = Field(None, max_length=1000)
    """Said before the assistant hangs up."""
    end_call_phrases: list[EndCallPhrase] | None = None
    """Phrases (case-insensitive) that end the call when the assistant says them."""
    compliance_plan: dict[str, Any] | None = None
    """CompliancePlan (`hipaaEnabled`, `pciEnabled`, ...), stored verbatim."""
    metadata: dict[str, Any] | None = None
    """Free-form data stored with the assistant."""
    background_speech_denoising_plan: dict[str, Any] | None = None
    """BackgroundSpeechDenoisingPlan, stored verbatim."""
    analysis_plan: AnalysisPlan | None = None
    """Post-call summary, structured data and success evaluation (`call.analysis`)."""
    artifact_plan: ArtifactPlan | None = None
    """Recording, transcript and logs kept after the call (`call.artifact`)."""
    start_speaking_plan: StartSpeakingPlan | None = None
    """When the assistant starts speaking (endpointing)."""
    stop_speaking_plan: StopSpeakingPlan | None = None
    """When the user interrupts the assistant (barge-in)."""
    monitor_plan: MonitorPlan | None = None
    """Live listen / control URLs."""
    credential_ids: list[str] | None = None
    """Subset of the org's credentials the call may use; default all."""
    server: Server | None = None
    """Webhook target; takes precedence over the phone number's and the org's."""
    keypad_input_plan: KeypadInputPlan | None = None
    """DTMF input from the caller."""

    server_url: str | None = None
    """Legacy (2024): webhook URL; today `server.url`."""
    server_url_secret: str | None = None
    """Legacy (2024): sent as header `x-vapi-secret` on webhooks; today a webhook credential."""
    silence_timeout_seconds: float | None = Field(None, ge=10, le=3600)
    """Legacy (2024): end the call (`silence-timed-out`) after this many seconds without speech. OpenCall
    honours it as the idle timeout; default 30."""
    hipaa_enabled: bool | None = None
    """Legacy (2024): today `compliancePlan.hipaaEnabled`; when true no recording or transcript is kept."""
    backchanneling_enabled: bool | None = None
    """Legacy (2024): say "mhmm"-style backchannels while the user speaks; default false."""
    background_denoising_enabled: bool | None = None
    """Legacy (2024): filter background noise from the user's audio; today `backgroundSpeechDenoisingPlan`."""


class UpdateAssistantDTO(CreateAssistantDTO):
    """Body of `PATCH /assistant/{id}`: shallow; every field sent replaces the stored one wholesale."""


class AssistantOverrides(CreateAssistantDTO):
    """Per-call (or per-squad-member) changes to an assistant, applied shallowly over the saved one."""

    variable_values: dict[str, Any] | None = None
    """Values substituted for `{{ name }}` (LiquidJS) in prompts and messages."""
    tools_append: list[CreateToolDTO] | None = Field(None, alias="tools:append")
    """Tools added to `model.tools` for this call."""


class Assistant(CreateAssistantDTO, PersistedFields):
    """A saved assistant, as returned by `/assistant` routes."""

    model_config = ConfigDict(extra="allow")

    latest_version: str | None = None
    """Version label of the newest saved version (e.g. `v3`); null until versioning is used."""
