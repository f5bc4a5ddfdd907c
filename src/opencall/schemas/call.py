"""Calls (`/call`): the create body, the customer, transports, and the `Call` response.

Response models (`Call` and what it holds) allow unknown keys, so data the API layer stores next to a call
(e.g. the launch contract's top-level `metadata`) survives a round trip.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from opencall.schemas.assistant import AssistantOverrides, CreateAssistantDTO
from opencall.schemas.base import PassthroughModel, PersistedFields, VapiModel
from opencall.schemas.common import PhoneDestination, SchedulePlan, check_e164
from opencall.schemas.phone_number import ImportTwilioPhoneNumberDTO, TransientTwilioPhoneNumber
from opencall.schemas.plans import ArtifactPlan
from opencall.schemas.squad import CreateSquadDTO


class ConversationMessage(VapiModel):
    """One entry of `call.messages` / `artifact.messages` (Vapi's UserMessage, BotMessage, SystemMessage,
    ToolCallMessage, ToolCallResultMessage in one lenient shape)."""

    model_config = ConfigDict(extra="allow")

    role: str
    """`user`, `bot`, `system`, `tool_calls` or `tool_call_result`."""
    message: str | None = None
    """What was said (absent on tool results)."""
    time: float | None = None
    """Start, epoch milliseconds."""
    end_time: float | None = None
    """End, epoch milliseconds."""
    seconds_from_start: float | None = None
    """Start, seconds from the start of the call."""
    duration: float | None = None
    """Length in milliseconds."""
    tool_calls: list[dict[str, Any]] | None = None
    """OpenAI-format tool calls (role `tool_calls`)."""
    tool_call_id: str | None = None
    """Id of the answered tool call (role `tool_call_result`)."""
    name: str | None = None
    """Tool name (role `tool_call_result`)."""
    result: str | None = None
    """Tool result, JSON text (role `tool_call_result`)."""


class CostBreakdown(VapiModel):
    """Cost of a call by component, in USD."""

    model_config = ConfigDict(extra="allow")

    transport: float | None = None
    stt: float | None = None
    llm: float | None = None
    tts: float | None = None
    vapi: float | None = None
    chat: float | None = None
    total: float | None = None
    llm_prompt_tokens: int | None = None
    llm_completion_tokens: int | None = None
    llm_cached_prompt_tokens: int | None = None
    tts_characters: int | None = None
    analysis_cost_breakdown: dict[str, Any] | None = None


class Analysis(VapiModel):
    """Post-call analysis results."""

    model_config = ConfigDict(extra="allow")

    summary: str | None = None
    structured_data: dict[str, Any] | None = None
    structured_data_multi: list[dict[str, Any]] | None = None
    success_evaluation: str | None = None
    """Verdict in the rubric's scale (e.g. `"true"` for PassFail)."""


class Monitor(VapiModel):
    """Live monitoring URLs of a call."""

    model_config = ConfigDict(extra="allow")

    listen_url: str | None = None
    """`wss://<host>/<callId>/listen`: live audio of both parties."""
    control_url: str | None = None
    """`https://<host>/<callId>/control`: POST `{"type": "say" | "end-call" | ...}`."""
    monitors: list[dict[str, Any]] | None = None


class Artifact(VapiModel):
    """What the call left behind (`call.artifact`)."""

    model_config = ConfigDict(extra="allow")

    messages: list[ConversationMessage] | None = None
    messages_openai_formatted: list[dict[str, Any]] | None = Field(None, alias="messagesOpenAIFormatted")
    """The conversation in OpenAI chat format."""
    transcript: str | None = None
    """`AI: ...\nUser: ...` lines."""
    recording_url: str | None = None
    """Mono recording (deprecated by Vapi in favour of `recording.mono.combinedUrl`)."""
    stereo_recording_url: str | None = None
    """Stereo recording: customer left, assistant right."""
    recording: dict[str, Any] | None = None
    """`{stereoUrl, videoUrl, mono: {combinedUrl, assistantUrl, customerUrl}}`."""
    log_url: str | None = None
    pcap_url: str | None = None
    transfers: list[dict[str, Any]] | None = None
    variable_values: dict[str, Any] | None = None
    """Variable values at the end of the call."""
    performance_metrics: dict[str, Any] | None = None
    """Turn latencies and averages (model, voice, transcriber, endpointing), in ms."""
    structured_outputs: dict[str, Any] | None = None


class CreateCustomerDTO(VapiModel):
    """The other party of the call: who is called (outbound) or who called (inbound)."""

    number_e164_check_enabled: bool | None = None
    """Reject `number` unless it is E.164; default true."""
    extension: str | None = Field(None, max_length=10)
    """Digits dialled after the call connects."""
    assistant_overrides: AssistantOverrides | None = None
    """Overrides for calls with this customer."""
    squad_overrides: AssistantOverrides | None = None
    """Overrides for every squad member in calls with this customer."""
    number: str | None = Field(None, min_length=3, max_length=40)
    """Phone number, E.164 (e.g. `+14155550123`)."""
    sip_uri: str | None = None
    """SIP URI to call instead of a number."""
    name: str | None = Field(None, max_length=40)
    """Customer name; available to prompts as `{{customer.name}}`."""
    email: str | None = Field(None, max_length=40)
    external_id: str | None = Field(None, max_length=40)
    """Your id for the customer."""

    _number_is_e164 = field_validator("number")(check_e164)


class AudioFormat(VapiModel):
    """Raw audio on a websocket transport."""

    format: Literal["pcm_s16le", "mulaw"] = "pcm_s16le"
    """Sample encoding: 16-bit little-endian PCM or 8-bit mu-law."""
    container: Literal["raw"] = "raw"
    """No container: bare samples in binary websocket frames."""
    sample_rate: int = Field(16000, ge=8000, le=192000)
    """Samples per second, mono (the spec allows 0..192000; below 8 kHz is not speech-usable)."""


class VapiWebsocketTransport(VapiModel):
    """Audio over a websocket (`wss://<host>/<callId>/transport`): raw PCM both ways, JSON control frames."""

    provider: Literal["vapi.websocket"]
    conversation_type: Literal["voice"] | None = None
    """Only `voice`."""
    audio_format: AudioFormat | None = None
    """Audio format both ways; default 16 kHz `pcm_s16le`."""


class VonageTransport(PassthroughModel):
    """A Vonage call leg; stored verbatim."""

    provider: Literal["vonage"]


class TwilioTransport(PassthroughModel):
    """A Twilio call leg (`callSid`, `accountSid`); stored verbatim."""

    provider: Literal["twilio"]


class VapiSipTransport(PassthroughModel):
    """A SIP call leg; stored verbatim."""

    provider: Literal["vapi.sip"]


class TelnyxTransport(PassthroughModel):
    """A Telnyx call leg; stored verbatim."""

    provider: Literal["telnyx"]


class VapiWebCallTransport(PassthroughModel):
    """A Daily.co web call (not available on OpenCall); stored verbatim."""

    provider: Literal["daily"]


Transport = Annotated[
    VapiWebsocketTransport
    | VonageTransport
    | TwilioTransport
    | VapiSipTransport
    | TelnyxTransport
    | VapiWebCallTransport,
    Field(discriminator="provider"),
]
"""`call.transport` in a request."""


class VapiWebsocketTransportInfo(VapiWebsocketTransport):
    """`call.transport` of a websocket call as returned: adds the URL to connect to."""

    model_config = ConfigDict(extra="allow")

    websocket_call_url: str | None = None
    """`wss://<host>/<callId>/transport`: connect here to send and receive the call's audio."""


TransportInfo = Annotated[
    VapiWebsocketTransportInfo
    | VonageTransport
    | TwilioTransport
    | VapiSipTransport
    | TelnyxTransport
    | VapiWebCallTransport,
    Field(discriminator="provider"),
]
"""`call.transport` in a response."""


class _CallTarget(VapiModel):
    """Who runs the call, and with which numbers (shared by the create body and the response)."""

    assistant_id: str | None = None
    """Saved assistant that runs the call."""
    assistant: CreateAssistantDTO | None = None
    """Transient assistant that runs the call."""
    assistant_version: str | None = None
    """Version label of the saved assistant; only with `assistantId`."""
    assistant_overrides: AssistantOverrides | None = None
    """Changes to the assistant for this call (`variableValues`, `server`, `artifactPlan`, ...)."""
    squad_id: str | None = None
    squad: CreateSquadDTO | None = None
    squad_overrides: AssistantOverrides | None = None
    workflow_id: str | None = None
    workflow: dict[str, Any] | None = None
    """Transient CreateWorkflowDTO, stored verbatim (workflows are not run by OpenCall)."""
    workflow_overrides: dict[str, Any] | None = None
    """WorkflowOverrides, stored verbatim."""
    phone_number_id: str | None = None
    """Saved phone number the call is placed from (outbound) or came in on."""
    customer_id: str | None = None
    """Saved customer."""
    customer: CreateCustomerDTO | None = None
    """Who is called (outbound) or who called (inbound)."""
    name: str | None = Field(None, max_length=40)
    """Label."""
    schedule_plan: SchedulePlan | None = None
    """Start later; the call waits in status `scheduled`."""


class CreateCallDTO(_CallTarget):
    """Body of `POST /call`. One of assistant / squad / workflow is needed, and for a phone call a number
    (`phoneNumberId` or `phoneNumber`) and a customer."""

    phone_number: ImportTwilioPhoneNumberDTO | None = None
    """Transient Twilio number to call from, instead of `phoneNumberId`."""
    customers: list[CreateCustomerDTO] | None = None
    """Batch: one call per customer; the answer is a `CallBatchResponse`."""
    transport: Transport | None = None
    """How audio flows; `vapi.websocket` for a raw-audio websocket call (no phone number then)."""


class UpdateCallDTO(VapiModel):
    """Body of `PATCH /call/{id}`: only the label can change."""

    name: str | None = Field(None, max_length=40)


class DeleteCallDTO(VapiModel):
    """Body of `DELETE /call/{id}` (may be `{}`); `ids` deletes several calls."""

    ids: list[str] | None = None


class CustomerInfo(VapiModel):
    """`call.customer` as returned; lenient, as inbound caller ids need not be E.164 (`anonymous`)."""

    model_config = ConfigDict(extra="allow")

    number: str | None = None
    sip_uri: str | None = None
    extension: str | None = None
    name: str | None = None
    email: str | None = None
    external_id: str | None = None
    number_e164_check_enabled: bool | None = None
    assistant_overrides: AssistantOverrides | None = None
    squad_overrides: AssistantOverrides | None = None


class Call(_CallTarget, PersistedFields):
    """A call, as returned by `/call` routes."""

    model_config = ConfigDict(extra="allow")

    type: Literal["inboundPhoneCall", "outboundPhoneCall", "webCall", "vapi.websocketCall"] | None = None
    status: (
        Literal[
            "scheduled",
            "queued",
            "ringing",
            "in-progress",
            "forwarding",
            "ended",
            "not-found",
            "deletion-failed",
        ]
        | None
    ) = None
    """`queued` at creation (`scheduled` with a schedule plan), then ringing, in-progress, ended."""
    ended_reason: str | None = None
    """Why the call ended, in Vapi's strings (`customer-ended-call`, `silence-timed-out`, ...)."""
    ended_message: str | None = None
    """Extra context for the ended reason (e.g. the provider's error)."""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    cost: float | None = None
    """Total cost in USD (0 for local models)."""
    cost_breakdown: CostBreakdown | None = None
    costs: list[dict[str, Any]] | None = None
    """Itemised costs (transport, transcriber, model, voice, ...)."""
    messages: list[ConversationMessage] | None = None
    """The conversation so far."""
    phone_call_provider: Literal["twilio", "vonage", "vapi", "telnyx"] | None = None
    phone_call_transport: Literal["sip", "pstn"] | None = None
    phone_call_provider_id: str | None = None
    """Provider's call id (Twilio CallSid, ...)."""
    destination: PhoneDestination | None = None
    """Where the call was transferred."""
    artifact_plan: ArtifactPlan | None = None
    analysis: Analysis | None = None
    """Post-call summary, structured data, success evaluation."""
    monitor: Monitor | None = None
    """Live listen / control URLs."""
    artifact: Artifact | None = None
    """Recording, transcript, messages, performance metrics."""
    compliance: dict[str, Any] | None = None
    campaign_id: str | None = None
    phone_number: TransientTwilioPhoneNumber | None = None
    """The transient Twilio number the call used, without its secrets."""
    customer: CustomerInfo | None = None  # type: ignore[assignment]
    transport: TransportInfo | None = None
    """How audio flows; for a websocket call it carries `websocketCallUrl`."""


class CallBatchError(VapiModel):
    """A customer of a batch whose call could not be created."""

    customer: CreateCustomerDTO
    error: str


class CallBatchResponse(VapiModel):
    """Answer of `POST /call` with `customers[]`."""

    results: list[Call]
    errors: list[CallBatchError]
    subscription_limits: dict[str, Any] | None = None
