"""Delivery that loses nothing: the outbox against a real receiver on loopback, on a real database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from opencall.settings import Settings
from opencall.store.db import create_engine_for, run_migrations, session_factory
from opencall.store.keys import create_org
from opencall.store.secrets_box import SecretBox
from opencall.store.tables import Credential, OutboxMessage
from opencall.webhooks.outbox import OutboxWorker, enqueue
from opencall.webhooks.send import WebhookError, WebhookSender, request_reply
from tests.conftest import create_pg_database, drop_pg_database
from tests.webhooks.receiver import running_receiver

FAST_RETRY = {"type": "fixed", "maxRetries": 10, "baseDelaySeconds": 0.05}


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """A database of its own: the outbox worker delivers every pending row it finds."""
    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'outbox.db'}")
        run_migrations(settings)
        yield settings
        return
    name = create_pg_database()
    try:
        settings = Settings(data_dir=tmp_path, database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
        run_migrations(settings)
        yield settings
    finally:
        drop_pg_database(name)


async def queue_messages(
    sessions: Any, server: dict[str, Any], call_id: str, kinds: list[str], org_id: str = "org"
) -> None:
    async with sessions() as session:
        for seq, kind in enumerate(kinds):
            enqueue(
                session,
                org_id=org_id,
                call_id=call_id,
                seq=seq,
                server=server,
                body={"message": {"type": kind, "n": seq, "call": {"id": call_id}}},
            )
        await session.commit()


async def test_receiver_down_then_up_gets_every_message_in_order_once_per_id(settings: Settings) -> None:
    engine = create_engine_for(settings)
    sessions = session_factory(engine)
    call_id = str(uuid.uuid4())
    kinds = ["status-update", "speech-update", "conversation-update", "status-update", "end-of-call-report"]
    with running_receiver(fail_first=4) as receiver:
        await queue_messages(sessions, {"url": receiver.url, "backoffPlan": FAST_RETRY}, call_id, kinds)
        worker = OutboxWorker(sessions, WebhookSender())
        worker.start()
        assert await worker.drain(timeout=20)
        await worker.stop()
    assert [r.body["message"]["n"] for r in receiver.received] == list(range(len(kinds)))
    ids = [r.message_id for r in receiver.received]
    assert len(set(ids)) == len(kinds) and all(ids)
    async with sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.seq)))
    assert [row.status for row in rows] == ["delivered"] * len(kinds)
    assert rows[0].attempts == 5  # four 503s, then delivered
    await engine.dispose()


async def test_a_message_is_not_overtaken_by_the_next_while_it_retries(settings: Settings) -> None:
    engine = create_engine_for(settings)
    sessions = session_factory(engine)
    with running_receiver(fail_first=2) as receiver:
        await queue_messages(sessions, {"url": receiver.url, "backoffPlan": FAST_RETRY}, "c1", ["a", "b", "c"])
        worker = OutboxWorker(sessions, WebhookSender())
        worker.start()
        assert await worker.drain(timeout=20)
        await worker.stop()
    assert [r.type for r in receiver.received] == ["a", "b", "c"]
    await engine.dispose()


async def test_hmac_credential_signs_and_a_wrong_one_shows_as_failed_delivery(settings: Settings) -> None:
    engine = create_engine_for(settings)
    sessions = session_factory(engine)
    box = SecretBox.from_settings(settings)
    plan = {"provider": "webhook", "authenticationPlan": {"type": "hmac", "algorithm": "sha256"}}
    async with sessions() as session:
        org = await create_org(session)
        ids = {"good": str(uuid.uuid4()), "bad": str(uuid.uuid4())}
        for name, secret in (("good", "s3cret"), ("bad", "wrong")):
            sealed = box.seal({"authenticationPlan": {"secretKey": secret}})
            session.add(Credential(id=ids[name], org_id=org.id, provider="webhook", data=plan, secrets=sealed))
        await session.commit()
    no_retry = {"type": "fixed", "maxRetries": 0, "baseDelaySeconds": 0}
    with running_receiver(hmac_secret="s3cret") as receiver:
        good = {"url": receiver.url, "credentialId": ids["good"]}
        bad = {"url": receiver.url, "credentialId": ids["bad"], "backoffPlan": no_retry}
        await queue_messages(sessions, good, "c-good", ["status-update"], org.id)
        await queue_messages(sessions, bad, "c-bad", ["status-update"], org.id)
        worker = OutboxWorker(sessions, WebhookSender(sessions, box))
        worker.start()
        assert await worker.drain(timeout=20)
        await worker.stop()
    assert len(receiver.received) == 1 and receiver.received[0].body["message"]["call"]["id"] == "c-good"
    assert len(receiver.rejected) == 1
    async with sessions() as session:
        failed = await session.scalar(select(OutboxMessage).where(OutboxMessage.call_id == "c-bad"))
    assert failed is not None and failed.status == "failed" and failed.last_status == 401
    await engine.dispose()


async def test_legacy_secret_header_and_server_headers_are_sent() -> None:
    with running_receiver(secret="legacy") as receiver:
        server = {"url": receiver.url, "secret": "legacy", "headers": {"X-Tenant": "acme"}}
        reply_to = {"tool-calls": lambda m: {"results": [{"toolCallId": "t1", "result": "ok"}]}}
        receiver.replies.update(reply_to)
        reply = await request_reply(server, {"type": "tool-calls"}, timeout_seconds=5)
    assert reply == {"results": [{"toolCallId": "t1", "result": "ok"}]}
    assert receiver.received[0].headers["x-tenant"] == "acme"


async def test_request_reply_failures_say_how() -> None:
    with pytest.raises(WebhookError) as down:
        await request_reply({"url": "http://127.0.0.1:9/hook"}, {"type": "tool-calls"}, timeout_seconds=2)
    assert down.value.kind in ("http", "timeout")
    with running_receiver(fail_first=1) as receiver:
        with pytest.raises(WebhookError) as failed:
            await request_reply({"url": receiver.url}, {"type": "assistant-request"}, timeout_seconds=2)
    assert failed.value.kind == "http" and failed.value.status == 503
    await asyncio.sleep(0)
