"""Tool types OpenCall accepts and stores verbatim but does not run (a call that uses one is told so).

Each is a `PassthroughModel`: `type` (and any field the spec requires) is checked, other keys are kept.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict

from opencall.schemas.base import PassthroughModel, PersistedFields


class ToolResponseFields(PersistedFields):
    """What a saved tool adds to its create DTO."""

    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    latest_version: str | None = None
    """Version label of the newest saved version (e.g. `v3`); null until versioning is used."""


class CreateCodeToolDTO(PassthroughModel):
    """Runs code in a sandbox."""

    type: Literal["code"]
    code: str
    """Source code run by the tool."""


class CodeTool(CreateCodeToolDTO, ToolResponseFields):
    """A saved `code` tool."""


class CreateHandoffToolDTO(PassthroughModel):
    """Hands the call to another assistant (multi-agent handoff)."""

    type: Literal["handoff"]


class HandoffTool(CreateHandoffToolDTO, ToolResponseFields):
    """A saved `handoff` tool."""


class CreateBashToolDTO(PassthroughModel):
    """Anthropic computer-use bash tool."""

    type: Literal["bash"]
    sub_type: Literal["bash_20241022"]
    name: Literal["bash"]


class BashTool(CreateBashToolDTO, ToolResponseFields):
    """A saved `bash` tool."""


class CreateComputerToolDTO(PassthroughModel):
    """Anthropic computer-use computer tool."""

    type: Literal["computer"]


class ComputerTool(CreateComputerToolDTO, ToolResponseFields):
    """A saved `computer` tool."""


class CreateTextEditorToolDTO(PassthroughModel):
    """Anthropic computer-use text editor tool."""

    type: Literal["textEditor"]


class TextEditorTool(CreateTextEditorToolDTO, ToolResponseFields):
    """A saved `textEditor` tool."""


class CreateQueryToolDTO(PassthroughModel):
    """Queries knowledge bases."""

    type: Literal["query"]


class QueryTool(CreateQueryToolDTO, ToolResponseFields):
    """A saved `query` tool."""


class CreateGoogleCalendarCreateEventToolDTO(PassthroughModel):
    """Creates a Google Calendar event."""

    type: Literal["google.calendar.event.create"]


class GoogleCalendarCreateEventTool(CreateGoogleCalendarCreateEventToolDTO, ToolResponseFields):
    """A saved `google.calendar.event.create` tool."""


class CreateGoogleSheetsRowAppendToolDTO(PassthroughModel):
    """Appends a row to a Google Sheet."""

    type: Literal["google.sheets.row.append"]


class GoogleSheetsRowAppendTool(CreateGoogleSheetsRowAppendToolDTO, ToolResponseFields):
    """A saved `google.sheets.row.append` tool."""


class CreateGoogleCalendarCheckAvailabilityToolDTO(PassthroughModel):
    """Checks Google Calendar availability."""

    type: Literal["google.calendar.availability.check"]


class GoogleCalendarCheckAvailabilityTool(CreateGoogleCalendarCheckAvailabilityToolDTO, ToolResponseFields):
    """A saved `google.calendar.availability.check` tool."""


class CreateSlackSendMessageToolDTO(PassthroughModel):
    """Sends a Slack message."""

    type: Literal["slack.message.send"]


class SlackSendMessageTool(CreateSlackSendMessageToolDTO, ToolResponseFields):
    """A saved `slack.message.send` tool."""


class CreateSmsToolDTO(PassthroughModel):
    """Sends an SMS through Twilio."""

    type: Literal["sms"]


class SmsTool(CreateSmsToolDTO, ToolResponseFields):
    """A saved `sms` tool."""


class CreateMcpToolDTO(PassthroughModel):
    """Exposes the tools of an MCP server."""

    type: Literal["mcp"]


class McpTool(CreateMcpToolDTO, ToolResponseFields):
    """A saved `mcp` tool."""


class CreateGoHighLevelCalendarAvailabilityToolDTO(PassthroughModel):
    """Checks GoHighLevel calendar availability."""

    type: Literal["gohighlevel.calendar.availability.check"]


class GoHighLevelCalendarAvailabilityTool(CreateGoHighLevelCalendarAvailabilityToolDTO, ToolResponseFields):
    """A saved `gohighlevel.calendar.availability.check` tool."""


class CreateGoHighLevelCalendarEventCreateToolDTO(PassthroughModel):
    """Creates a GoHighLevel calendar event."""

    type: Literal["gohighlevel.calendar.event.create"]


class GoHighLevelCalendarEventCreateTool(CreateGoHighLevelCalendarEventCreateToolDTO, ToolResponseFields):
    """A saved `gohighlevel.calendar.event.create` tool."""


class CreateGoHighLevelContactCreateToolDTO(PassthroughModel):
    """Creates a GoHighLevel contact."""

    type: Literal["gohighlevel.contact.create"]


class GoHighLevelContactCreateTool(CreateGoHighLevelContactCreateToolDTO, ToolResponseFields):
    """A saved `gohighlevel.contact.create` tool."""


class CreateGoHighLevelContactGetToolDTO(PassthroughModel):
    """Looks up a GoHighLevel contact."""

    type: Literal["gohighlevel.contact.get"]


class GoHighLevelContactGetTool(CreateGoHighLevelContactGetToolDTO, ToolResponseFields):
    """A saved `gohighlevel.contact.get` tool."""


class CreateSipRequestToolDTO(PassthroughModel):
    """Sends a SIP request (INFO, MESSAGE, NOTIFY) on the call."""

    type: Literal["sipRequest"]
    verb: str
    """SIP method sent."""


class SipRequestTool(CreateSipRequestToolDTO, ToolResponseFields):
    """A saved `sipRequest` tool."""


class CreateVoicemailToolDTO(PassthroughModel):
    """Leaves a voicemail when a machine answers."""

    type: Literal["voicemail"]


class VoicemailTool(CreateVoicemailToolDTO, ToolResponseFields):
    """A saved `voicemail` tool."""
