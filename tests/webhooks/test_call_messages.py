"""A whole websocket call on the embedded stack, seen from the customer's webhook receiver."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from tests.conftest import RunningServer
from tests.fixtures.caller import WsCaller
from tests.fixtures.speech import load_clip
from tests.webhooks.receiver import Receiver, running_receiver

SCHEMAS = json.loads((Path(__file__).parents[1] / "fixtures" / "vapi-server-messages.json").read_text())


def place_call(server: RunningServer, receiver: Receiver, **assistant: Any) -> dict[str, Any]:
    with server.client() as api:
        created = api.post("/assistant", json={
            "name": "Webhook test", "firstMessage": "Acme Dental, how can I help?",
            "prompt": "You are the receptionist of Acme Dental. Answer in one short sentence.",
            "server": {"url": receiver.url}, **assistant,
        })
        assert created.status_code == 201, created.text
        call = api.post("/call", json={"assistantId": created.json()["id"],
                                       "transport": {"provider": "vapi.websocket"}})
        assert call.status_code == 201, call.text
        return call.json()  # type: ignore[no-any-return]


async def talk_then_hang_up(url: str, clip: str = "piper-joe_s1") -> None:
    pcm, _, _ = load_clip(clip)
    async with WsCaller(url) as caller:
        await caller.wait_quiet(after=time.monotonic() - 1, quiet_seconds=0.6, timeout=20)
        sent = await caller.speak(pcm)
        await caller.wait_quiet(after=sent, quiet_seconds=1.0, timeout=30)
        await caller.send_json({"type": "end-call"})
        await caller.closed.wait()


async def test_receiver_gets_the_default_messages_in_vapi_shapes_ending_with_the_report(
    live_server: RunningServer,
) -> None:
    with running_receiver() as receiver:
        call = place_call(live_server, receiver)
        await talk_then_hang_up(call["transport"]["websocketCallUrl"])
        report = receiver.wait_for("end-of-call-report", timeout=60)
    kinds = [r.type for r in receiver.received]
    assert kinds[0] == "status-update" and receiver.received[0].body["message"]["status"] == "in-progress"
    assert kinds[-1] == "end-of-call-report"
    # Defaults of serverMessages: no transcript, model-output or voice-input unless asked for.
    assert {"speech-update", "conversation-update", "status-update"} <= set(kinds)
    assert not {"transcript", "model-output", "voice-input"} & set(kinds)
    ids = [r.message_id for r in receiver.received]
    assert len(ids) == len(set(ids))
    for item in receiver.received:
        message = item.body["message"]
        jsonschema.validate(message, SCHEMAS[message["type"]])
        assert message["call"]["id"] == call["id"]
        assert isinstance(message["timestamp"], int)
    body = report.body["message"]
    assert body["endedReason"] == "customer-ended-call"
    assert "User:" in body["transcript"] and body["transcript"] == body["artifact"]["transcript"]
    assert body["durationSeconds"] > 1 and body["durationMs"] == int(body["durationSeconds"] * 1000)
    assert body["artifact"]["messages"] and body["cost"] == 0


async def test_server_messages_chooses_what_is_sent(live_server: RunningServer) -> None:
    with running_receiver() as receiver:
        call = place_call(live_server, receiver,
                          serverMessages=["transcript[transcriptType=\"final\"]", "end-of-call-report"])
        await talk_then_hang_up(call["transport"]["websocketCallUrl"])
        receiver.wait_for("end-of-call-report", timeout=60)
    kinds = {r.type for r in receiver.received}
    assert kinds == {"transcript", "end-of-call-report"}
    assert all(r.body["message"]["transcriptType"] == "final" for r in receiver.of_type("transcript"))


def test_call_webhook_url_of_the_launch_contract_wins_over_the_assistant_server(live_server: RunningServer) -> None:
    with running_receiver() as assistant_hook, running_receiver() as call_hook, live_server.client() as api:
        created = api.post("/assistant", json={"name": "a", "server": {"url": assistant_hook.url}}).json()
        call = api.post("/call", json={"assistantId": created["id"], "webhookUrl": call_hook.url,
                                       "transport": {"provider": "vapi.websocket"}}).json()
        assert call["assistantOverrides"]["server"]["url"] == call_hook.url
        stored = httpx.get(f"{live_server.base_url}/call/{call['id']}",
                           headers={"Authorization": f"Bearer {live_server.keys.private_key}"}).json()
        assert stored["assistantOverrides"]["server"]["url"] == call_hook.url
