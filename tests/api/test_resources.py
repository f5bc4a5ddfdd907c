"""Resource behaviour the SDKs cannot express, over raw HTTP: the launch-contract forms on the wire, bulk call
delete, v2 pagination metadata, time filters with the timestamps clients actually hold, and key management
(the `opencall keys` CLI and the key printed on first start)."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from opencall.errors import INVALID_KEY
from opencall.settings import Settings
from tests.conftest import RunningServer, free_port, start_server

OPENCALL = Path(sys.executable).with_name("opencall")
WEBSOCKET_CALL = {"transport": {"provider": "vapi.websocket"}}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def org_api(server: RunningServer) -> Iterator[httpx.Client]:
    """A client of a fresh org: lists hold exactly what the test created."""
    with server.client(server.new_org().private_key) as client:
        yield client


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


# --- the launch contract on the wire -------------------------------------------------------------------------


def test_launch_contract_assistant_answers_the_full_vapi_object(org_api: httpx.Client) -> None:
    body = {"name": "Receptionist", "model": "gpt-4o", "prompt": "You answer the phone.", "voice": "alloy"}

    assistant = created(org_api.post("/assistant", json=body))

    assert re.fullmatch(UUID, assistant["id"])
    assert assistant["name"] == "Receptionist"
    assert assistant["model"] == {
        "provider": "openai",
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "You answer the phone."}],
    }
    assert assistant["voice"] == {"provider": "openai", "voiceId": "alloy"}
    assert assistant["transcriber"]["provider"] == "vapi"
    assert "prompt" not in assistant
    assert {"orgId", "createdAt", "updatedAt"} <= assistant.keys()


@pytest.mark.parametrize(
    ("model", "voice", "expected_model", "expected_voice"),
    [
        ("openai/gpt-4o-mini", "piper/joe", ("openai", "gpt-4o-mini"), ("vapi", "joe")),
        ("local/smollm2-135m", "joe", ("vapi", "smollm2-135m"), ("vapi", "joe")),
        (
            "anthropic/claude-3-5-haiku-20241022",
            "elevenlabs/burt",
            ("anthropic", "claude-3-5-haiku-20241022"),
            ("11labs", "burt"),
        ),
    ],
)
def test_launch_contract_strings_map_to_provider_objects(
    org_api: httpx.Client, model: str, voice: str, expected_model: tuple[str, str], expected_voice: tuple[str, str]
) -> None:
    assistant = created(org_api.post("/assistant", json={"model": model, "voice": voice}))

    assert (assistant["model"]["provider"], assistant["model"]["model"]) == expected_model
    assert (assistant["voice"]["provider"], assistant["voice"]["voiceId"]) == expected_voice


def test_assistant_with_nothing_runs_on_the_embedded_models(org_api: httpx.Client) -> None:
    """The official SDKs cannot show this: they drop model/voice objects whose provider Vapi does not know."""
    assistant = created(org_api.post("/assistant", json={"name": "Offline"}))

    assert assistant["model"] == {"provider": "vapi", "model": "smollm2-135m"}
    assert assistant["voice"]["provider"] == "vapi"
    assert assistant["transcriber"]["provider"] == "vapi"


def test_launch_contract_call_answers_id_status_and_the_full_vapi_call(org_api: httpx.Client) -> None:
    assistant = created(org_api.post("/assistant", json={"name": "Caller"}))
    number = created(
        org_api.post(
            "/phone-number",
            json={
                "provider": "twilio",
                "number": "+14155550150",
                "twilioAccountSid": "AC" + uuid.uuid4().hex,
                "twilioAuthToken": "token",  # the suite's Twilio simulator takes any credentials
            },
        )
    )
    body = {
        "to": "+14155550151",
        "from": "+14155550150",
        "assistantId": assistant["id"],
        "webhookUrl": "https://hooks.example.com/opencall",
        "record": True,
        "recordingUrl": "https://storage.example.com/upload/call.wav",
        "metadata": {"crm": {"leadId": 42}},
    }

    call = created(org_api.post("/call", json=body))

    assert call["status"] == "queued"
    assert call["type"] == "outboundPhoneCall"
    assert call["phoneNumberId"] == number["id"]
    assert call["customer"] == {"number": "+14155550151"}
    assert call["assistantOverrides"]["server"] == {"url": "https://hooks.example.com/opencall"}
    assert call["assistantOverrides"]["artifactPlan"] == {"recordingEnabled": True}
    assert call["metadata"] == {"crm": {"leadId": 42}}
    assert call["recordingUrl"] == "https://storage.example.com/upload/call.wav"
    assert not {"to", "from", "webhookUrl", "record"} & call.keys()
    assert org_api.get(f"/call/{call['id']}").json()["metadata"] == {"crm": {"leadId": 42}}


def test_replace_assistant_with_put_drops_what_is_not_sent(org_api: httpx.Client) -> None:
    assistant = created(org_api.post("/assistant", json={"name": "Full", "firstMessage": "Hi"}))

    replaced = org_api.put(f"/assistant/{assistant['id']}", json={"name": "Bare"})

    assert replaced.status_code == 200
    assert replaced.json()["name"] == "Bare"
    assert "firstMessage" not in replaced.json()
    assert replaced.json()["createdAt"] == assistant["createdAt"]


# --- calls -----------------------------------------------------------------------------------------------------


def test_delete_call_with_ids_deletes_them_all_and_answers_the_path_call(org_api: httpx.Client) -> None:
    assistant = created(org_api.post("/assistant", json={}))
    first, second, third, kept = (
        created(org_api.post("/call", json={"assistantId": assistant["id"], **WEBSOCKET_CALL})) for _ in range(4)
    )

    response = org_api.request("DELETE", f"/call/{first['id']}", json={"ids": [second["id"], third["id"]]})

    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert ids(org_api.get("/call")) == [kept["id"]]


def test_delete_call_ids_never_reach_another_org(server: RunningServer, org_api: httpx.Client) -> None:
    with server.client(server.new_org().private_key) as other:
        assistant = created(other.post("/assistant", json={}))
        theirs = created(other.post("/call", json={"assistantId": assistant["id"], **WEBSOCKET_CALL}))
        mine_assistant = created(org_api.post("/assistant", json={}))
        mine = created(org_api.post("/call", json={"assistantId": mine_assistant["id"], **WEBSOCKET_CALL}))

        assert org_api.request("DELETE", f"/call/{mine['id']}", json={"ids": [theirs["id"]]}).status_code == 200
        assert other.get(f"/call/{theirs['id']}").status_code == 200


def test_delete_call_without_a_body_works(org_api: httpx.Client) -> None:
    assistant = created(org_api.post("/assistant", json={}))
    call = created(org_api.post("/call", json={"assistantId": assistant["id"], **WEBSOCKET_CALL}))

    assert org_api.delete(f"/call/{call['id']}").json()["id"] == call["id"]
    assert org_api.get(f"/call/{call['id']}").status_code == 404


def test_call_create_retried_with_one_idempotency_key_is_one_call(org_api: httpx.Client) -> None:
    assistant = created(org_api.post("/assistant", json={}))
    body = {"assistantId": assistant["id"], **WEBSOCKET_CALL}
    headers = {"Idempotency-Key": "order-17"}

    first, again = (created(org_api.post("/call", json=body, headers=headers)) for _ in range(2))
    other = created(org_api.post("/call", json=body, headers={"Idempotency-Key": "order-18"}))

    assert again["id"] == first["id"]
    assert other["id"] != first["id"]
    assert sorted(ids(org_api.get("/call"))) == sorted([first["id"], other["id"]])


# --- lists ------------------------------------------------------------------------------------------------------


def test_v2_phone_number_pagination_metadata(org_api: httpx.Client) -> None:
    numbers = [created(org_api.post("/phone-number", json={"provider": "vapi", "name": f"line {i}"})) for i in range(5)]

    def page(query: str) -> dict[str, Any]:
        response = org_api.get(f"/v2/phone-number?{query}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    second = page("limit=2&page=2")
    assert [n["id"] for n in second["results"]] == [numbers[2]["id"], numbers[1]["id"]]
    assert second["metadata"] == {
        "itemsPerPage": 2,
        "totalItems": 5,
        "currentPage": 2,
        "totalPages": 3,
        "hasNextPage": True,
        "sortOrder": "DESC",
    }
    last = page("limit=2&page=3&sortOrder=ASC")
    assert [n["id"] for n in last["results"]] == [numbers[4]["id"]]
    assert last["metadata"]["hasNextPage"] is False
    beyond = page("limit=2&page=9")
    assert beyond["results"] == [] and beyond["metadata"]["totalItems"] == 5
    assert page("page=99999999999999999999")["results"] == []


def test_time_filters_take_the_timestamps_clients_received(org_api: httpx.Client) -> None:
    first, second, third = (created(org_api.post("/tool", json={"type": "endCall"})) for _ in range(3))
    assert first["createdAt"] < second["createdAt"] < third["createdAt"]

    def listed(**query: str) -> list[str]:
        return ids(org_api.get("/tool", params=query))

    assert listed(createdAtGt=first["createdAt"]) == [third["id"], second["id"]]
    assert listed(createdAtGe=second["createdAt"], createdAtLe=second["createdAt"]) == [second["id"]]
    assert listed(createdAtLt=second["createdAt"]) == [first["id"]]
    # The same instant written with an offset instead of Z, and with microseconds.
    with_offset = second["createdAt"].replace("Z", "+00:00")
    assert listed(createdAtGe=with_offset) == [third["id"], second["id"]]
    assert listed(createdAtGt=second["createdAt"].replace("Z", "001+00:00")) == [third["id"]]
    assert listed(createdAtGt="2000-01-01", limit="1") == [third["id"]]
    assert listed(updatedAtGt=third["updatedAt"]) == []

    time.sleep(0.002)
    patched = org_api.patch(f"/tool/{first['id']}", json={"messages": []}).json()
    assert patched["updatedAt"] > third["updatedAt"]
    assert listed(updatedAtGt=third["updatedAt"]) == [first["id"]]


def test_list_limit_zero_is_an_empty_array(org_api: httpx.Client) -> None:
    created(org_api.post("/squad", json={"members": [{"assistant": {"name": "inline"}}]}))

    assert org_api.get("/squad?limit=0").json() == []


# --- keys: CLI and first start --------------------------------------------------------------------------------


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCALL_")}
    return {**env, "OPENCALL_DATA_DIR": str(data_dir), "OPENCALL_LOG_LEVEL": "WARNING"}


def opencall(data_dir: Path, *args: str) -> str:
    run = subprocess.run(
        [str(OPENCALL), *args], cwd=data_dir, env=cli_env(data_dir), capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, f"opencall {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}"
    return run.stdout


def test_keys_cli_creates_lists_and_revokes_and_the_server_obeys(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()

    issued = re.search(rf"private key for org ({UUID}) \(shown once\): ({UUID})", opencall(data_dir, "keys", "create"))
    assert issued, "keys create must print the org and the new key"
    org_id, key = issued.groups()
    public = re.search(
        rf"public key for org {org_id} .*: ({UUID})", opencall(data_dir, "keys", "create", "--kind", "public")
    )
    assert public

    listing = opencall(data_dir, "keys", "list")
    assert f"{key[:8]}…" in listing and "private" in listing and "active" in listing
    assert key not in listing, "the list shows prefixes, never whole keys"

    running = start_server(Settings(host="127.0.0.1", port=free_port(), data_dir=data_dir))
    try:
        with running.client(key) as client:
            assert client.get("/assistant").status_code == 200
            assert created(client.post("/assistant", json={"name": "via CLI key"}))["orgId"] == org_id

            assert re.search(r"revoked", opencall(data_dir, "keys", "revoke", key[:8]))
            assert f"{key[:8]}…" in opencall(data_dir, "keys", "list")

            refused = client.get("/assistant")
            assert refused.status_code == 401
            assert refused.json()["message"] == INVALID_KEY
    finally:
        running.server.should_exit = True
        running.thread.join(timeout=10)
    assert "revoked" in opencall(data_dir, "keys", "list")


def serve(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {**cli_env(data_dir), "OPENCALL_PORT": str(port), "OPENCALL_HOST": "127.0.0.1"}
    return subprocess.Popen(
        [str(OPENCALL), "serve"], cwd=data_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def wait_healthy(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, "opencall serve exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("opencall serve did not become healthy in 90 s")


def printed_so_far(process: subprocess.Popen[str]) -> str:
    """What the server has written to stdout by now, without waiting for it to exit: a key that sits in a
    buffer is as good as lost to someone reading `docker logs`."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    chunks = []
    while select.select([fd], [], [], 1.0)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    out, _ = process.communicate(timeout=30)
    return out


def test_first_start_without_opencall_api_key_prints_a_working_key_once(tmp_path: Path) -> None:
    port = free_port()
    first = serve(tmp_path, port)
    try:
        wait_healthy(port, first)
        printed = printed_so_far(first)
    finally:
        stop(first)
    key = re.search(rf"private key: ({UUID})", printed)
    assert key, f"first start must print the generated private key, printed:\n{printed}"

    second = serve(tmp_path, port)
    try:
        wait_healthy(port, second)
        answer = httpx.get(f"http://127.0.0.1:{port}/assistant", headers={"Authorization": f"Bearer {key[1]}"})
        assert answer.status_code == 200, answer.text
    finally:
        assert "private key" not in stop(second), "the key is printed on the first start only"
