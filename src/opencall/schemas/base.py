"""Base classes for the Vapi wire contract.

Field names are camelCase on the wire (`alias_generator=to_camel`); Python code may use snake_case.
Unknown properties are rejected (Vapi runs NestJS' ValidationPipe with `forbidNonWhitelisted`), except
on `PassthroughModel`s: provider variants OpenCall stores verbatim but does not run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class VapiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON object as Vapi would send it: camelCase, only fields that were given."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class PassthroughModel(VapiModel):
    """A provider variant OpenCall accepts and keeps as sent; a call that needs it ends with a clear reason."""

    model_config = ConfigDict(extra="allow")


class PersistedFields(BaseModel):
    """What every stored object carries (required in every Vapi response schema)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    org_id: str
    created_at: datetime
    updated_at: datetime


class ErrorBody(BaseModel):
    """NestJS error envelope, as Vapi answers every error."""

    message: list[str] | str
    error: str
    status_code: int = Field(alias="statusCode")
