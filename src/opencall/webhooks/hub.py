"""Everything webhook delivery needs in one process: sessions, the sender, the outbox worker, recovery."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from opencall.settings import Settings
from opencall.store import tables
from opencall.store.resources import iso_ms
from opencall.store.secrets_box import SecretBox
from opencall.store.tables import utcnow
from opencall.webhooks import send
from opencall.webhooks.outbox import OutboxWorker
from opencall.webhooks.publisher import CallPublisher

log = logging.getLogger(__name__)

WORKER_DIED = "call.in-progress.error-vapifault-worker-died"
LIVE_STATUSES = ("in-progress", "ringing", "forwarding")


class WebhookHub:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.owner = f"{uuid.uuid4()}"
        """This process, as recorded on the calls it runs."""
        self.sender = send.WebhookSender(sessions, SecretBox.from_settings(settings))
        self.worker = OutboxWorker(sessions, self.sender)
        self._recovery: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Any) -> None:
        """Run post-call work (analysis, report) past the request that started it; awaited at shutdown."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def start(self) -> None:
        send.configure(self.sender)
        await self.recover_orphaned_calls()
        self.worker.start()
        self._recovery = asyncio.create_task(self._recover_periodically(), name="call-recovery")

    async def stop(self) -> None:
        if self._recovery:
            self._recovery.cancel()
            await asyncio.gather(self._recovery, return_exceptions=True)
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.worker.drain(timeout=5.0)
        await self.worker.stop()
        await self.sender.aclose()
        send.configure(None)

    async def context_for(self, call: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The call's phone number object and its org's server, the lower rungs of target precedence."""
        async with self.sessions() as session:
            number = None
            if call.get("phoneNumberId"):
                row = await session.get(tables.PhoneNumber, call["phoneNumberId"])
                number = {"id": row.id, **row.data} if row else None
            org = await session.get(tables.Org, call["orgId"])
        return number or call.get("phoneNumber"), (org.server if org else None)

    async def publisher_for(self, call: dict[str, Any], assistant: dict[str, Any]) -> CallPublisher:
        number, org_server = await self.context_for(call)
        return CallPublisher(
            self,
            org_id=call["orgId"],
            call=call,
            assistant=assistant,
            phone_number=number,
            org_server=org_server,
        )

    async def heartbeat(self, call_id: str) -> None:
        """Beat for a live call until cancelled."""
        while True:
            async with self.sessions() as session:
                await session.execute(
                    update(tables.Call)
                    .where(tables.Call.id == call_id)
                    .values(owner=self.owner, heartbeat_at=utcnow())
                )
                await session.commit()
            await asyncio.sleep(self.settings.call_orphan_seconds / 4)

    async def recover_orphaned_calls(self) -> list[str]:
        """End live calls whose process died, from what was stored, and send their reports."""
        from opencall.webhooks.report import finish_call

        cutoff = utcnow() - timedelta(seconds=self.settings.call_orphan_seconds)
        async with self.sessions() as session:
            rows = list(
                await session.scalars(
                    select(tables.Call).where(
                        tables.Call.status.in_(LIVE_STATUSES),
                        (tables.Call.owner.is_(None)) | (tables.Call.owner != self.owner),
                        (tables.Call.heartbeat_at.is_(None)) | (tables.Call.heartbeat_at < cutoff),
                    )
                )
            )
            for row in rows:
                ended_at = row.heartbeat_at or row.updated_at
                row.data = {
                    **row.data,
                    "status": "ended",
                    "endedReason": WORKER_DIED,
                    "endedAt": iso_ms(ended_at),
                    "endedMessage": "the process running this call stopped; ended from the stored record",
                }
                row.status = "ended"
            await session.commit()
        for row in rows:
            log.warning("call %s was live in a process that died; ending it", row.id)
            await self._salvage_recording(row.org_id, row.id)
            await finish_call(self, self.settings, row.id)
        return [row.id for row in rows]

    async def _salvage_recording(self, org_id: str, call_id: str) -> None:
        """Build the WAVs from the raw audio the dead process had already written, if any."""
        from opencall.store.recordings import artifact_fields, salvage_recording

        try:
            files = await salvage_recording(self.settings, org_id, call_id)
        except Exception:
            log.exception("could not salvage the recording of call %s", call_id)
            return
        if files is None:
            return
        async with self.sessions() as session:
            row = await session.get(tables.Call, call_id)
            if row is not None:
                fields = artifact_fields(files, self.settings.base_url, call_id)
                row.data = {**row.data, "artifact": {**(row.data.get("artifact") or {}), **fields}}
                await session.commit()

    async def _recover_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.call_orphan_seconds)
            try:
                await self.recover_orphaned_calls()
            except Exception:
                log.exception("call recovery pass failed")
