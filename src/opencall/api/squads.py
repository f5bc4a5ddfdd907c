"""`/squad`: Vapi's SquadController. Members that name a saved assistant must exist in the org."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from opencall.api.deps import Context, Filters
from opencall.api.responses import many, one
from opencall.errors import BadRequest
from opencall.schemas.squad import CreateSquadDTO, Squad, UpdateSquadDTO
from opencall.store import tables
from opencall.store.resources import Repository

router = APIRouter(prefix="/squad", tags=["Squads"])


def squads(c: Context) -> Repository[tables.Squad]:
    return Repository(c.session, tables.Squad, c.org_id, "Squad")


async def check_members(c: Context, members: list[dict[str, Any]]) -> None:
    saved = Repository(c.session, tables.Assistant, c.org_id, "Assistant")
    for index, member in enumerate(members):
        assistant_id = member.get("assistantId")
        if assistant_id and await saved.find(assistant_id) is None:
            raise BadRequest([f"members.{index}.assistantId {assistant_id} does not exist"])


@router.post("", status_code=201, operation_id="SquadController_create", response_model=Squad)
async def create_squad(body: CreateSquadDTO, c: Context) -> JSONResponse:
    data = body.to_wire()
    await check_members(c, data.get("members", []))
    row = await squads(c).create(data)
    await c.session.commit()
    return one(row, 201)


@router.get("", operation_id="SquadController_findAll", response_model=list[Squad])
async def list_squads(
    c: Context,
    filters: Filters,
    id_any: Annotated[list[str] | None, Query(alias="idAny", description="Only squads with one of these ids")] = None,
) -> JSONResponse:
    repo = squads(c)
    query = repo.query()
    if id_any:
        query = query.where(tables.Squad.id.in_(id_any))
    return many(await repo.list(filters, query))


@router.get("/{id}", operation_id="SquadController_findOne", response_model=Squad)
async def get_squad(id: str, c: Context) -> JSONResponse:
    return one(await squads(c).get(id))


@router.patch("/{id}", operation_id="SquadController_update", response_model=Squad)
async def update_squad(id: str, body: UpdateSquadDTO, c: Context) -> JSONResponse:
    repo = squads(c)
    row = await repo.get(id)
    changes = body.to_wire()
    await check_members(c, changes.get("members") or [])
    row = await repo.update(row, changes)
    await c.session.commit()
    return one(row)


@router.delete("/{id}", operation_id="SquadController_remove", response_model=Squad)
async def delete_squad(id: str, c: Context) -> JSONResponse:
    repo = squads(c)
    row = await repo.get(id)
    await repo.delete(row)
    await c.session.commit()
    return one(row)
