"""Files (`/file`): uploaded documents, e.g. for knowledge bases."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from opencall.schemas.base import PersistedFields, VapiModel


class File(PersistedFields):
    """An uploaded file, as returned by `/file` routes."""

    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    object_: Literal["file"] = Field("file", alias="object")
    status: Literal["processing", "done", "failed"] | None = None
    """`processing` while text is being extracted."""
    name: str | None = Field(None, max_length=40)
    """Label (defaults to the uploaded file name)."""
    original_name: str | None = None
    """File name as uploaded."""
    bytes: int | None = None
    """Size in bytes."""
    purpose: str | None = None
    mimetype: str | None = None
    key: str | None = None
    """Storage key."""
    path: str | None = None
    bucket: str | None = None
    url: str | None = None
    """Where the file can be downloaded."""
    parsed_text_url: str | None = None
    """Where the extracted text can be downloaded."""
    parsed_text_bytes: int | None = None
    metadata: dict[str, Any] | None = None


class UpdateFileDTO(VapiModel):
    """Body of `PATCH /file/{id}`."""

    name: str | None = Field(None, min_length=1, max_length=40)
