"""A live call's server messages: filtered by `serverMessages`, put in Vapi's envelope, queued in order.

The engine hands messages over without waiting on the database: `publish` only appends to a local
queue, and one writer task per call moves them into the outbox in the order they were made.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from opencall.webhooks.messages import REPLY_EXPECTED, envelope, target_server, wanted
from opencall.webhooks.outbox import enqueue, next_seq

log = logging.getLogger(__name__)


class CallPublisher:
    def __init__(
        self,
        hub: Any,
        *,
        org_id: str,
        call: dict[str, Any],
        assistant: dict[str, Any],
        phone_number: dict[str, Any] | None = None,
        org_server: dict[str, Any] | None = None,
    ) -> None:
        self._hub = hub
        self.org_id = org_id
        self.call = call
        self.assistant = assistant
        self.phone_number = phone_number
        self.server = target_server(assistant, phone_number, org_server)
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write(), name=f"publisher-{call.get('id')}")

    def update_call(self, changes: dict[str, Any]) -> None:
        """Keep the `call` snapshot in envelopes current (status, startedAt, endedReason ...)."""
        self.call = {**self.call, **changes}

    async def publish(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind in REPLY_EXPECTED or self.server is None or not wanted(self.assistant, message):
            return
        if kind == "status-update":
            self.update_call({k: message[k] for k in ("status", "endedReason") if k in message})
        self._queue.put_nowait(envelope(message, self.call, self.assistant, self.phone_number))

    async def close(self) -> None:
        """Flush what is queued into the outbox and stop the writer."""
        self._queue.put_nowait(None)
        await self._writer

    async def _write(self) -> None:
        seq: int | None = None
        while (body := await self._queue.get()) is not None:
            try:
                async with self._hub.sessions() as session:
                    if seq is None:
                        seq = await next_seq(session, self.call["id"])
                    assert self.server is not None
                    enqueue(
                        session,
                        org_id=self.org_id,
                        call_id=self.call["id"],
                        seq=seq,
                        server=self.server,
                        body=body,
                    )
                    await session.commit()
                seq += 1
                self._hub.worker.wake()
            except Exception:
                # Never take the call down over a webhook; the message is logged as lost.
                log.exception(
                    "could not queue %s for call %s", body["message"].get("type"), self.call.get("id")
                )
