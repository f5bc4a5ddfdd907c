"""The official Python SDK (`vapi-server-sdk` 3.0.0) pointed at OpenCall works like it does against Vapi.

The SDK skips response validation: a field of the wrong shape silently becomes None. So every test asserts
on parsed values (`assistant.model.provider == "openai"`), never just on "no exception".
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from vapi import Vapi
from vapi.core.api_error import ApiError

from opencall.errors import INVALID_KEY
from tests.conftest import OrgKeys, RunningServer

VAPI_EXAMPLE_ASSISTANT: dict[str, Any] = {
    "name": "Support",
    "first_message": "Hi! How can I help?",
    "model": {
        "provider": "openai",
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "You are a helpful agent."}],
    },
    "voice": {"provider": "11labs", "voiceId": "burt"},
    "transcriber": {"provider": "deepgram", "model": "nova-2", "language": "en"},
}
WEBSOCKET_TRANSPORT = {
    "provider": "vapi.websocket",
    "audioFormat": {"format": "pcm_s16le", "container": "raw", "sampleRate": 16000},
}


@pytest.fixture(scope="module")
def org(server: RunningServer) -> OrgKeys:
    """An org of its own, so list assertions in this module are exact."""
    return server.new_org()


@pytest.fixture
def vapi(server: RunningServer, org: OrgKeys) -> Vapi:
    return Vapi(token=org.private_key, base_url=server.base_url)


@pytest.fixture
def other_org_vapi(server: RunningServer) -> Vapi:
    return Vapi(token=server.new_org().private_key, base_url=server.base_url)


def api_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> ApiError:
    """The error `call(*args, **kwargs)` raises; fails the test if it succeeds."""
    with pytest.raises(ApiError) as raised:
        call(*args, **kwargs)
    return raised.value


def messages_of(error: ApiError) -> list[str]:
    assert isinstance(error.body, dict), error.body
    message = error.body["message"]
    return message if isinstance(message, list) else [message]


def new_number(vapi: Vapi, number: str, **fields: Any) -> Any:
    """A Twilio number with credentials, so calls from it dial. The suite's Twilio simulator takes any
    credentials for an account it has not seen, then holds it to them: one new account per number."""
    request = {
        "provider": "twilio",
        "number": number,
        "twilioAccountSid": "AC" + uuid.uuid4().hex,
        "twilioAuthToken": "sim-token",
        **fields,
    }
    return vapi.phone_numbers.create(request=request)  # type: ignore[arg-type]


def assistant_ids(items: list[Any]) -> list[str]:
    return [item.id for item in items]


# --- assistants ---------------------------------------------------------------------------------------


def test_assistant_created_from_the_vapi_readme_example_reads_back_as_objects(vapi: Vapi, org: OrgKeys) -> None:
    created = vapi.assistants.create(**VAPI_EXAMPLE_ASSISTANT)

    assert created.org_id == org.org_id
    assert created.name == "Support"
    assert created.first_message == "Hi! How can I help?"
    assert created.model.provider == "openai"
    assert created.model.model == "gpt-4o"
    assert created.model.messages[0].content == "You are a helpful agent."
    assert created.voice.provider == "11labs"
    assert created.voice.voice_id == "burt"
    assert created.transcriber.provider == "deepgram"
    assert created.transcriber.model == "nova-2"
    assert created.created_at is not None and created.created_at == created.updated_at

    fetched = vapi.assistants.get(created.id)
    assert fetched.id == created.id
    assert fetched.model.model == "gpt-4o"
    assert fetched.voice.voice_id == "burt"
    assert created.id in assistant_ids(vapi.assistants.list())


def test_assistant_patch_is_shallow_and_a_sent_model_replaces_the_stored_one(vapi: Vapi) -> None:
    created = vapi.assistants.create(**VAPI_EXAMPLE_ASSISTANT)

    renamed = vapi.assistants.update(created.id, name="Support v2")
    assert renamed.name == "Support v2"
    assert renamed.model.messages[0].content == "You are a helpful agent."
    assert renamed.updated_at > created.updated_at

    remodelled = vapi.assistants.update(created.id, model={"provider": "openai", "model": "gpt-4o-mini"})
    assert remodelled.model.model == "gpt-4o-mini"
    assert remodelled.model.messages is None, "PATCH must replace the model object, not merge into it"
    assert remodelled.name == "Support v2"
    assert remodelled.voice.voice_id == "burt"


def test_assistant_delete_returns_the_deleted_assistant_and_it_is_gone(vapi: Vapi) -> None:
    created = vapi.assistants.create(name="Short-lived")

    deleted = vapi.assistants.delete(created.id)

    assert deleted.id == created.id
    assert deleted.name == "Short-lived"
    assert api_error(vapi.assistants.get, created.id).status_code == 404
    assert created.id not in assistant_ids(vapi.assistants.list())


def test_launch_contract_assistant_with_string_model_voice_and_prompt_answers_vapi_objects(vapi: Vapi) -> None:
    created = vapi.assistants.create(
        name="Launch",
        request_options={"additional_body_parameters": {"model": "gpt-4o", "prompt": "Be brief.", "voice": "alloy"}},
    )

    assert created.name == "Launch"
    assert created.model.provider == "openai"
    assert created.model.model == "gpt-4o"
    assert [(m.role, m.content) for m in created.model.messages] == [("system", "Be brief.")]
    assert created.voice.provider == "openai"
    assert created.voice.voice_id == "alloy"
    assert vapi.assistants.get(created.id).model.model == "gpt-4o"


# --- list filters ---------------------------------------------------------------------------------------


def test_legacy_list_honours_limit_and_created_and_updated_bounds(server: RunningServer) -> None:
    vapi = Vapi(token=server.new_org().private_key, base_url=server.base_url)
    first, second, third = (vapi.assistants.create(name=f"a{i}") for i in range(3))
    assert first.created_at < second.created_at < third.created_at

    assert assistant_ids(vapi.assistants.list()) == [third.id, second.id, first.id]
    assert assistant_ids(vapi.assistants.list(limit=2)) == [third.id, second.id]
    assert assistant_ids(vapi.assistants.list(created_at_gt=first.created_at)) == [third.id, second.id]
    assert assistant_ids(vapi.assistants.list(created_at_ge=second.created_at)) == [third.id, second.id]
    assert assistant_ids(vapi.assistants.list(created_at_lt=third.created_at)) == [second.id, first.id]
    assert assistant_ids(vapi.assistants.list(created_at_le=second.created_at)) == [second.id, first.id]
    later = second.created_at + timedelta(days=1)
    assert vapi.assistants.list(created_at_gt=later) == []

    touched = vapi.assistants.update(first.id, name="a0 touched")
    assert assistant_ids(vapi.assistants.list(updated_at_gt=third.updated_at)) == [first.id]
    assert assistant_ids(vapi.assistants.list(updated_at_ge=touched.updated_at)) == [first.id]
    assert assistant_ids(vapi.assistants.list(updated_at_lt=touched.updated_at)) == [third.id, second.id]
    assert assistant_ids(vapi.assistants.list(updated_at_le=third.updated_at)) == [third.id, second.id]


# --- calls ----------------------------------------------------------------------------------------------


def test_websocket_transport_call_is_queued_with_its_websocket_url(
    vapi: Vapi, server: RunningServer, org: OrgKeys
) -> None:
    assistant = vapi.assistants.create(name="WS")

    call = vapi.calls.create(assistant_id=assistant.id, transport=WEBSOCKET_TRANSPORT)  # type: ignore[arg-type]

    assert call.org_id == org.org_id
    assert call.type == "vapi.websocketCall"
    assert call.status == "queued"
    assert call.assistant_id == assistant.id
    assert call.transport.provider == "vapi.websocket"
    assert call.transport.websocketCallUrl == f"ws{server.base_url[4:]}/{call.id}/transport"
    assert call.transport.audio_format.sample_rate == 16000
    assert call.monitor.listen_url.startswith("ws://")
    assert call.monitor.control_url == f"{server.base_url}/{call.id}/control"


def test_outbound_phone_call_is_queued_on_twilio_over_pstn(vapi: Vapi) -> None:
    assistant = vapi.assistants.create(name="Caller")
    number = new_number(vapi, "+14155550101")

    call = vapi.calls.create(assistant_id=assistant.id, phone_number_id=number.id, customer={"number": "+14155550123"})

    assert call.type == "outboundPhoneCall"
    assert call.status == "queued"
    assert call.phone_call_provider == "twilio"
    assert call.phone_call_transport == "pstn"
    assert call.phone_number_id == number.id
    assert call.customer.number == "+14155550123"
    assert call.cost == 0


def test_call_list_filters_by_assistant_phone_number_id_and_time(vapi: Vapi) -> None:
    assistant_a = vapi.assistants.create(name="A")
    assistant_b = vapi.assistants.create(name="B")
    number = new_number(vapi, "+14155550102")
    ws_call = vapi.calls.create(assistant_id=assistant_a.id, transport=WEBSOCKET_TRANSPORT)  # type: ignore[arg-type]
    phone_call = vapi.calls.create(
        assistant_id=assistant_b.id, phone_number_id=number.id, customer={"number": "+14155550124"}
    )

    assert [c.id for c in vapi.calls.list(assistant_id=assistant_a.id)] == [ws_call.id]
    assert [c.id for c in vapi.calls.list(assistant_id=assistant_b.id)] == [phone_call.id]
    assert [c.id for c in vapi.calls.list(phone_number_id=number.id)] == [phone_call.id]
    assert [c.id for c in vapi.calls.list(id=ws_call.id)] == [ws_call.id]
    assert [c.id for c in vapi.calls.list(created_at_gt=ws_call.created_at)] == [phone_call.id]
    assert [c.id for c in vapi.calls.list(limit=1)] == [phone_call.id]
    listed = vapi.calls.list(id=phone_call.id)[0]
    assert listed.customer.number == "+14155550124"
    assert listed.status == "queued"


def test_call_get_update_and_delete(vapi: Vapi) -> None:
    assistant = vapi.assistants.create(name="Lifecycle")
    call = vapi.calls.create(assistant_id=assistant.id, transport=WEBSOCKET_TRANSPORT)  # type: ignore[arg-type]

    assert vapi.calls.get(call.id).type == "vapi.websocketCall"
    renamed = vapi.calls.update(call.id, name="renamed")
    assert renamed.name == "renamed"
    assert renamed.status == "queued"

    deleted = vapi.calls.delete(call.id)  # the SDK sends the body `{}`
    assert deleted.id == call.id
    assert deleted.name == "renamed"
    assert api_error(vapi.calls.get, call.id).status_code == 404


def test_call_create_with_the_same_idempotency_key_places_one_call(vapi: Vapi) -> None:
    assistant = vapi.assistants.create(name="Retry")
    options = {"additional_headers": {"Idempotency-Key": f"retry-{time.time_ns()}"}}

    first = vapi.calls.create(assistant_id=assistant.id, transport=WEBSOCKET_TRANSPORT, request_options=options)  # type: ignore[arg-type]
    again = vapi.calls.create(assistant_id=assistant.id, transport=WEBSOCKET_TRANSPORT, request_options=options)  # type: ignore[arg-type]

    assert again.id == first.id
    assert [c.id for c in vapi.calls.list(assistant_id=assistant.id)] == [first.id]


def test_launch_contract_call_maps_to_from_webhook_record_and_metadata(vapi: Vapi) -> None:
    assistant = vapi.assistants.create(name="Launch caller")
    number = new_number(vapi, "+14155550103")

    call = vapi.calls.create(
        assistant_id=assistant.id,
        request_options={
            "additional_body_parameters": {
                "to": "+14155550125",
                "from": "+14155550103",
                "webhookUrl": "https://hooks.example.com/vapi",
                "record": False,
                "recordingUrl": "https://storage.example.com/rec.wav",
                "metadata": {"ticket": "T-1"},
            }
        },
    )

    assert call.status == "queued"
    assert call.type == "outboundPhoneCall"
    assert call.phone_number_id == number.id
    assert call.customer.number == "+14155550125"
    assert call.assistant_overrides.server.url == "https://hooks.example.com/vapi"
    assert call.assistant_overrides.artifact_plan.recording_enabled is False
    assert call.assistant_overrides.metadata == {"ticket": "T-1"}
    assert call.metadata == {"ticket": "T-1"}  # type: ignore[attr-defined]
    assert call.recordingUrl == "https://storage.example.com/rec.wav"  # type: ignore[attr-defined]


def test_launch_contract_call_from_a_number_the_org_does_not_own_is_a_400_naming_from(vapi: Vapi) -> None:
    assistant = vapi.assistants.create(name="No number")
    error = api_error(
        vapi.calls.create,
        assistant_id=assistant.id,
        request_options={"additional_body_parameters": {"to": "+14155550126", "from": "+14155559999"}},
    )

    assert error.status_code == 400
    assert any(m.startswith("from +14155559999") for m in messages_of(error))


# --- phone numbers ---------------------------------------------------------------------------------------


def test_phone_number_crud_never_echoes_the_twilio_auth_token(vapi: Vapi, org: OrgKeys) -> None:
    assistant = vapi.assistants.create(name="Inbound")
    sid = "AC" + uuid.uuid4().hex
    created = new_number(
        vapi, "+14155550104", twilioAccountSid=sid, twilioAuthToken="secret-token", assistantId=assistant.id
    )

    assert created.provider == "twilio"
    assert created.org_id == org.org_id
    assert created.number == "+14155550104"
    assert created.twilio_account_sid == sid
    assert created.assistant_id == assistant.id
    assert created.status == "active"
    assert created.twilio_auth_token is None
    assert "secret-token" not in created.json()

    fetched = vapi.phone_numbers.get(created.id)
    assert fetched.number == "+14155550104"
    assert fetched.twilio_auth_token is None
    assert created.id in [n.id for n in vapi.phone_numbers.list()]

    updated = vapi.phone_numbers.update(created.id, request={"name": "Front desk"})  # type: ignore[arg-type]
    assert updated.name == "Front desk"
    assert updated.number == "+14155550104"

    deleted = vapi.phone_numbers.delete(created.id)
    assert deleted.id == created.id
    assert deleted.name == "Front desk"
    assert api_error(vapi.phone_numbers.get, created.id).status_code == 404


def test_v2_phone_number_list_is_paginated(server: RunningServer) -> None:
    vapi = Vapi(token=server.new_org().private_key, base_url=server.base_url)
    numbers = [new_number(vapi, f"+1415555020{i}", name=f"line {i}") for i in range(3)]

    page_one = vapi.phone_numbers.phone_number_controller_find_all_paginated(limit=2)
    assert [n.id for n in page_one.results] == [numbers[2].id, numbers[1].id]
    assert page_one.metadata.items_per_page == 2
    assert page_one.metadata.total_items == 3
    assert page_one.metadata.current_page == 1
    assert page_one.metadata.total_pages == 2
    assert page_one.metadata.has_next_page is True

    page_two = vapi.phone_numbers.phone_number_controller_find_all_paginated(limit=2, page=2)
    assert [n.id for n in page_two.results] == [numbers[0].id]
    assert page_two.metadata.current_page == 2
    assert page_two.metadata.has_next_page is False

    oldest_first = vapi.phone_numbers.phone_number_controller_find_all_paginated(sort_order="ASC")
    assert [n.id for n in oldest_first.results] == [n.id for n in numbers]
    found = vapi.phone_numbers.phone_number_controller_find_all_paginated(search="line 1")
    assert [n.id for n in found.results] == [numbers[1].id]
    newer = vapi.phone_numbers.phone_number_controller_find_all_paginated(created_at_gt=numbers[0].created_at)
    assert newer.metadata.total_items == 2


# --- tools -------------------------------------------------------------------------------------------------


def test_function_tool_crud(vapi: Vapi) -> None:
    created = vapi.tools.create(
        request={  # type: ignore[arg-type]
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
            "server": {"url": "https://tools.example.com/weather"},
        }
    )

    assert created.type == "function"
    assert created.function.name == "get_weather"
    assert created.function.parameters.required == ["city"]
    assert created.server.url == "https://tools.example.com/weather"

    assert vapi.tools.get(created.id).function.name == "get_weather"
    assert created.id in [t.id for t in vapi.tools.list()]

    updated = vapi.tools.update(created.id, request={"function": {"name": "get_forecast"}})  # type: ignore[arg-type]
    assert updated.function.name == "get_forecast"
    assert updated.function.description is None, "PATCH must replace the function object"
    assert updated.server.url == "https://tools.example.com/weather"

    deleted = vapi.tools.delete(created.id)
    assert deleted.id == created.id
    assert deleted.function.name == "get_forecast"
    assert api_error(vapi.tools.get, created.id).status_code == 404


# --- squads ------------------------------------------------------------------------------------------------


def test_squad_crud(vapi: Vapi) -> None:
    first = vapi.assistants.create(name="Greeter")
    second = vapi.assistants.create(name="Closer")

    created = vapi.squads.create(name="Team", members=[{"assistantId": first.id}])  # type: ignore[list-item]
    assert created.name == "Team"
    assert [m.assistant_id for m in created.members] == [first.id]

    assert vapi.squads.get(created.id).members[0].assistant_id == first.id
    assert created.id in [s.id for s in vapi.squads.list()]
    assert [s.id for s in vapi.squads.list(id_any=[created.id])] == [created.id]

    updated = vapi.squads.update(
        created.id,
        members=[{"assistantId": first.id}, {"assistantId": second.id}],  # type: ignore[list-item]
    )
    assert [m.assistant_id for m in updated.members] == [first.id, second.id]
    assert updated.name == "Team"

    deleted = vapi.squads.delete(created.id)
    assert deleted.id == created.id
    assert api_error(vapi.squads.get, created.id).status_code == 404


def test_squad_member_naming_a_missing_assistant_is_a_400(vapi: Vapi) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    error = api_error(vapi.squads.create, members=[{"assistantId": missing}])
    assert error.status_code == 400
    assert any(m.startswith("members.0.assistantId") for m in messages_of(error))


# --- files -------------------------------------------------------------------------------------------------


def test_file_upload_round_trips_its_bytes(vapi: Vapi, server: RunningServer, org: OrgKeys) -> None:
    payload = b"Opening hours: 9 to 5.\n\x00\xffbinary tail"

    created = vapi.files.create(file=("hours.txt", payload, "text/plain"), purpose="assistant")

    assert created.org_id == org.org_id
    assert created.name == "hours.txt"
    assert created.bytes == len(payload)
    assert created.mimetype == "text/plain"
    assert created.status == "done"
    assert created.purpose == "assistant"
    with server.client(org.private_key) as http:
        content = http.get(f"/file/{created.id}/content")
    assert content.status_code == 200
    assert content.content == payload

    assert vapi.files.get(created.id).bytes == len(payload)
    assert created.id in [f.id for f in vapi.files.list()]
    assert created.id in [f.id for f in vapi.files.list(purpose="assistant")]
    assert created.id not in [f.id for f in vapi.files.list(purpose="knowledge-base-v2")]
    assert vapi.files.update(created.id, name="Hours").name == "Hours"

    deleted = vapi.files.delete(created.id)
    assert deleted.id == created.id
    assert deleted.name == "Hours"
    assert api_error(vapi.files.get, created.id).status_code == 404
    with server.client(org.private_key) as http:
        assert http.get(f"/file/{created.id}/content").status_code == 404


# --- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"request_options": {"additional_body_parameters": {"foo": 1}}}, "property foo should not exist"),
        ({"name": "x" * 41}, "name must be shorter than or equal to 40 characters"),
        ({"max_duration_seconds": 5}, "maxDurationSeconds must not be less than 10"),
        ({"max_duration_seconds": 43201}, "maxDurationSeconds must not be greater than 43200"),
        (
            {"model": {"provider": "openai", "model": "gpt-4o", "foo": True}},
            "model.property foo should not exist",
        ),
        (
            {"model": {"provider": "openai", "model": "gpt-4o", "temperature": 3}},
            "model.temperature must not be greater than 2",
        ),
        ({"first_message_mode": "shout"}, "firstMessageMode must be one of the following values"),
    ],
)
def test_bad_assistant_is_a_400_naming_the_field(vapi: Vapi, fields: dict[str, Any], expected: str) -> None:
    error = api_error(vapi.assistants.create, **fields)

    assert error.status_code == 400
    assert error.body["error"] == "Bad Request"
    assert error.body["statusCode"] == 400
    assert any(m.startswith(expected) for m in messages_of(error)), messages_of(error)


def test_call_without_phone_number_is_vapis_400(vapi: Vapi) -> None:
    assistant = vapi.assistants.create(name="Lonely")
    error = api_error(vapi.calls.create, assistant_id=assistant.id, customer={"number": "+14155550127"})

    assert error.status_code == 400
    assert messages_of(error) == ["Couldn't Get Phone Number. Need Either `phoneNumberId` Or `phoneNumber`."]


def test_call_with_an_unknown_assistant_is_vapis_400(vapi: Vapi) -> None:
    error = api_error(vapi.calls.create, assistant_id="nope", transport=WEBSOCKET_TRANSPORT)

    assert error.status_code == 400
    assert messages_of(error) == ["Couldn't Get Assistant. `assistantId` nope Does Not Exist."]


UNAUTHORIZED = {"message": INVALID_KEY, "error": "Unauthorized", "statusCode": 401}


def test_unknown_key_gets_vapis_401_body(server: RunningServer) -> None:
    vapi = Vapi(token="not-a-key", base_url=server.base_url)

    error = api_error(vapi.assistants.list)

    assert error.status_code == 401
    assert error.body == UNAUTHORIZED


def test_public_key_on_a_private_route_gets_vapis_401_body(server: RunningServer, org: OrgKeys) -> None:
    vapi = Vapi(token=org.public_key, base_url=server.base_url)

    error = api_error(vapi.assistants.create, name="From a browser")

    assert error.status_code == 401
    assert error.body == UNAUTHORIZED


# --- org isolation -----------------------------------------------------------------------------------------


def make_each_resource(vapi: Vapi) -> dict[str, str]:
    """One object of every resource in the org, by SDK resource name → id."""
    assistant = vapi.assistants.create(name="Mine")
    number = new_number(vapi, "+14155550105")
    return {
        "assistants": assistant.id,
        "phone_numbers": number.id,
        "calls": vapi.calls.create(assistant_id=assistant.id, transport=WEBSOCKET_TRANSPORT).id,  # type: ignore[arg-type]
        "tools": vapi.tools.create(request={"type": "endCall"}).id,  # type: ignore[arg-type]
        "squads": vapi.squads.create(members=[{"assistantId": assistant.id}]).id,  # type: ignore[list-item]
        "files": vapi.files.create(file=("mine.txt", b"mine", "text/plain")).id,
    }


UPDATES: dict[str, dict[str, Any]] = {
    "assistants": {"name": "stolen"},
    "phone_numbers": {"request": {"name": "stolen"}},
    "calls": {"name": "stolen"},
    "tools": {"request": {"messages": []}},
    "squads": {"members": [{"assistantId": "x"}]},
    "files": {"name": "stolen"},
}


def test_another_orgs_objects_are_404_and_absent_from_its_lists(vapi: Vapi, other_org_vapi: Vapi) -> None:
    mine = make_each_resource(vapi)

    for resource, object_id in mine.items():
        theirs = getattr(other_org_vapi, resource)
        assert api_error(theirs.get, object_id).status_code == 404, resource
        assert api_error(theirs.update, object_id, **UPDATES[resource]).status_code == 404, resource
        assert api_error(theirs.delete, object_id).status_code == 404, resource
        assert object_id not in [item.id for item in theirs.list()], resource
        assert getattr(vapi, resource).get(object_id).id == object_id, f"{resource} survived"


def test_sdk_with_its_own_httpx_client_and_a_trailing_slash_base_url_works(server: RunningServer, org: OrgKeys) -> None:
    """Callers inject their own httpx client (timeouts, proxies) and paste base URLs with a trailing slash."""
    vapi = Vapi(token=org.private_key, base_url=server.base_url + "/", httpx_client=httpx.Client(timeout=10))

    created = vapi.assistants.create(name="Slash")

    assert [a.id for a in vapi.assistants.list(limit=1)] == [created.id]
