"""Orgs and API keys: creation, lookup by bearer token, revocation, first-start bootstrap."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opencall.store.tables import ApiKey, Org, utcnow

KeyKind = Literal["private", "public"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the org a key belongs to and the key's kind."""

    org_id: str
    key_kind: KeyKind
    key_id: str


@dataclass(frozen=True, slots=True)
class IssuedKey:
    id: str
    org_id: str
    kind: KeyKind
    key: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_org(session: AsyncSession, name: str = "default") -> Org:
    org = Org(id=str(uuid.uuid4()), name=name)
    session.add(org)
    await session.flush()
    return org


async def issue_key(
    session: AsyncSession, org_id: str, kind: KeyKind, key: str | None = None, name: str | None = None
) -> IssuedKey:
    # Vapi keys are UUIDs; ours look the same so clients that validate the shape accept them.
    key = key or str(uuid.uuid4())
    row = ApiKey(
        id=str(uuid.uuid4()), org_id=org_id, kind=kind, key_hash=hash_key(key), prefix=key[:8], name=name
    )
    session.add(row)
    await session.flush()
    return IssuedKey(id=row.id, org_id=org_id, kind=kind, key=key)


async def principal_for(session: AsyncSession, key: str) -> Principal | None:
    row = await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    )
    if row is None:
        return None
    return Principal(org_id=row.org_id, key_kind=row.kind, key_id=row.id)  # type: ignore[arg-type]


async def list_keys(session: AsyncSession, org_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at)
    if org_id:
        query = query.where(ApiKey.org_id == org_id)
    return list(await session.scalars(query))


async def revoke_key(session: AsyncSession, key_id_or_prefix: str) -> ApiKey | None:
    row = await session.scalar(
        select(ApiKey).where((ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == key_id_or_prefix))
    )
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


async def first_org_id(session: AsyncSession) -> str | None:
    return await session.scalar(select(Org.id).order_by(Org.created_at).limit(1))


async def bootstrap(session: AsyncSession, wanted_private_key: str | None) -> list[IssuedKey] | None:
    """On an empty database: one org, its private key (the given one, or a new one) and a public key.

    Returns the issued keys so the caller can print them once, or None when orgs already exist.
    """
    if await session.scalar(select(func.count()).select_from(Org)):
        return None
    org = await create_org(session)
    private = await issue_key(session, org.id, "private", key=wanted_private_key, name="bootstrap")
    public = await issue_key(session, org.id, "public", name="bootstrap")
    return [private, public]
