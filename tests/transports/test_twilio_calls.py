"""Twilio calls through the simulator, without audio: numbers, dialing, status callbacks, signatures.

Every Twilio request here is what the `twilio` SDK sends (REST) or what the simulator sends as
Twilio does (signed form webhooks); nothing is faked inside OpenCall.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from tests.conftest import RunningServer, bootstrap_keys, make_settings, start_server
from tests.sim.twilio import Outcome, TwilioSim
from tests.transports.twilio_stack import TwilioStack, twilio_sim_fixture, twilio_stack_fixture  # noqa: F401

pytestmark = pytest.mark.asyncio(loop_scope="session")

CUSTOMER = "+15557770100"


async def place(stack: TwilioStack, to: str, outcome: Outcome, **assistant: Any) -> tuple[dict[str, Any], Any]:
    """`POST /call {to, from, assistantId}` (the launch contract) with the far end scripted."""
    stack.sim.script(to, outcome)
    await stack.our_number()
    created = await stack.assistant(**assistant)
    call = await stack.post("/call", {"to": to, "from": stack.number.phone_number, "assistantId": created["id"]})
    return call, await stack.sim.wait_call(to)


async def test_creating_a_phone_number_points_its_twilio_voice_url_at_opencall(twilio_stack: TwilioStack) -> None:
    stack = twilio_stack
    number = await stack.our_number()

    base = f"{stack.server.base_url}/twilio/numbers/{number['id']}"
    assert stack.number.voice_url == f"{base}/voice"
    assert stack.number.voice_method == "POST"
    assert stack.number.status_callback == f"{base}/status"
    assert "twilioAuthToken" not in number


async def test_a_phone_number_twilio_refuses_is_a_400_naming_the_credentials(twilio_stack: TwilioStack) -> None:
    stack = twilio_stack
    body = {
        "provider": "twilio",
        "number": "+15550009999",
        "twilioAccountSid": stack.account.sid,
        "twilioAuthToken": "not-the-token",
    }
    error = await stack.post("/phone-number", body, expect=400)

    assert any("twilioAuthToken" in m and "20003" in m for m in error["message"]), error
    async with stack.client() as client:
        assert all(n["number"] != "+15550009999" for n in (await client.get("/phone-number")).json())


async def test_outbound_call_asks_twilio_to_dial_with_our_twiml_and_all_status_events(
    twilio_stack: TwilioStack,
) -> None:
    stack = twilio_stack
    call, sim_call = await place(stack, "+15557770101", Outcome(answer="queued"))

    assert call["status"] == "queued"
    assert call["type"] == "outboundPhoneCall"
    assert call["phoneCallProvider"] == "twilio"
    assert call["phoneCallTransport"] == "pstn"
    assert call["phoneCallProviderId"] == sim_call.sid
    stored = await stack.get_call(call["id"])
    assert stored["phoneCallProviderId"] == sim_call.sid
    assert sim_call.from_ == stack.number.phone_number
    assert sim_call.param("Url") == f"{stack.server.base_url}/twilio/calls/{call['id']}/twiml"
    assert sim_call.param("StatusCallback") == f"{stack.server.base_url}/twilio/calls/{call['id']}/status"
    assert sim_call.params["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert sim_call.param("MachineDetection") is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("busy", "customer-busy"),
        ("no-answer", "customer-did-not-answer"),
        ("failed", "twilio-failed-to-connect-call"),
    ],
)
async def test_unanswered_call_ends_with_vapis_reason(twilio_stack: TwilioStack, answer: str, reason: str) -> None:
    to = {"busy": "+15557770102", "no-answer": "+15557770103", "failed": "+15557770104"}[answer]
    call, sim_call = await place(twilio_stack, to, Outcome(answer=answer))  # type: ignore[arg-type]

    ended = await twilio_stack.wait_call(call["id"])

    assert ended["endedReason"] == reason
    assert sim_call.statuses() == ["initiated", "ringing", answer]
    assert all(c.status == 204 for c in sim_call.callbacks)
    assert not sim_call.streams


async def test_ringing_moves_the_call_to_ringing(twilio_stack: TwilioStack) -> None:
    stack = twilio_stack
    call, sim_call = await place(stack, "+15557770105", Outcome(answer="queued"))

    await stack.sim.send_callback(sim_call, "ringing")

    assert (await stack.wait_call(call["id"], status="ringing"))["status"] == "ringing"


async def test_voicemail_detected_by_twilio_amd_hangs_up_and_ends_voicemail(twilio_stack: TwilioStack) -> None:
    stack = twilio_stack
    machine = Outcome(answer="machine", answered_by="machine_end_beep")
    call, sim_call = await place(stack, "+15557770106", machine, voicemailDetection={"provider": "twilio"})

    ended = await stack.wait_call(call["id"])

    assert sim_call.param("MachineDetection") == "DetectMessageEnd"
    assert ended["endedReason"] == "voicemail"
    assert "<Hangup" in sim_call.twiml[-1]
    assert not sim_call.streams


async def test_a_forged_signature_gets_403_and_changes_nothing(twilio_stack: TwilioStack) -> None:
    stack = twilio_stack
    call, sim_call = await place(stack, "+15557770107", Outcome(answer="queued"))

    status = await stack.sim.send_callback(sim_call, "busy", signature="dGhpcyBpcyBub3QgYSBzaWduYXR1cmU=")
    await asyncio.sleep(0.2)

    assert status == 403
    assert (await stack.get_call(call["id"]))["status"] == "queued"


async def test_a_late_callback_never_moves_an_ended_call_backwards(twilio_stack: TwilioStack) -> None:
    stack = twilio_stack
    call, sim_call = await place(stack, "+15557770108", Outcome(answer="busy"))
    await stack.wait_call(call["id"])

    status = await stack.sim.send_callback(sim_call, "ringing", sequence_number=1)

    assert status == 204
    stored = await stack.get_call(call["id"])
    assert (stored["status"], stored["endedReason"]) == ("ended", "customer-busy")


async def test_twilio_refusing_the_dial_ends_the_call_without_a_5xx(twilio_stack: TwilioStack) -> None:
    stack = twilio_stack
    await stack.our_number()
    assistant = await stack.assistant()
    transient = {
        "twilioPhoneNumber": stack.number.phone_number,
        "twilioAccountSid": stack.account.sid,
        "twilioAuthToken": "revoked-token",
    }
    call = await stack.post(
        "/call",
        {"assistantId": assistant["id"], "phoneNumber": transient, "customer": {"number": "+15557770109"}},
    )

    assert call["status"] == "ended"
    assert call["endedReason"] == "twilio-failed-to-connect-call"
    assert "20003" in call["endedMessage"]
    assert "revoked-token" not in str(await stack.get_call(call["id"]))


PUBLIC_URL = "https://calls.example.test"


@pytest.fixture(scope="module")
def behind_proxy(twilio_sim: TwilioSim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """OpenCall whose public URL (what Twilio is given) is a proxy's, not the address it listens on."""
    settings = make_settings(
        tmp_path_factory.mktemp("proxied"), public_url=PUBLIC_URL, cloud_base_urls={"twilio": twilio_sim.base_url}
    )
    running = start_server(settings)
    running.keys = bootstrap_keys(running)
    yield running
    running.server.should_exit = True
    running.thread.join(timeout=10)


async def test_signatures_are_checked_on_the_public_url_twilio_was_given_behind_a_proxy(
    twilio_sim: TwilioSim, behind_proxy: RunningServer
) -> None:
    account = twilio_sim.add_account()
    sim_number = twilio_sim.add_number(account, "+15550007000")
    headers = {"Authorization": f"Bearer {behind_proxy.keys.private_key}"}
    async with httpx.AsyncClient(base_url=behind_proxy.base_url, headers=headers) as api:
        response = await api.post("/phone-number", json={
            "provider": "twilio", "number": sim_number.phone_number, "twilioAccountSid": account.sid,
            "twilioAuthToken": account.auth_token, "server": {"url": "http://127.0.0.1:9/none"}})
    assert response.status_code == 201, response.text
    assert sim_number.voice_url and sim_number.voice_url.startswith(f"{PUBLIC_URL}/twilio/numbers/")
    path = sim_number.voice_url.removeprefix(PUBLIC_URL)
    params = {"CallSid": "CA" + "2" * 32, "AccountSid": account.sid, "From": "+15551230002",
              "To": sim_number.phone_number, "CallStatus": "ringing", "Direction": "inbound"}
    sign = RequestValidator(account.auth_token).compute_signature

    async with httpx.AsyncClient(base_url=behind_proxy.base_url) as proxy:  # the proxy forwards Twilio's POST
        bound = sign(behind_proxy.base_url + path, params)
        as_bound = await proxy.post(path, data=params, headers={"X-Twilio-Signature": bound})
        public = sign(sim_number.voice_url, params)
        as_public = await proxy.post(path, data=params, headers={"X-Twilio-Signature": public})

    assert as_bound.status_code == 403
    assert as_public.status_code == 200 and "<Hangup" in as_public.text  # answered: its server is unreachable
