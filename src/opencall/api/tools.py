"""`/tool`: Vapi's ToolController. A PATCH is validated against the stored tool's own type."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from opencall.api.deps import Context, Filters
from opencall.api.responses import many, one
from opencall.schemas.tools import CreateToolDTO, Tool, UpdateToolDTO, validate_tool_update
from opencall.store import tables
from opencall.store.resources import Repository

router = APIRouter(prefix="/tool", tags=["Tools"])


def tools(c: Context) -> Repository[tables.Tool]:
    return Repository(c.session, tables.Tool, c.org_id, "Tool")


@router.post("", status_code=201, operation_id="ToolController_create", response_model=Tool)
async def create_tool(body: Annotated[CreateToolDTO, Body()], c: Context) -> JSONResponse:
    data = body.to_wire()
    data["type"] = body.type
    row = await tools(c).create(data, type=body.type)
    await c.session.commit()
    return one(row, 201)


@router.get("", operation_id="ToolController_findAll", response_model=list[Tool])
async def list_tools(c: Context, filters: Filters) -> JSONResponse:
    return many(await tools(c).list(filters))


@router.get("/{id}", operation_id="ToolController_findOne", response_model=Tool)
async def get_tool(id: str, c: Context) -> JSONResponse:
    return one(await tools(c).get(id))


@router.patch(
    "/{id}",
    operation_id="ToolController_update",
    response_model=Tool,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UpdateToolDTO"}}},
        }
    },
)
async def update_tool(id: str, body: Annotated[dict[str, Any], Body()], c: Context) -> JSONResponse:
    repo = tools(c)
    row = await repo.get(id)
    changes = validate_tool_update(row.type, body)
    row = await repo.update(row, changes)
    await c.session.commit()
    return one(row)


@router.delete("/{id}", operation_id="ToolController_remove", response_model=Tool)
async def delete_tool(id: str, c: Context) -> JSONResponse:
    repo = tools(c)
    row = await repo.get(id)
    await repo.delete(row)
    await c.session.commit()
    return one(row)


# Referenced by the PATCH body above; listed so it lands in components/schemas.
DOCUMENTED_MODELS = (UpdateToolDTO,)
