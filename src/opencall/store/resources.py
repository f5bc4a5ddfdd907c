"""Org-scoped storage of Vapi objects: one generic repository over the resource tables."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from opencall.errors import NotFound
from opencall.store.tables import Resource, utcnow

R = TypeVar("R", bound=Resource)


def iso_ms(moment: datetime) -> str:
    """Vapi's timestamp form: ISO 8601, milliseconds, Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_wire(row: Resource) -> dict[str, Any]:
    return {
        "id": row.id,
        "orgId": row.org_id,
        **row.data,
        "createdAt": iso_ms(row.created_at),
        "updatedAt": iso_ms(row.updated_at),
    }


@dataclass(frozen=True, slots=True)
class ListFilters:
    """The legacy list query of every Vapi resource: a limit and created/updated time bounds."""

    limit: int = 100
    created_at_gt: datetime | None = None
    created_at_lt: datetime | None = None
    created_at_ge: datetime | None = None
    created_at_le: datetime | None = None
    updated_at_gt: datetime | None = None
    updated_at_lt: datetime | None = None
    updated_at_ge: datetime | None = None
    updated_at_le: datetime | None = None

    def apply(self, query: Select[Any], table: type[Resource]) -> Select[Any]:
        bounds = (
            (table.created_at, self.created_at_gt, "__gt__"),
            (table.created_at, self.created_at_lt, "__lt__"),
            (table.created_at, self.created_at_ge, "__ge__"),
            (table.created_at, self.created_at_le, "__le__"),
            (table.updated_at, self.updated_at_gt, "__gt__"),
            (table.updated_at, self.updated_at_lt, "__lt__"),
            (table.updated_at, self.updated_at_ge, "__ge__"),
            (table.updated_at, self.updated_at_le, "__le__"),
        )
        for column, value, op in bounds:
            if value is not None:
                query = query.where(getattr(column, op)(value))
        return query


class Repository(Generic[R]):
    """CRUD for one resource table, always inside one org."""

    def __init__(self, session: AsyncSession, table: type[R], org_id: str, label: str) -> None:
        self.session = session
        self.table = table
        self.org_id = org_id
        self.label = label
        """Human name used in errors, e.g. "Assistant"."""

    async def create(self, data: dict[str, Any], **columns: Any) -> R:
        now = utcnow()
        row = self.table(
            id=columns.pop("id", None) or str(uuid.uuid4()),
            org_id=self.org_id,
            created_at=now,
            updated_at=now,
            data=data,
            **columns,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def find(self, id_: str) -> R | None:
        return await self.session.scalar(
            select(self.table).where(self.table.id == id_, self.table.org_id == self.org_id)
        )

    async def get(self, id_: str) -> R:
        row = await self.find(id_)
        if row is None:
            raise NotFound(f"{self.label} not found")
        return row

    def query(self) -> Select[Any]:
        return select(self.table).where(self.table.org_id == self.org_id)

    async def list(self, filters: ListFilters, query: Select[Any] | None = None) -> list[R]:
        q = filters.apply(query if query is not None else self.query(), self.table)
        q = q.order_by(self.table.created_at.desc(), self.table.id).limit(filters.limit)
        return list(await self.session.scalars(q))

    async def update(self, row: R, changes: dict[str, Any], **columns: Any) -> R:
        # Shallow, like Vapi: a nested object that is sent replaces the stored one wholesale.
        row.data = {**row.data, **changes}
        for name, value in columns.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        await self.session.flush()
        return row

    async def delete(self, row: R) -> None:
        await self.session.execute(delete(self.table).where(self.table.id == row.id))
        await self.session.flush()
