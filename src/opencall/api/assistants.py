"""`/assistant`: Vapi's AssistantController, plus the launch-contract string forms on create."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from opencall.api.deps import Context, Filters
from opencall.api.responses import many, one
from opencall.schemas.assistant import Assistant, CreateAssistantDTO, UpdateAssistantDTO
from opencall.schemas.launch import CreateAssistantRequest, apply_embedded_defaults
from opencall.store import tables
from opencall.store.resources import Repository

router = APIRouter(prefix="/assistant", tags=["Assistants"])


def assistants(c: Context) -> Repository[tables.Assistant]:
    return Repository(c.session, tables.Assistant, c.org_id, "Assistant")


@router.post("", status_code=201, operation_id="AssistantController_create", response_model=Assistant)
async def create_assistant(body: CreateAssistantRequest, c: Context) -> JSONResponse:
    dto = apply_embedded_defaults(body.to_vapi())
    row = await assistants(c).create(dto.to_wire())
    await c.session.commit()
    return one(row, 201)


@router.get("", operation_id="AssistantController_findAll", response_model=list[Assistant])
async def list_assistants(c: Context, filters: Filters) -> JSONResponse:
    return many(await assistants(c).list(filters))


@router.get("/{id}", operation_id="AssistantController_findOne", response_model=Assistant)
async def get_assistant(id: str, c: Context) -> JSONResponse:
    return one(await assistants(c).get(id))


@router.patch("/{id}", operation_id="AssistantController_update", response_model=Assistant)
async def update_assistant(id: str, body: UpdateAssistantDTO, c: Context) -> JSONResponse:
    repo = assistants(c)
    row = await repo.update(await repo.get(id), body.to_wire())
    await c.session.commit()
    return one(row)


@router.put("/{id}", operation_id="AssistantController_replace", response_model=Assistant)
async def replace_assistant(id: str, body: CreateAssistantDTO, c: Context) -> JSONResponse:
    """Replace Assistant (Vapi's extended spec): the body becomes the whole assistant."""
    repo = assistants(c)
    row = await repo.get(id)
    row.data = {}
    row = await repo.update(row, body.to_wire())
    await c.session.commit()
    return one(row)


@router.delete("/{id}", operation_id="AssistantController_remove", response_model=Assistant)
async def delete_assistant(id: str, c: Context) -> JSONResponse:
    repo = assistants(c)
    row = await repo.get(id)
    await repo.delete(row)
    await c.session.commit()
    return one(row)
