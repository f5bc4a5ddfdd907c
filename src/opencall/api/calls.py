"""`/call`: Vapi's CallController. Creating a call stores it `queued`; a transport or carrier runs it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from opencall.api.call_placement import build_call_data
from opencall.api.deps import Context, Ctx, Filters
from opencall.api.responses import many, one
from opencall.api.twilio_calls import place_phone_call
from opencall.errors import BadRequest
from opencall.schemas.call import Call, CallBatchResponse, DeleteCallDTO, UpdateCallDTO
from opencall.schemas.launch import CreateCallRequest, LaunchCallExtras
from opencall.store import tables
from opencall.store.resources import Repository, to_wire

router = APIRouter(prefix="/call", tags=["Calls"])


def calls(c: Ctx) -> Repository[tables.Call]:
    return Repository(c.session, tables.Call, c.org_id, "Call")


def launch_fields(extras: LaunchCallExtras) -> dict[str, Any]:
    """Launch-contract values echoed on the stored call (extra keys the Vapi SDKs keep)."""
    fields: dict[str, Any] = {}
    if extras.metadata is not None:
        fields["metadata"] = extras.metadata
    if extras.recording_url is not None:
        fields["recordingUrl"] = extras.recording_url
    return fields


async def by_idempotency_key(c: Ctx, key: str) -> tables.Call | None:
    return await c.session.scalar(
        select(tables.Call).where(tables.Call.org_id == c.org_id, tables.Call.idempotency_key == key)
    )


@router.post(
    "",
    status_code=201,
    operation_id="CallController_create",
    response_model=Call | CallBatchResponse,
)
async def create_call(
    body: CreateCallRequest,
    c: Context,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="Retries with the same key return the first call instead of placing another.",
        ),
    ] = None,
) -> JSONResponse:
    if idempotency_key and (existing := await by_idempotency_key(c, idempotency_key)):
        return one(existing, 201)
    dto, extras = body.to_vapi()
    if dto.customers:
        return await create_batch(c, dto, extras, request)
    call_id = str(uuid.uuid4())
    data, columns = await build_call_data(c, call_id, dto, extras.from_)
    data.update(launch_fields(extras))
    try:
        row = await calls(c).create(
            data,
            id=call_id,
            type=data["type"],
            status=data["status"],
            idempotency_key=idempotency_key,
            **columns,
        )
        await c.session.commit()
    except IntegrityError:
        # Two retries raced with the same key: the first one won; answer with its call.
        await c.session.rollback()
        if idempotency_key and (existing := await by_idempotency_key(c, idempotency_key)):
            return one(existing, 201)
        raise
    await place_phone_call(c.session, c.settings, row, request.app.state.webhooks)
    return one(row, 201)


async def create_batch(c: Ctx, dto: Any, extras: Any, request: Request) -> JSONResponse:
    rows: list[tables.Call] = []
    errors: list[dict[str, Any]] = []
    for customer in dto.customers:
        single = dto.model_copy(update={"customers": None, "customer": customer})
        call_id = str(uuid.uuid4())
        try:
            data, columns = await build_call_data(c, call_id, single, extras.from_)
        except BadRequest as exc:
            errors.append({"customer": customer.to_wire(), "error": str(exc)})
            continue
        data.update(launch_fields(extras))
        rows.append(await calls(c).create(data, id=call_id, type=data["type"], status=data["status"], **columns))
    await c.session.commit()
    for row in rows:
        await place_phone_call(c.session, c.settings, row, request.app.state.webhooks)
    results = [to_wire(row) for row in rows]
    return JSONResponse({"results": results, "errors": errors}, status_code=201)


@router.get("", operation_id="CallController_findAll", response_model=list[Call])
async def list_calls(
    c: Context,
    filters: Filters,
    id: Annotated[str | None, Query()] = None,
    assistant_id: Annotated[str | None, Query(alias="assistantId")] = None,
    phone_number_id: Annotated[str | None, Query(alias="phoneNumberId")] = None,
) -> JSONResponse:
    repo = calls(c)
    query = repo.query()
    if id:
        query = query.where(tables.Call.id == id)
    if assistant_id:
        query = query.where(tables.Call.assistant_id == assistant_id)
    if phone_number_id:
        query = query.where(tables.Call.phone_number_id == phone_number_id)
    return many(await repo.list(filters, query))


@router.get("/{id}", operation_id="CallController_findOne", response_model=Call)
async def get_call(id: str, c: Context) -> JSONResponse:
    return one(await calls(c).get(id))


@router.patch("/{id}", operation_id="CallController_update", response_model=Call)
async def update_call(id: str, body: UpdateCallDTO, c: Context) -> JSONResponse:
    repo = calls(c)
    row = await repo.update(await repo.get(id), body.to_wire())
    await c.session.commit()
    return one(row)


@router.delete("/{id}", operation_id="CallController_deleteCallData", response_model=Call)
async def delete_call(
    id: str, c: Context, body: Annotated[DeleteCallDTO | None, Body()] = None
) -> JSONResponse:
    """Deletes the call (and, with `ids`, those calls too); answers the deleted call."""
    repo = calls(c)
    row = await repo.get(id)
    for other_id in body.ids if body and body.ids else []:
        if other_id != id and (other := await repo.find(other_id)) is not None:
            await repo.delete(other)
    await repo.delete(row)
    await c.session.commit()
    return one(row)
