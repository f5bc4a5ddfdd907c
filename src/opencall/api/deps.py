"""Request-scoped dependencies: the database session and the authenticated org."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from opencall.errors import Unauthorized
from opencall.settings import Settings
from opencall.store.keys import Principal, principal_for
from opencall.store.resources import ListFilters

bearer = HTTPBearer(auto_error=False, scheme_name="bearer", description="Private API key of an org")


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


Session = Annotated[AsyncSession, Depends(db_session)]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def private_key(
    session: Session, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized()
    principal = await principal_for(session, credentials.credentials.strip())
    if principal is None or principal.key_kind != "private":
        raise Unauthorized()
    return principal


async def any_key(
    session: Session, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """Private or public key: only for the routes a browser may call (web calls)."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized()
    principal = await principal_for(session, credentials.credentials.strip())
    if principal is None:
        raise Unauthorized()
    return principal


@dataclass(frozen=True, slots=True)
class Ctx:
    session: AsyncSession
    principal: Principal
    settings: Settings

    @property
    def org_id(self) -> str:
        return self.principal.org_id


async def ctx(
    session: Session,
    principal: Annotated[Principal, Depends(private_key)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Ctx:
    return Ctx(session=session, principal=principal, settings=settings)


Context = Annotated[Ctx, Depends(ctx)]


def list_filters(
    limit: Annotated[int, Query(ge=0, le=1000, description="Maximum number of items (default 100)")] = 100,
    created_at_gt: Annotated[datetime | None, Query(alias="createdAtGt")] = None,
    created_at_lt: Annotated[datetime | None, Query(alias="createdAtLt")] = None,
    created_at_ge: Annotated[datetime | None, Query(alias="createdAtGe")] = None,
    created_at_le: Annotated[datetime | None, Query(alias="createdAtLe")] = None,
    updated_at_gt: Annotated[datetime | None, Query(alias="updatedAtGt")] = None,
    updated_at_lt: Annotated[datetime | None, Query(alias="updatedAtLt")] = None,
    updated_at_ge: Annotated[datetime | None, Query(alias="updatedAtGe")] = None,
    updated_at_le: Annotated[datetime | None, Query(alias="updatedAtLe")] = None,
) -> ListFilters:
    return ListFilters(
        limit=limit,
        created_at_gt=created_at_gt,
        created_at_lt=created_at_lt,
        created_at_ge=created_at_ge,
        created_at_le=created_at_le,
        updated_at_gt=updated_at_gt,
        updated_at_lt=updated_at_lt,
        updated_at_ge=updated_at_ge,
        updated_at_le=updated_at_le,
    )


Filters = Annotated[ListFilters, Depends(list_filters)]
