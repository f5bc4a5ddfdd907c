"""Tools (`POST /tool`, and transient tools in `model.tools`), discriminated by `type`.

OpenCall runs `function`, `endCall`, `transferCall`, `dtmf` and `apiRequest`, typed here; the other Vapi
tool types (`tool_variants.py`) are accepted and stored verbatim.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from opencall.schemas.base import VapiModel
from opencall.schemas.common import BackoffPlan, Server, TransferDestination, partial_model, union_members
from opencall.schemas.tool_variants import (
    BashTool,
    CodeTool,
    ComputerTool,
    CreateBashToolDTO,
    CreateCodeToolDTO,
    CreateComputerToolDTO,
    CreateGoHighLevelCalendarAvailabilityToolDTO,
    CreateGoHighLevelCalendarEventCreateToolDTO,
    CreateGoHighLevelContactCreateToolDTO,
    CreateGoHighLevelContactGetToolDTO,
    CreateGoogleCalendarCheckAvailabilityToolDTO,
    CreateGoogleCalendarCreateEventToolDTO,
    CreateGoogleSheetsRowAppendToolDTO,
    CreateHandoffToolDTO,
    CreateMcpToolDTO,
    CreateQueryToolDTO,
    CreateSipRequestToolDTO,
    CreateSlackSendMessageToolDTO,
    CreateSmsToolDTO,
    CreateTextEditorToolDTO,
    CreateVoicemailToolDTO,
    GoHighLevelCalendarAvailabilityTool,
    GoHighLevelCalendarEventCreateTool,
    GoHighLevelContactCreateTool,
    GoHighLevelContactGetTool,
    GoogleCalendarCheckAvailabilityTool,
    GoogleCalendarCreateEventTool,
    GoogleSheetsRowAppendTool,
    HandoffTool,
    McpTool,
    QueryTool,
    SipRequestTool,
    SlackSendMessageTool,
    SmsTool,
    TextEditorTool,
    ToolResponseFields,
    VoicemailTool,
)


class _ToolMessageBase(VapiModel):
    content: str | None = Field(None, max_length=1000)
    """What the assistant says; may contain `{{ variables }}`."""
    contents: list[dict[str, Any]] | None = None
    """Per-language variants (`{type: "text", text, language}`); stored verbatim."""
    conditions: list[dict[str, Any]] | None = None
    """Only speak this message when these conditions on the tool-call arguments hold."""


class ToolMessageStart(_ToolMessageBase):
    """Said when the tool call starts."""

    type: Literal["request-start"]
    blocking: bool | None = None
    """Wait for the message to be spoken before calling the tool; default false."""


class ToolMessageComplete(_ToolMessageBase):
    """Said (or added to the history) when the tool call returns."""

    type: Literal["request-complete"]
    role: Literal["assistant", "system"] | None = None
    """`assistant` speaks `content`; `system` adds it to the model's context instead. Default assistant."""
    end_call_after_spoken_enabled: bool | None = None
    """Hang up after this message is spoken; default false."""


class ToolMessageFailed(_ToolMessageBase):
    """Said when the tool call fails."""

    type: Literal["request-failed"]
    role: Literal["assistant", "system"] | None = None
    end_call_after_spoken_enabled: bool | None = None


class ToolMessageDelayed(_ToolMessageBase):
    """Said when the tool call takes longer than `timingMilliseconds`."""

    type: Literal["request-response-delayed"]
    timing_milliseconds: int | None = Field(None, ge=100, le=120000)
    """Delay before the message is said, in ms."""


ToolMessage = Annotated[
    ToolMessageStart | ToolMessageComplete | ToolMessageFailed | ToolMessageDelayed,
    Field(discriminator="type"),
]


class ToolParameter(VapiModel):
    """A static key-value merged into the tool call's arguments."""

    key: str
    value: str | float | bool | dict[str, Any] | list[Any]


class VariableExtractionPlan(VapiModel):
    """Variables pulled out of the tool's response for later `{{ variables }}`."""

    schema_: dict[str, Any] | None = Field(None, alias="schema")
    """JSON schema of the values to extract."""
    aliases: list[dict[str, Any]] | None = None
    """`{key, value}` Liquid templates naming extracted values."""


class _ToolBase(VapiModel):
    messages: list[ToolMessage] | None = None
    """Messages said around the tool call (start, complete, failed, delayed)."""
    rejection_plan: dict[str, Any] | None = None
    """ToolRejectionPlan: conditions under which the call is rejected; stored verbatim."""


class OpenAIFunctionParameters(VapiModel):
    """JSON schema of the function's arguments (OpenAI function-calling format)."""

    type: Literal["object"]
    properties: dict[str, dict[str, Any]]
    """Argument name → JSON schema."""
    required: list[str] | None = None
    """Names of the required arguments."""


class OpenAIFunction(VapiModel):
    """The function the model may call."""

    name: str = Field(max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    """Function name: letters, digits, `_` and `-`, at most 64 characters."""
    description: str | None = None
    """Tells the model what the function does and when to call it."""
    strict: bool | None = None
    """OpenAI structured outputs: arguments must match `parameters` exactly; default false."""
    parameters: OpenAIFunctionParameters | None = None
    """Arguments schema; absent = the function takes no arguments."""


class CreateFunctionToolDTO(_ToolBase):
    """A function the model calls: OpenCall POSTs `tool-calls` to `server` and feeds back the result."""

    type: Literal["function"]
    function: OpenAIFunction | None = None
    async_: bool | None = Field(None, alias="async")
    """Do not wait for the server's answer (fire and forget); default false."""
    server: Server | None = None
    """Where `tool-calls` is POSTed; falls back to the assistant's, phone number's, then org's server."""
    parameters: list[ToolParameter] | None = None
    """Static key-values merged into the call's arguments."""
    variable_extraction_plan: VariableExtractionPlan | None = None
    """Variables pulled out of the response."""


class CreateEndCallToolDTO(_ToolBase):
    """Lets the model hang up."""

    type: Literal["endCall"]


class CreateDtmfToolDTO(_ToolBase):
    """Lets the model press keypad digits (IVR navigation)."""

    type: Literal["dtmf"]
    sip_info_dtmf_enabled: bool | None = None
    """Send digits as SIP INFO instead of RFC 2833 events; default false."""


class CreateTransferCallToolDTO(_ToolBase):
    """Lets the model transfer the call; with no destinations the server is asked
    (`transfer-destination-request`)."""

    type: Literal["transferCall"]
    destinations: list[TransferDestination] | None = None
    """Assistants, numbers or SIP URIs the model can transfer to."""


class CreateApiRequestToolDTO(_ToolBase):
    """Calls an HTTP API directly, with the model's arguments as the body."""

    type: Literal["apiRequest"]
    method: Literal["POST", "GET", "PUT", "PATCH", "DELETE"]
    url: str
    """Request URL; may contain `{{ variables }}`."""
    name: str | None = Field(None, max_length=40, pattern=r"^[a-zA-Z0-9_-]+$")
    """Function name shown to the model."""
    description: str | None = None
    """Tells the model when to call it."""
    body: dict[str, Any] | None = None
    """JSON schema of the request body the model fills in."""
    headers: dict[str, Any] | None = None
    """JSON schema of the request headers."""
    timeout_seconds: float | None = Field(None, ge=1, le=300)
    """Request timeout; default 20 s."""
    credential_id: str | None = None
    """Credential used to authenticate the request."""
    encrypted_paths: list[str] | None = None
    backoff_plan: BackoffPlan | None = None
    """Retries; default none."""
    variable_extraction_plan: VariableExtractionPlan | None = None
    parameters: list[ToolParameter] | None = None
    """Static key-values merged into the request."""


CreateToolDTO = Annotated[
    CreateApiRequestToolDTO
    | CreateCodeToolDTO
    | CreateDtmfToolDTO
    | CreateEndCallToolDTO
    | CreateFunctionToolDTO
    | CreateTransferCallToolDTO
    | CreateHandoffToolDTO
    | CreateBashToolDTO
    | CreateComputerToolDTO
    | CreateTextEditorToolDTO
    | CreateQueryToolDTO
    | CreateGoogleCalendarCreateEventToolDTO
    | CreateGoogleSheetsRowAppendToolDTO
    | CreateGoogleCalendarCheckAvailabilityToolDTO
    | CreateSlackSendMessageToolDTO
    | CreateSmsToolDTO
    | CreateMcpToolDTO
    | CreateGoHighLevelCalendarAvailabilityToolDTO
    | CreateGoHighLevelCalendarEventCreateToolDTO
    | CreateGoHighLevelContactCreateToolDTO
    | CreateGoHighLevelContactGetToolDTO
    | CreateSipRequestToolDTO
    | CreateVoicemailToolDTO,
    Field(discriminator="type"),
]
"""Body of `POST /tool`, and an item of `model.tools`."""


class FunctionTool(CreateFunctionToolDTO, ToolResponseFields):
    """A saved `function` tool."""


class EndCallTool(CreateEndCallToolDTO, ToolResponseFields):
    """A saved `endCall` tool."""


class DtmfTool(CreateDtmfToolDTO, ToolResponseFields):
    """A saved `dtmf` tool."""


class TransferCallTool(CreateTransferCallToolDTO, ToolResponseFields):
    """A saved `transferCall` tool."""


class ApiRequestTool(CreateApiRequestToolDTO, ToolResponseFields):
    """A saved `apiRequest` tool."""


Tool = Annotated[
    ApiRequestTool
    | CodeTool
    | DtmfTool
    | EndCallTool
    | FunctionTool
    | TransferCallTool
    | HandoffTool
    | BashTool
    | ComputerTool
    | TextEditorTool
    | QueryTool
    | GoogleCalendarCreateEventTool
    | GoogleSheetsRowAppendTool
    | GoogleCalendarCheckAvailabilityTool
    | SlackSendMessageTool
    | SmsTool
    | McpTool
    | GoHighLevelCalendarAvailabilityTool
    | GoHighLevelCalendarEventCreateTool
    | GoHighLevelContactCreateTool
    | GoHighLevelContactGetTool
    | SipRequestTool
    | VoicemailTool,
    Field(discriminator="type"),
]
"""A saved tool as returned by `/tool` routes."""


UPDATE_TOOL_DTOS: dict[str, type[VapiModel]] = {
    tool_type: partial_model(cls, cls.__name__.replace("Create", "Update", 1))
    for tool_type, cls in union_members(CreateToolDTO, "type").items()
}
"""Tool type → its Update*ToolDTO (the create DTO with every field optional), e.g. UpdateFunctionToolDTO."""


class UpdateToolDTO(VapiModel):
    """Body of `PATCH /tool/{id}`: fields of the stored tool's type (checked by `validate_tool_update`)."""

    model_config = ConfigDict(extra="allow")

    type: str | None = None
    """If sent, must equal the stored tool's type."""


def validate_tool_update(stored_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate a PATCH body against the Update DTO of the stored tool's type; returns the wire-form patch.

    Raises `pydantic.ValidationError` (e.g. "property foo should not exist", or
    "type must be one of the following values: function" when the body changes the type).
    """
    patch = UPDATE_TOOL_DTOS[stored_type].model_validate(body)
    return patch.model_dump(mode="json", by_alias=True, exclude_unset=True)
