"""Inbound Twilio calls: the simulator dials one of our numbers and Twilio POSTs its Voice URL.

Who answers: the number's assistant, or the customer's server through `assistant-request` (7.5 s
budget). A test receiver on loopback plays the customer's server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.server import serve_asgi
from tests.sim.twilio import Number
from tests.transports.twilio_stack import TwilioStack, twilio_sim_fixture, twilio_stack_fixture  # noqa: F401

pytestmark = pytest.mark.asyncio(loop_scope="session")

Reply = Callable[[dict[str, Any]], Any]
UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


class Receiver:
    """The customer's server: records every message and answers `assistant-request` with `reply`."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.reply: Reply = lambda _message: {}
        self.url = ""
        self.app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> Response:
        message = (await request.json())["message"]
        self.messages.append(message)
        if message["type"] != "assistant-request":
            return JSONResponse({})
        answer = self.reply(message)
        if asyncio.iscoroutine(answer):
            answer = await answer
        return answer if isinstance(answer, Response) else JSONResponse(answer)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    async with serve_asgi(hook.app) as url:
        hook.url = f"{url}/hook"
        yield hook


async def inbound_number(stack: TwilioStack, **fields: Any) -> tuple[dict[str, Any], Number]:
    """A fresh Twilio number in the simulator, imported into OpenCall with `fields`."""
    sim_number = stack.sim.add_number(stack.account, f"+1555{random.randrange(10**7):07d}")
    created = await stack.phone_number(sim_number.phone_number, **fields)
    return created, sim_number


async def inbound_call(stack: TwilioStack, number: Number) -> dict[str, Any]:
    sim_call = await stack.sim.place_inbound(number, from_="+15551230000")
    await asyncio.wait_for(sim_call.done.wait(), 15)
    async with stack.client() as client:
        calls = (await client.get("/call", params={"phoneNumberId": number_id(stack, number)})).json()
    assert len(calls) == 1, calls
    ended: dict[str, Any] = await stack.wait_call(calls[0]["id"])
    ended["_sim"] = sim_call
    return ended


def number_id(stack: TwilioStack, number: Number) -> str:
    assert number.voice_url
    return number.voice_url.rstrip("/").split("/")[-2]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (lambda m: {"error": "Sorry, we are closed."}, "assistant-request-returned-error"),
        (lambda m: Response("boom", status_code=500), "assistant-request-failed"),
        (lambda m: {"assistantId": UNKNOWN_ID}, "assistant-request-returned-invalid-assistant"),
        (lambda m: {"assistant": {"firstMessageMode": "not-a-mode"}}, "assistant-request-returned-invalid-assistant"),
        (lambda m: {"metadata": {}}, "assistant-request-returned-no-assistant"),
        (
            lambda m: {"destination": {"type": "number", "number": "+15559990000"}},
            "assistant-request-returned-forwarding-phone-number",
        ),
    ],
    ids=["error", "http-500", "unknown-assistant-id", "invalid-assistant", "no-assistant", "destination"],
)
async def test_assistant_request_failures_end_the_inbound_call_with_vapis_reason(
    twilio_stack: TwilioStack, reply: Reply, reason: str
) -> None:
    async with receiver() as hook:
        hook.reply = reply
        _, number = await inbound_number(twilio_stack, server={"url": hook.url})

        ended = await inbound_call(twilio_stack, number)

    assert ended["type"] == "inboundPhoneCall"
    assert ended["endedReason"] == reason
    request = hook.of_type("assistant-request")[0]
    assert request["call"]["type"] == "inboundPhoneCall"
    assert request["customer"]["number"] == "+15551230000"
    assert request["phoneNumber"]["number"] == number.phone_number
    sim_call = ended["_sim"]
    assert not sim_call.streams
    if reason == "assistant-request-returned-error":
        assert sim_call.said == ["Sorry, we are closed."]
    if reason == "assistant-request-returned-forwarding-phone-number":
        assert sim_call.dialed == ["+15559990000"]


async def test_an_assistant_request_slower_than_7_5_s_fails_the_call(twilio_stack: TwilioStack) -> None:
    async def slow(_message: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(9)
        return {"assistant": {"firstMessage": "too late"}}

    async with receiver() as hook:
        hook.reply = slow
        _, number = await inbound_number(twilio_stack, server={"url": hook.url})
        loop = asyncio.get_running_loop()
        started = loop.time()
        ended = await inbound_call(twilio_stack, number)
        elapsed = loop.time() - started

    assert ended["endedReason"] == "assistant-request-failed"
    assert 7.4 <= elapsed < 8.5


async def test_a_number_with_neither_assistant_nor_server_ends_with_vapis_reason(twilio_stack: TwilioStack) -> None:
    _, number = await inbound_number(twilio_stack)

    ended = await inbound_call(twilio_stack, number)

    assert ended["endedReason"] == "call-start-error-neither-assistant-nor-server-set"


async def test_a_failed_assistant_request_forwards_to_the_numbers_fallback_destination(
    twilio_stack: TwilioStack,
) -> None:
    async with receiver() as hook:
        hook.reply = lambda _m: Response("nope", status_code=404)
        fallback = {"type": "number", "number": "+15559990001"}
        _, number = await inbound_number(twilio_stack, server={"url": hook.url}, fallbackDestination=fallback)

        ended = await inbound_call(twilio_stack, number)

    assert ended["endedReason"] == "assistant-request-failed"
    assert ended["_sim"].dialed == ["+15559990001"]


async def test_inbound_voice_url_with_a_forged_signature_gets_403_and_no_call(twilio_stack: TwilioStack) -> None:
    import httpx

    stack = twilio_stack
    created, number = await inbound_number(stack, server={"url": "http://127.0.0.1:9/none"})
    assert number.voice_url
    params = {
        "CallSid": "CA" + "1" * 32,
        "AccountSid": stack.account.sid,
        "From": "+15551230000",
        "To": number.phone_number,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    async with httpx.AsyncClient() as client:
        response = await client.post(number.voice_url, data=params, headers={"X-Twilio-Signature": "Zm9yZ2Vk"})
    async with stack.client() as client:
        calls = (await client.get("/call", params={"phoneNumberId": created["id"]})).json()

    assert response.status_code == 403
    assert json.loads(response.text)["statusCode"] == 403
    assert calls == []
