"""One HTTP request to a customer's server, authenticated; and `request_reply` for messages that expect one.

`tool-calls`, `assistant-request` and `transfer-destination-request` are answered by the customer's
server, so they are sent at once, within their budget, and never queued. Everything else goes through
the outbox (`webhooks.outbox`), which calls `WebhookSender.post` for each attempt.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from opencall.store.secrets_box import SecretBox
from opencall.webhooks.auth import auth_headers
from opencall.webhooks.credentials import credential_plan

DEFAULT_TIMEOUT_SECONDS = 20.0
"""Vapi's `server.timeoutSeconds` default."""


class WebhookError(Exception):
    def __init__(
        self,
        kind: Literal["timeout", "http", "invalid", "no-target"],
        detail: str = "",
        status: int | None = None,
    ) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.status = status


@dataclass(frozen=True, slots=True)
class Attempt:
    status: int | None
    error: str | None
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        box: SecretBox | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._client = client or httpx.AsyncClient(follow_redirects=False)

    async def post(
        self,
        server: dict[str, Any],
        body: dict[str, Any],
        message_id: str,
        org_id: str | None = None,
        timeout_seconds: float | None = None,
    ) -> Attempt:
        url = server.get("url")
        if not url:
            return Attempt(None, "no url")
        payload = encode(body)
        plan = None
        if self._sessions is not None and self._box is not None:
            plan = await credential_plan(self._sessions, self._box, org_id, server.get("credentialId"))
        headers = auth_headers(server, payload, message_id, plan)
        timeout = timeout_seconds or float(server.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
        try:
            response = await self._client.post(str(url), content=payload, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return Attempt(None, f"timed out after {timeout:g} s")
        except httpx.HTTPError as exc:
            return Attempt(None, f"{type(exc).__name__}: {exc}")
        return Attempt(
            response.status_code, None if response.is_success else response.text[:500], response.text
        )

    async def aclose(self) -> None:
        await self._client.aclose()


_sender: WebhookSender | None = None


def configure(sender: WebhookSender | None) -> None:
    """Install the process-wide sender (the app does this at start, with database access for credentials)."""
    global _sender
    _sender = sender


def current_sender() -> WebhookSender:
    global _sender
    if _sender is None:
        _sender = WebhookSender()
    return _sender


async def request_reply(
    server: dict[str, Any], message: dict[str, Any], *, timeout_seconds: float, org_id: str | None = None
) -> dict[str, Any]:
    """POST `{"message": message}` and return the JSON reply; WebhookError says how it failed."""
    if not server.get("url"):
        raise WebhookError("no-target", "no server url")
    attempt = await current_sender().post(
        server, {"message": message}, str(uuid.uuid4()), org_id=org_id, timeout_seconds=timeout_seconds
    )
    if attempt.status is None:
        kind: Literal["timeout", "http"] = "timeout" if "timed out" in (attempt.error or "") else "http"
        raise WebhookError(kind, attempt.error or "")
    if not attempt.ok:
        raise WebhookError("http", attempt.error or "", status=attempt.status)
    try:
        reply = json.loads(attempt.text) if attempt.text.strip() else {}
    except json.JSONDecodeError as exc:
        raise WebhookError("invalid", f"reply is not JSON: {exc}", status=attempt.status) from exc
    if not isinstance(reply, dict):
        raise WebhookError("invalid", "reply is not a JSON object", status=attempt.status)
    return reply
