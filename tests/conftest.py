"""Shared fixtures: a real OpenCall server over HTTP, on SQLite and on PostgreSQL.

Tests talk to the server the way clients do (HTTP on loopback), so the official SDKs, schemathesis and
generated clients exercise the real stack. PostgreSQL runs on 127.0.0.1:5432 (`.ci/run` starts it).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import pytest
import uvicorn

from opencall.app import create_app
from opencall.settings import Settings

PG_ADMIN_URL = os.environ.get("OPENCALL_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OrgKeys:
    org_id: str
    private_key: str
    public_key: str


@dataclass
class RunningServer:
    base_url: str
    settings: Settings
    keys: OrgKeys
    thread: threading.Thread
    server: uvicorn.Server
    extra_orgs: list[OrgKeys] = field(default_factory=list)

    def client(self, key: str | None = None) -> httpx.Client:
        token = self.keys.private_key if key is None else key
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def new_org(self) -> OrgKeys:
        """A second org with its own keys, for isolation tests."""
        from opencall.store import keys
        from opencall.store.db import create_engine_for, session_factory

        async def make() -> OrgKeys:
            engine = create_engine_for(self.settings)
            try:
                async with session_factory(engine)() as session:
                    org = await keys.create_org(session, name=f"org-{uuid.uuid4().hex[:6]}")
                    private = await keys.issue_key(session, org.id, "private")
                    public = await keys.issue_key(session, org.id, "public")
                    await session.commit()
                    return OrgKeys(org.id, private.key, public.key)
            finally:
                await engine.dispose()

        return asyncio.run(make())


def start_server(settings: Settings) -> RunningServer:
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://{settings.host}:{settings.port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError("server thread died during startup")
        time.sleep(0.05)
    else:
        raise RuntimeError("server did not start in 60 s")
    running = RunningServer(base, settings, OrgKeys("", settings.api_key or "", ""), thread, server)
    return running


def create_pg_database() -> str:
    import psycopg

    name = f"opencall_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'opencall.db'}"
        return
    name = create_pg_database()
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        drop_pg_database(name)


def make_settings(data_dir: Path, database_url: str | None = None, **overrides: object) -> Settings:
    return Settings(
        host="127.0.0.1",
        port=free_port(),
        data_dir=data_dir,
        database_url=database_url,
        api_key=str(uuid.uuid4()),
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    from tests.sim.twilio import TwilioSim, serve_in_thread

    # Twilio numbers are configured and calls dialed for real: a permissive simulator takes them.
    twilio = serve_in_thread(TwilioSim(permissive=True))
    settings = make_settings(tmp_path_factory.mktemp("data"), database_url, cloud_base_urls={"twilio": twilio})
    running = start_server(settings)
    running.keys = bootstrap_keys(running)
    try:
        yield running
    finally:
        running.server.should_exit = True
        running.thread.join(timeout=10)


def bootstrap_keys(running: RunningServer) -> OrgKeys:
    """The bootstrap org (its private key is OPENCALL_API_KEY) plus a public key issued for it."""
    from opencall.store import keys
    from opencall.store.db import create_engine_for, session_factory

    async def find() -> OrgKeys:
        engine = create_engine_for(running.settings)
        try:
            async with session_factory(engine)() as session:
                principal = await keys.principal_for(session, running.settings.api_key or "")
                assert principal is not None, "bootstrap did not create the configured key"
                public = await keys.issue_key(session, principal.org_id, "public", name="tests")
                await session.commit()
                return OrgKeys(principal.org_id, running.settings.api_key or "", public.key)
        finally:
            await engine.dispose()

    return asyncio.run(find())


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A SQLite server of the module's own, for tests that place real calls (models load once per module)."""
    running = start_server(make_settings(tmp_path_factory.mktemp("live")))
    running.keys = bootstrap_keys(running)
    try:
        yield running
    finally:
        running.server.should_exit = True
        running.thread.join(timeout=10)
