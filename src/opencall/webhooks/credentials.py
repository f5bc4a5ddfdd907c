"""Looking up a `webhook` credential's authentication plan, secrets opened, inside one org."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from opencall.store import tables
from opencall.store.secrets_box import SecretBox


async def credential_plan(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, org_id: str | None, credential_id: str | None
) -> dict[str, Any] | None:
    if not credential_id:
        return None
    query = select(tables.Credential).where(tables.Credential.id == credential_id)
    if org_id:
        query = query.where(tables.Credential.org_id == org_id)
    async with sessions() as session:
        row = await session.scalar(query)
    if row is None:
        return None
    plan = dict(row.data.get("authenticationPlan") or {})
    plan.update(box.open(row.secrets).get("authenticationPlan", {}))
    return plan
