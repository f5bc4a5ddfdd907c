"""`/phone-number` and `/v2/phone-number`: Vapi's PhoneNumberController. Credentials are sealed, never returned."""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, or_, select

from opencall.api.deps import Context, Filters
from opencall.api.responses import many, one
from opencall.api.twilio_calls import configure_number
from opencall.errors import BadRequest
from opencall.schemas.phone_number import (
    CreatePhoneNumberDTO,
    PhoneNumber,
    PhoneNumberPaginatedResponse,
    validate_phone_number_update,
)
from opencall.store import tables
from opencall.store.resources import Repository, to_wire
from opencall.store.secrets_box import SecretBox

router = APIRouter(tags=["Phone Numbers"])

SECRET_FIELDS = ("twilioAuthToken", "twilioApiSecret")
"""Credential fields of the create/update DTOs that are stored encrypted and never echoed."""
TWILIO_ROUTING_FIELDS = {"number", "twilioAccountSid", "twilioApiKey"}
"""Changing any of these (or a secret) re-points the number's Voice URL on Twilio."""


def phone_numbers(c: Context) -> Repository[tables.PhoneNumber]:
    return Repository(c.session, tables.PhoneNumber, c.org_id, "Phone Number")


TWILIO_CREDENTIAL_FIELDS = ("twilioAccountSid", "twilioAuthToken", "twilioApiKey", "twilioApiSecret")


def check_twilio_credentials(values: dict[str, Any]) -> None:
    """Twilio takes credentials as HTTP Basic auth: anything but printable ASCII can never be valid, and
    would fail inside the HTTP client instead of as a 400."""
    bad = [
        f"{name} must contain only printable ASCII characters"
        for name in TWILIO_CREDENTIAL_FIELDS
        if isinstance(value := values.get(name), str) and not (value.isascii() and value.isprintable())
    ]
    if bad:
        raise BadRequest(bad)


def split_secrets(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    public = {k: v for k, v in data.items() if k not in SECRET_FIELDS}
    secret = {k: v for k, v in data.items() if k in SECRET_FIELDS and v is not None}
    return public, secret


async def ensure_unique_number(c: Context, number: str | None, except_id: str | None = None) -> None:
    if not number:
        return
    query = select(tables.PhoneNumber.id).where(
        tables.PhoneNumber.org_id == c.org_id, tables.PhoneNumber.number == number
    )
    if except_id:
        query = query.where(tables.PhoneNumber.id != except_id)
    if await c.session.scalar(query):
        raise BadRequest([f"number {number} already exists in this org"])


@router.post(
    "/phone-number", status_code=201, operation_id="PhoneNumberController_create", response_model=PhoneNumber
)
async def create_phone_number(
    body: Annotated[CreatePhoneNumberDTO, Body()], c: Context, request: Request
) -> JSONResponse:
    data, secret = split_secrets(body.to_wire())
    data["provider"] = body.provider
    data.setdefault("status", "active")
    number = data.get("number")
    await ensure_unique_number(c, number)
    number_id = str(uuid.uuid4())
    if body.provider == "twilio":
        check_twilio_credentials({**data, **secret})
        await configure_number(c.settings, number_id, data, secret)
    row = await phone_numbers(c).create(
        data,
        id=number_id,
        provider=body.provider,
        number=number,
        assistant_id=data.get("assistantId"),
        secrets=SecretBox.from_settings(c.settings).seal(secret),
    )
    await c.session.commit()
    return one(row, 201)


@router.get("/phone-number", operation_id="PhoneNumberController_findAll", response_model=list[PhoneNumber])
async def list_phone_numbers(c: Context, filters: Filters) -> JSONResponse:
    return many(await phone_numbers(c).list(filters))


@router.get(
    "/v2/phone-number",
    operation_id="PhoneNumberController_findAllPaginated",
    response_model=PhoneNumberPaginatedResponse,
)
async def list_phone_numbers_paginated(
    c: Context,
    filters: Filters,
    page: Annotated[int, Query(ge=1)] = 1,
    sort_order: Annotated[Literal["ASC", "DESC"], Query(alias="sortOrder")] = "DESC",
    search: Annotated[str | None, Query(max_length=100)] = None,
) -> JSONResponse:
    table = tables.PhoneNumber
    repo = phone_numbers(c)
    query = filters.apply(repo.query(), table)
    if search:
        like = f"%{search}%"
        query = query.where(or_(table.number.like(like), table.data["name"].as_string().like(like)))
    total = await c.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = table.created_at.asc() if sort_order == "ASC" else table.created_at.desc()
    per_page = filters.limit
    offset = (page - 1) * per_page
    rows = (
        list(await c.session.scalars(query.order_by(order, table.id).offset(offset).limit(per_page)))
        # A page past the end is empty; not asking also keeps a huge page number from overflowing the OFFSET.
        if offset < total
        else []
    )
    pages = math.ceil(total / per_page) if per_page else 0
    return JSONResponse(
        {
            "results": [to_wire(row) for row in rows],
            "metadata": {
                "itemsPerPage": per_page,
                "totalItems": total,
                "currentPage": page,
                "totalPages": pages,
                "hasNextPage": page < pages,
                "sortOrder": sort_order,
            },
        }
    )


@router.get("/phone-number/{id}", operation_id="PhoneNumberController_findOne", response_model=PhoneNumber)
async def get_phone_number(id: str, c: Context) -> JSONResponse:
    return one(await phone_numbers(c).get(id))


@router.patch(
    "/phone-number/{id}",
    operation_id="PhoneNumberController_update",
    response_model=PhoneNumber,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/UpdatePhoneNumberDTO"}}
            },
        }
    },
)
async def update_phone_number(id: str, body: Annotated[dict[str, Any], Body()], c: Context) -> JSONResponse:
    repo = phone_numbers(c)
    row = await repo.get(id)
    changes, secret = split_secrets(validate_phone_number_update(row.provider, body))
    columns: dict[str, Any] = {}
    if "number" in changes:
        await ensure_unique_number(c, changes["number"], except_id=row.id)
        columns["number"] = changes["number"]
    if "assistantId" in changes:
        columns["assistant_id"] = changes["assistantId"]
    box = SecretBox.from_settings(c.settings)
    if secret:
        columns["secrets"] = box.seal({**box.open(row.secrets), **secret})
    if row.provider == "twilio" and (secret or TWILIO_ROUTING_FIELDS & changes.keys()):
        check_twilio_credentials({**changes, **secret})
        await configure_number(c.settings, row.id, {**row.data, **changes}, {**box.open(row.secrets), **secret})
    row = await repo.update(row, changes, **columns)
    await c.session.commit()
    return one(row)


@router.delete("/phone-number/{id}", operation_id="PhoneNumberController_remove", response_model=PhoneNumber)
async def delete_phone_number(id: str, c: Context) -> JSONResponse:
    repo = phone_numbers(c)
    row = await repo.get(id)
    await repo.delete(row)
    await c.session.commit()
    return one(row)
