"""Errors leave as Vapi's (NestJS) bodies: `{"message", "error", "statusCode"}`, naming the bad field, never
FastAPI's 422 and never a 5xx for bad input. Raw HTTP: these are the requests an SDK would not send."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from opencall.errors import INVALID_KEY
from tests.conftest import OrgKeys, RunningServer

UNAUTHORIZED = {"message": INVALID_KEY, "error": "Unauthorized", "statusCode": 401}


@pytest.fixture(scope="module")
def org(server: RunningServer) -> OrgKeys:
    return server.new_org()


@pytest.fixture
def api(server: RunningServer, org: OrgKeys) -> Iterator[httpx.Client]:
    """The shared `api` client, but in an org of this module: what these tests create stays out of others' lists."""
    with server.client(org.private_key) as client:
        yield client


def bad_request(response: httpx.Response) -> list[str]:
    """The messages of a NestJS 400; fails on any other answer."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "Bad Request" and body["statusCode"] == 400, body
    return body["message"] if isinstance(body["message"], list) else [body["message"]]


def post_json(api: httpx.Client, path: str, raw: str) -> httpx.Response:
    return api.post(path, content=raw, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("POST", "/assistants"), ("PUT", "/call")])
def test_unknown_route_is_nestjs_404(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path)

    assert response.status_code == 404
    assert response.json() == {"message": f"Cannot {method} {path}", "error": "Not Found", "statusCode": 404}


def test_unknown_id_is_404_naming_the_resource(api: httpx.Client) -> None:
    response = api.get("/assistant/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404
    assert response.json() == {"message": "Assistant not found", "error": "Not Found", "statusCode": 404}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"name": ', "body must be valid JSON"),
        ("[]", "body must be an object"),
        ('"assistant"', "body must be an object"),
        ("", "body should not be empty"),
    ],
)
def test_body_that_is_not_a_json_object_is_a_400_naming_the_body(api: httpx.Client, raw: str, expected: str) -> None:
    messages = bad_request(post_json(api, "/assistant", raw))

    assert any(m.startswith(expected) for m in messages), messages


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": 5}, "name must be a string"),
        ({"maxDurationSeconds": "long"}, "maxDurationSeconds must be a number conforming to the specified constraints"),
        ({"firstMessageInterruptionsEnabled": "maybe"}, "firstMessageInterruptionsEnabled must be a boolean value"),
        ({"model": "not-a-model"}, "model must be a model object"),
        ({"model": {"provider": "nope", "model": "x"}}, "model.provider must be one of the following values"),
        ({"voice": {"provider": "11labs"}}, "voice.voiceId should not be empty"),
        ({"endCallPhrases": "bye"}, "endCallPhrases must be an array"),
    ],
)
def test_wrong_type_is_a_400_naming_the_field(api: httpx.Client, body: dict[str, Any], expected: str) -> None:
    messages = bad_request(api.post("/assistant", json=body))

    assert any(m.startswith(expected) for m in messages), messages


def test_every_problem_in_a_body_is_named_at_once(api: httpx.Client) -> None:
    messages = bad_request(api.post("/assistant", json={"name": "x" * 41, "foo": 1, "maxDurationSeconds": 1}))

    assert sorted(messages) == [
        "maxDurationSeconds must not be less than 10",
        "name must be shorter than or equal to 40 characters",
        "property foo should not exist",
    ]


def test_launch_contract_names_are_whitelisted_but_other_unknown_call_keys_are_not(api: httpx.Client) -> None:
    body = {"to": "+14155550100", "from": "+14155550101", "assistantId": "x", "webhookUrl": "https://h.example"}

    messages = bad_request(api.post("/call", json={**body, "callbackUrl": "https://h.example"}))

    assert messages == ["property callbackUrl should not exist"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"to": "5551234"}, "to must be a valid phone number in E.164 format"),
        ({"webhookUrl": "ftp://x"}, "webhookUrl must be an http(s) URL"),
        ({"record": "maybe"}, "record must be a boolean value"),
        ({"metadata": "x"}, "metadata must be an object"),
    ],
)
def test_bad_launch_contract_call_field_is_a_400_naming_it(
    api: httpx.Client, body: dict[str, Any], expected: str
) -> None:
    messages = bad_request(api.post("/call", json={"assistant": {}, **body}))

    assert any(m.startswith(expected) for m in messages), messages


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("limit=abc", "limit must be an integer number"),
        ("limit=1001", "limit must not be greater than 1000"),
        ("limit=-1", "limit must not be less than 0"),
        ("createdAtGt=yesterday", "createdAtGt must be a valid ISO 8601 date string"),
        ("updatedAtLe=2025-13-40T00:00:00Z", "updatedAtLe must be a valid ISO 8601 date string"),
    ],
)
def test_bad_list_query_is_a_400_naming_the_parameter(api: httpx.Client, query: str, expected: str) -> None:
    messages = bad_request(api.get(f"/assistant?{query}"))

    assert any(m.startswith(expected) for m in messages), messages


def test_v2_page_zero_is_a_400(api: httpx.Client) -> None:
    assert bad_request(api.get("/v2/phone-number?page=0")) == ["page must not be less than 1"]


def test_delete_call_with_ids_that_are_not_an_array_is_a_400(api: httpx.Client) -> None:
    assert bad_request(api.request("DELETE", "/call/x", json={"ids": "x"})) == ["ids must be an array"]


def test_file_upload_without_a_file_is_a_400_naming_it(api: httpx.Client) -> None:
    assert bad_request(api.post("/file", data={"purpose": "assistant"})) == ["file should not be empty"]


@pytest.mark.parametrize(
    "request_args",
    [
        ("GET", "/call?id=%00", None),
        ("GET", "/call?assistantId=a%00b", None),
        ("GET", "/assistant/%00", None),
        ("GET", "/v2/phone-number?search=%00", None),
        ("POST", "/call", {"assistantId": "a\x00", "transport": {"provider": "vapi.websocket"}}),
        (
            "POST",
            "/phone-number",
            {"provider": "byo-phone-number", "credentialId": "c", "number": "12\x003", "numberE164CheckEnabled": False},
        ),
    ],
    ids=["call-id", "call-assistant-id", "path-id", "search", "body-id", "phone-number"],
)
def test_nul_characters_are_a_client_error_on_every_database(
    api: httpx.Client, request_args: tuple[str, str, dict[str, Any] | None]
) -> None:
    """PostgreSQL refuses NUL in text; that is the input's fault, so a 4xx (SQLite may store it)."""
    method, path, body = request_args

    response = api.request(method, path, json=body)

    assert response.status_code < 500, response.text


def test_twilio_credentials_outside_ascii_are_a_400_naming_the_field(api: httpx.Client) -> None:
    body = {"provider": "twilio", "number": "+14155550188", "twilioAccountSid": "AC\u00e9", "twilioAuthToken": "t"}

    assert bad_request(api.post("/phone-number", json=body)) == [
        "twilioAccountSid must contain only printable ASCII characters"
    ]


# --- authentication: every route but /health takes the org's private key ----------------------------------


def private_operations(server: RunningServer) -> list[tuple[str, str]]:
    spec = httpx.get(f"{server.base_url}/openapi.json", timeout=120).raise_for_status().json()
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path))
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if {"bearer": []} in operation.get("security", spec.get("security", []))
    ]


def test_every_private_route_without_a_key_is_vapis_401(server: RunningServer) -> None:
    operations = private_operations(server)
    assert ("GET", "/assistant") in operations and (
        "DELETE",
        "/call/00000000-0000-0000-0000-000000000000",
    ) in operations

    with httpx.Client(base_url=server.base_url, timeout=30) as anonymous:
        answers = {f"{m} {p}": anonymous.request(m, p) for m, p in operations}

    wrong = {op: (r.status_code, r.text[:120]) for op, r in answers.items() if r.json() != UNAUTHORIZED}
    assert not wrong
    assert all(r.status_code == 401 for r in answers.values())


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-key", "Bearer", "Basic dXNlcjpwYXNz", "not-even-a-scheme"],
    ids=["unknown-key", "empty-key", "basic-auth", "no-scheme"],
)
def test_bad_authorization_header_is_vapis_401(server: RunningServer, authorization: str) -> None:
    response = httpx.get(f"{server.base_url}/assistant", headers={"Authorization": authorization}, timeout=30)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_public_key_is_refused_on_private_routes(server: RunningServer, org: OrgKeys) -> None:
    with server.client(org.public_key) as browser:
        answers = [browser.get("/assistant"), browser.post("/assistant", json={"name": "x"}), browser.get("/call")]

    assert [(r.status_code, r.json()) for r in answers] == [(401, UNAUTHORIZED)] * 3


def test_health_needs_no_key(server: RunningServer) -> None:
    response = httpx.get(f"{server.base_url}/health", timeout=30)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_spec_and_docs_need_no_key(server: RunningServer) -> None:
    spec = httpx.get(f"{server.base_url}/openapi.json", timeout=120)
    docs = httpx.get(f"{server.base_url}/docs", timeout=30)

    assert spec.status_code == 200
    assert spec.json()["servers"] == [{"url": server.base_url}]
    assert spec.json()["paths"]["/assistant"]["post"]["operationId"] == "AssistantController_create"
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text
