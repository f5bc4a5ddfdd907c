"""The outbox: server messages are written here before they are sent, and delivered by one worker.

Order per call is kept by `seq`: only the lowest undelivered message of a call is ever in flight.
Retries follow the target's `backoffPlan`; without one OpenCall still retries (Vapi's default is
none, but a message dropped on a receiver's restart is a lost record). What fails for good stays
with its last status and error, for inspection. A restarted process resumes from the table; a
message sent again after a crash carries the same `X-Message-Id`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from opencall.store.tables import OutboxMessage, utcnow
from opencall.webhooks.send import WebhookSender

log = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES = 8
"""Retries when the target sets no backoffPlan: with a 1 s base doubling to the cap, about 5 minutes."""
DEFAULT_BASE_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0
"""Cap of one backoff step."""
JITTER = 0.2
"""±20 % on each delay so many calls' retries do not hit a recovering receiver at once."""
POLL_SECONDS = 0.5
"""How often the worker looks for due retries when nothing wakes it."""


async def next_seq(session: AsyncSession, call_id: str | None) -> int:
    if call_id is None:
        return 0
    current = await session.scalar(
        select(func.max(OutboxMessage.seq)).where(OutboxMessage.call_id == call_id)
    )
    return int(current or 0) + 1


def enqueue(
    session: AsyncSession,
    *,
    org_id: str,
    call_id: str | None,
    seq: int,
    server: dict[str, Any],
    body: dict[str, Any],
) -> OutboxMessage:
    row = OutboxMessage(
        id=str(uuid.uuid4()),
        org_id=org_id,
        call_id=call_id,
        seq=seq,
        type=body["message"]["type"],
        server=server,
        body=body,
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(row)
    return row


def retry_delay(server: dict[str, Any], attempts: int, status: int | None) -> float | None:
    """Seconds until the next attempt after `attempts` failures, or None to give up."""
    plan = server.get("backoffPlan")
    if plan:
        if status is not None and status in (plan.get("excludedStatusCodes") or []):
            return None
        max_retries = int(plan.get("maxRetries", 0))
        base = float(plan.get("baseDelaySeconds", DEFAULT_BASE_DELAY_SECONDS))
        exponential = plan.get("type", "exponential") == "exponential"
    else:
        max_retries, base, exponential = DEFAULT_MAX_RETRIES, DEFAULT_BASE_DELAY_SECONDS, True
    if attempts > max_retries:
        return None
    delay = min(base * (2 ** (attempts - 1)) if exponential else base, MAX_DELAY_SECONDS)
    return max(delay * random.uniform(1 - JITTER, 1 + JITTER), 0.0)


class OutboxWorker:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], sender: WebhookSender) -> None:
        self._sessions = sessions
        self._sender = sender
        self._wake = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-worker")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except Exception:
                log.exception("outbox pass failed; retrying")
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()

    async def deliver_due(self) -> None:
        """Start one delivery per call (its lowest pending message) if it is due and not in flight."""
        now = utcnow()
        async with self._sessions() as session:
            rows = list(
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.status == "pending")
                    .order_by(OutboxMessage.call_id, OutboxMessage.seq)
                    .limit(1000)
                )
            )
        heads: dict[str, OutboxMessage] = {}
        for row in rows:
            lane = row.call_id or row.id
            heads.setdefault(lane, row)
        for lane, row in heads.items():
            if lane in self._in_flight or row.next_attempt_at > now:
                continue
            if row.locked_until is not None and row.locked_until > now:
                continue
            if not await self._claim(row, now):
                continue
            task = asyncio.create_task(self._deliver(row))
            self._in_flight[lane] = task
            task.add_done_callback(functools.partial(self._delivered, lane))

    def _delivered(self, lane: str, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(lane, None)
        self.wake()  # the lane's next message may be due now

    async def _claim(self, row: OutboxMessage, now: datetime) -> bool:
        lease = now + timedelta(seconds=float(row.server.get("timeoutSeconds") or 20) + 10)
        async with self._sessions() as session:
            result = await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == row.id,
                    OutboxMessage.status == "pending",
                    (OutboxMessage.locked_until.is_(None)) | (OutboxMessage.locked_until <= now),
                )
                .values(locked_until=lease)
            )
            await session.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _deliver(self, row: OutboxMessage) -> None:
        attempt = await self._sender.post(row.server, row.body, row.id, org_id=row.org_id)
        attempts = row.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "last_status": attempt.status, "locked_until": None}
        if attempt.ok:
            values.update(status="delivered", delivered_at=utcnow(), last_error=None)
        else:
            values["last_error"] = attempt.error or f"HTTP {attempt.status}"
            delay = retry_delay(row.server, attempts, attempt.status)
            if delay is None:
                values["status"] = "failed"
                log.warning(
                    "giving up on %s %s after %d attempts: %s",
                    row.type,
                    row.id,
                    attempts,
                    values["last_error"],
                )
            else:
                values["next_attempt_at"] = utcnow() + timedelta(seconds=delay)
        async with self._sessions() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values))
            await session.commit()

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is pending and due (for tests and graceful shutdown)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            async with self._sessions() as session:
                pending = await session.scalar(
                    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
                )
            if not pending and not self._in_flight:
                return True
            self.wake()
            await asyncio.sleep(0.1)
        return False
