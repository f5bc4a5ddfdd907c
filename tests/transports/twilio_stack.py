"""OpenCall wired to the Twilio simulator: fixtures and helpers shared by the Twilio tests.

The simulator runs in the test's event loop and OpenCall in its own thread, so tests are async and
talk to OpenCall with an async client (a blocking call would stall the simulator mid-request).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import (
    RunningServer,
    bootstrap_keys,
    create_pg_database,
    drop_pg_database,
    make_settings,
    start_server,
)
from tests.sim.twilio import Account, Number, TwilioSim


@dataclass
class TwilioStack:
    sim: TwilioSim
    server: RunningServer
    account: Account
    number: Number
    """The Twilio number OpenCall calls from (owned by `account` in the simulator)."""

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.server.base_url,
            timeout=30,
            headers={"Authorization": f"Bearer {self.server.keys.private_key}"},
        )

    async def post(self, path: str, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
        async with self.client() as client:
            response = await client.post(path, json=body)
        assert response.status_code == expect, response.text
        result: dict[str, Any] = response.json()
        return result

    async def get_call(self, call_id: str) -> dict[str, Any]:
        async with self.client() as client:
            response = await client.get(f"/call/{call_id}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def wait_call(self, call_id: str, status: str = "ended", timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        call = await self.get_call(call_id)
        while call["status"] != status and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            call = await self.get_call(call_id)
        assert call["status"] == status, call
        return call

    async def phone_number(self, number: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {
            "provider": "twilio",
            "number": number or self.number.phone_number,
            "twilioAccountSid": self.account.sid,
            "twilioAuthToken": self.account.auth_token,
            **fields,
        }
        return await self.post("/phone-number", body)

    async def our_number(self) -> dict[str, Any]:
        """The stack's number as imported into OpenCall (imported on first use)."""
        async with self.client() as client:
            listed = (await client.get("/phone-number")).json()
        for number in listed:
            if number.get("number") == self.number.phone_number:
                return dict(number)
        return await self.phone_number()

    async def assistant(self, **fields: Any) -> dict[str, Any]:
        return await self.post("/assistant", {"name": "Phone", **fields})


@pytest_asyncio.fixture(scope="module", loop_scope="session", name="twilio_sim")
async def twilio_sim_fixture() -> AsyncIterator[TwilioSim]:
    sim = TwilioSim()
    async with sim.serve():
        yield sim


@pytest.fixture(scope="module", name="twilio_stack")
def twilio_stack_fixture(
    twilio_sim: TwilioSim, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TwilioStack]:
    """OpenCall on a database of its own (same engine as `database_url`), pointed at the simulator."""
    data_dir = tmp_path_factory.mktemp("twilio")
    pg_name = None if database_url.startswith("sqlite") else create_pg_database()
    url = f"sqlite:///{data_dir / 'opencall.db'}" if pg_name is None else database_url.rsplit("/", 1)[0] + f"/{pg_name}"
    running = start_server(make_settings(data_dir, url, cloud_base_urls={"twilio": twilio_sim.base_url}))
    running.keys = bootstrap_keys(running)
    account = twilio_sim.add_account()
    number = twilio_sim.add_number(account, f"+1555{random.randrange(10**7):07d}")
    try:
        yield TwilioStack(twilio_sim, running, account, number)
    finally:
        running.server.should_exit = True
        running.thread.join(timeout=10)
        if pg_name is not None:
            drop_pg_database(pg_name)
