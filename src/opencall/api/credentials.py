"""`/credential`: Vapi's CredentialController (extended spec). Secret fields are sealed, never returned."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter

from opencall.api.deps import Context, Filters
from opencall.api.responses import many, one
from opencall.schemas.credential import (
    SECRET_KEYS,
    CreateCredentialDTO,
    CreateWebhookCredentialDTO,
    Credential,
    UpdateCredentialDTO,
)
from opencall.store import tables
from opencall.store.resources import Repository
from opencall.store.secrets_box import SecretBox

router = APIRouter(prefix="/credential", tags=["Credentials"])

create_adapter: TypeAdapter[CreateCredentialDTO] = TypeAdapter(CreateCredentialDTO)


def credentials(c: Context) -> Repository[tables.Credential]:
    return Repository(c.session, tables.Credential, c.org_id, "Credential")


def split(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Public part and sealed part; secrets may sit at the top or inside `authenticationPlan`."""
    public = {k: v for k, v in data.items() if k not in SECRET_KEYS}
    secret = {k: v for k, v in data.items() if k in SECRET_KEYS}
    plan = data.get("authenticationPlan")
    if isinstance(plan, dict):
        public["authenticationPlan"] = {k: v for k, v in plan.items() if k not in SECRET_KEYS}
        if sealed := {k: v for k, v in plan.items() if k in SECRET_KEYS}:
            secret["authenticationPlan"] = sealed
    return public, secret


@router.post("", status_code=201, operation_id="CredentialController_create", response_model=Credential)
async def create_credential(body: Annotated[CreateCredentialDTO, Body()], c: Context) -> JSONResponse:
    data, secret = split(body.to_wire() | {"provider": body.provider})
    row = await credentials(c).create(
        data, provider=body.provider, secrets=SecretBox.from_settings(c.settings).seal(secret)
    )
    await c.session.commit()
    return one(row, 201)


@router.get("", operation_id="CredentialController_findAll", response_model=list[Credential])
async def list_credentials(c: Context, filters: Filters) -> JSONResponse:
    return many(await credentials(c).list(filters))


@router.get("/{id}", operation_id="CredentialController_findOne", response_model=Credential)
async def get_credential(id: str, c: Context) -> JSONResponse:
    return one(await credentials(c).get(id))


@router.patch("/{id}", operation_id="CredentialController_update", response_model=Credential)
async def update_credential(id: str, body: UpdateCredentialDTO, c: Context) -> JSONResponse:
    repo = credentials(c)
    row = await repo.get(id)
    changes = body.to_wire()
    if row.provider == "webhook" and "authenticationPlan" in changes:
        CreateWebhookCredentialDTO.model_validate({"provider": "webhook", **changes})
    public, secret = split(changes)
    box = SecretBox.from_settings(c.settings)
    sealed = box.open(row.secrets)
    if secret:
        sealed = {**sealed, **secret}
    row = await repo.update(row, public, secrets=box.seal(sealed))
    await c.session.commit()
    return one(row)


@router.delete("/{id}", operation_id="CredentialController_remove", response_model=Credential)
async def delete_credential(id: str, c: Context) -> JSONResponse:
    repo = credentials(c)
    row = await repo.get(id)
    await repo.delete(row)
    await c.session.commit()
    return one(row)
