"""Persisting a live call as it goes: the database side of the engine's `CallSink`.

Every write is its own short transaction so a crash loses at most the turn in progress; writes of
one call are serialised so a late `progress` never overwrites the final record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from opencall.store import tables
from opencall.store.resources import iso_ms
from opencall.store.tables import utcnow

log = logging.getLogger(__name__)

EventHandler = Callable[[dict[str, Any]], Awaitable[None]]


async def claim_call(
    sessions: async_sessionmaker[AsyncSession], call_id: str, call_type: str, owner: str | None = None
) -> bool:
    """Move a `queued` call of this type to `in-progress`; False if it is not queued (already taken, ended).

    The owner and a first heartbeat are set in the same statement, so recovery never mistakes a call
    that is just starting for an orphan.
    """
    now = utcnow()
    async with sessions() as session:
        result = await session.execute(
            update(tables.Call)
            .where(tables.Call.id == call_id, tables.Call.status == "queued", tables.Call.type == call_type)
            .values(status="in-progress", updated_at=now, owner=owner, heartbeat_at=now)
        )
        await session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


def call_costs(started_at: str | None, ended_at: datetime, price_per_minute: float) -> dict[str, Any]:
    """Honest cost fields: the local models cost nothing; transport is priced per minute if configured."""
    minutes = 0.0
    if started_at:
        started = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
        minutes = max((ended_at - started).total_seconds(), 0.0) / 60
    transport = round(minutes * price_per_minute, 6)
    return {
        "cost": transport,
        "costBreakdown": {
            "transport": transport,
            "stt": 0,
            "llm": 0,
            "tts": 0,
            "vapi": 0,
            "total": transport,
        },
        "costs": [{"type": "transport", "minutes": round(minutes, 4), "cost": transport}],
    }


class StoredCallSink:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        call_id: str,
        price_per_minute: float = 0.0,
        on_event: EventHandler | None = None,
    ) -> None:
        self._sessions = sessions
        self._call_id = call_id
        self._price_per_minute = price_per_minute
        self._on_event = on_event
        self._lock = asyncio.Lock()
        self._ended = False

    async def _patch(self, changes: dict[str, Any], **columns: Any) -> dict[str, Any] | None:
        async with self._lock, self._sessions() as session:
            row = await session.get(tables.Call, self._call_id)
            if row is None:  # deleted while live: nothing left to record
                return None
            artifact = changes.pop("artifact", None)
            data = {**row.data, **changes}
            if artifact is not None:
                data["artifact"] = {**(row.data.get("artifact") or {}), **artifact}
            row.data = data
            for name, value in columns.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            await session.commit()
            return data

    async def started(self, at: datetime) -> None:
        await self._patch({"status": "in-progress", "startedAt": iso_ms(at)}, status="in-progress")

    async def progress(self, messages: list[dict[str, Any]], artifact: dict[str, Any]) -> None:
        if self._ended:
            return
        await self._patch({"messages": messages, "artifact": artifact})

    async def ended(
        self,
        reason: str,
        at: datetime,
        messages: list[dict[str, Any]],
        artifact: dict[str, Any],
        detail: str | None,
    ) -> None:
        async with self._sessions() as session:
            row = await session.get(tables.Call, self._call_id)
            started_at = row.data.get("startedAt") if row else None
        changes: dict[str, Any] = {
            "status": "ended",
            "endedReason": reason,
            "endedAt": iso_ms(at),
            "messages": messages,
            "artifact": artifact,
            **call_costs(started_at, at, self._price_per_minute),
        }
        if detail:
            changes["endedMessage"] = detail
        self._ended = True
        await self._patch(changes, status="ended")

    async def event(self, message: dict[str, Any]) -> None:
        if self._on_event is None:
            return
        try:
            await self._on_event(message)
        except Exception:
            # A consumer of events (webhooks, monitors) must never break the call itself.
            log.exception("event handler failed for call %s", self._call_id)
