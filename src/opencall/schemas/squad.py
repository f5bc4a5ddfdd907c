"""Squads (`/squad`): assistants that hand the call to each other; the call starts with `members[0]`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from opencall.schemas.assistant import AssistantOverrides, CreateAssistantDTO
from opencall.schemas.base import PersistedFields, VapiModel
from opencall.schemas.common import TransferDestinationAssistant
from opencall.schemas.tools import VariableExtractionPlan


class HandoffDestinationAssistant(VapiModel):
    """A handoff target (multi-agent handoff tool) of a squad member."""

    type: Literal["assistant"]
    assistant_name: str | None = None
    """`name` of the squad member to hand off to."""
    assistant_id: str | None = None
    """Saved assistant to hand off to."""
    assistant: CreateAssistantDTO | None = None
    """Transient assistant to hand off to."""
    assistant_overrides: AssistantOverrides | None = None
    context_engineering_plan: dict[str, Any] | None = None
    """Which history the next assistant sees (last N messages, none, all, ...); stored verbatim."""
    variable_extraction_plan: VariableExtractionPlan | None = None
    description: str | None = None
    """Tells the model when to hand off."""


class SquadMemberDTO(VapiModel):
    """One assistant of a squad: saved (`assistantId`) or transient (`assistant`)."""

    assistant_id: str | None = None
    assistant: CreateAssistantDTO | None = None
    assistant_version: str | None = None
    """Pin a version label of the saved assistant."""
    assistant_overrides: AssistantOverrides | None = None
    """Overrides for this member only."""
    assistant_destinations: list[TransferDestinationAssistant | HandoffDestinationAssistant] | None = None
    """Members this one can transfer or hand off to (adds a transfer / handoff tool)."""


class CreateSquadDTO(VapiModel):
    """Body of `POST /squad`; also a transient squad in `POST /call` (`squad`)."""

    name: str | None = None
    """Label."""
    members: list[SquadMemberDTO] = Field(min_length=1)
    """The assistants; the call starts with the first."""
    members_overrides: AssistantOverrides | None = None
    """Overrides applied to every member."""


class UpdateSquadDTO(CreateSquadDTO):
    """Body of `PATCH /squad/{id}`; as in the spec, `members` is required (the list is replaced)."""


class Squad(CreateSquadDTO, PersistedFields):
    """A saved squad, as returned by `/squad` routes."""

    model_config = ConfigDict(extra="allow")
