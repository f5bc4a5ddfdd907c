"""Twilio's REST API through the official `twilio` SDK, at a configurable base URL.

The SDK's REST domain keeps its base URL in a plain attribute (`client.api.base_url`), so pointing
it at a simulator or proxy redirects every call (transports.md §2.6); the SDK's own `edge`/`region`
options only rewrite `*.twilio.com` labels. Requests are async (`AsyncTwilioHttpClient`), one short
session per operation, no retries: a failed dial is reported, never silently repeated.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

log = logging.getLogger("opencall.twilio")

DEFAULT_API_BASE = "https://api.twilio.com"
REQUEST_TIMEOUT_SECONDS = 10.0
STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")
CALL_ALREADY_OVER = 20404  # "resource not found": the call ended before our update reached it
AUTHENTICATE = 20003


@dataclass(frozen=True, slots=True)
class TwilioAccount:
    """An account's credentials: the auth token, or an API key (SK...) and its secret."""

    account_sid: str
    auth_token: str | None = None
    api_key: str | None = None
    api_secret: str | None = None

    @classmethod
    def from_number(cls, data: dict[str, Any], secrets: dict[str, Any]) -> TwilioAccount:
        """From a stored phone number (or a call's transient `phoneNumber`) and its opened secrets."""
        return cls(
            account_sid=str(data.get("twilioAccountSid") or ""),
            auth_token=secrets.get("twilioAuthToken"),
            api_key=data.get("twilioApiKey"),
            api_secret=secrets.get("twilioApiSecret"),
        )

    @property
    def signing_key(self) -> str | None:
        """What Twilio signs webhooks with: the account's auth token (an API secret does not sign)."""
        return self.auth_token

    @property
    def stream_key(self) -> str:
        """A secret of this account we can derive media-stream tokens from."""
        return self.auth_token or self.api_secret or ""


class TwilioError(Exception):
    """Twilio refused a request or could not be reached; `status`/`code` as Twilio reported them."""

    def __init__(self, message: str, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def unauthorized(self) -> bool:
        return self.status == 401 or self.code == AUTHENTICATE


def _page_error(exc: TwilioException, base_url: str) -> TwilioError:
    """List calls raise `TwilioException("Unable to fetch page", response)`: recover Twilio's error JSON."""
    response = exc.args[1] if len(exc.args) > 1 else None
    status = getattr(response, "status_code", None)
    try:
        body = json.loads(getattr(response, "text", "") or "{}")
    except ValueError:
        body = {}
    if status is None:
        return TwilioError(f"could not reach Twilio at {base_url}: {exc}")
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message", "") if isinstance(body, dict) else ""
    return TwilioError(f"Twilio answered {status} ({code}): {message}", status, code)


class TwilioRest:
    def __init__(self, account: TwilioAccount, base_url: str | None = None) -> None:
        if not account.account_sid:
            raise TwilioError("twilioAccountSid is missing")
        if not account.auth_token and not (account.api_key and account.api_secret):
            raise TwilioError("neither twilioAuthToken nor twilioApiKey with twilioApiSecret is set")
        self.account = account
        self.base_url = (base_url or DEFAULT_API_BASE).rstrip("/")

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[Client]:
        http = AsyncTwilioHttpClient(timeout=REQUEST_TIMEOUT_SECONDS)
        account = self.account
        if account.auth_token:
            client = Client(account.account_sid, account.auth_token, http_client=http, environment={})
        else:
            client = Client(account.api_key, account.api_secret, account.account_sid, http_client=http, environment={})
        client.api.base_url = self.base_url
        try:
            yield client
        except TwilioRestException as exc:
            raise TwilioError(f"Twilio answered {exc.status} ({exc.code}): {exc.msg}", exc.status, exc.code) from exc
        except TwilioException as exc:
            raise _page_error(exc, self.base_url) from exc
        except (OSError, TimeoutError) as exc:
            raise TwilioError(f"could not reach Twilio at {self.base_url}: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            # aiohttp's ClientError family (connection refused, DNS, TLS): Twilio is unreachable.
            if type(exc).__module__.startswith("aiohttp"):
                raise TwilioError(f"could not reach Twilio at {self.base_url}: {exc}") from exc
            raise
        finally:
            await http.close()

    async def create_call(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str,
        machine_detection: dict[str, Any] | None = None,
    ) -> str:
        """Dial `to`; Twilio fetches TwiML from `url` on answer. Returns the CallSid."""
        options = {k: v for k, v in (machine_detection or {}).items() if v is not None}
        async with self._client() as client:
            call = await client.calls.create_async(
                to=to, from_=from_, url=url, method="POST",
                status_callback=status_callback, status_callback_method="POST",
                status_callback_event=list(STATUS_CALLBACK_EVENTS), **options,
            )
        return str(call.sid)

    async def hang_up(self, call_sid: str) -> None:
        """End a live call (`Status=completed`); a call that is already over is not an error."""
        try:
            async with self._client() as client:
                await client.calls(call_sid).update_async(status="completed")
        except TwilioError as exc:
            if exc.code != CALL_ALREADY_OVER:
                raise

    async def redirect(self, call_sid: str, twiml: str) -> None:
        """Replace what the live call is doing with new TwiML (ends its media stream)."""
        async with self._client() as client:
            await client.calls(call_sid).update_async(twiml=twiml)

    async def configure_number(self, number: str, voice_url: str, status_callback: str) -> str:
        """Point an owned number's Voice URL and status callback at us; returns its PN sid."""
        async with self._client() as client:
            found = await client.incoming_phone_numbers.list_async(phone_number=number, limit=1)
            if not found:
                raise TwilioError(f"{number} is not a phone number of Twilio account {self.account.account_sid}")
            sid = str(found[0].sid)
            await client.incoming_phone_numbers(sid).update_async(
                voice_url=voice_url, voice_method="POST",
                status_callback=status_callback, status_callback_method="POST",
            )
        return sid


class TwilioCallControl:
    """`CallControl` of one live call over REST."""

    def __init__(self, rest: TwilioRest, call_sid: str) -> None:
        self._rest = rest
        self.call_sid = call_sid

    async def hang_up(self) -> None:
        await self._rest.hang_up(self.call_sid)

    async def redirect(self, twiml: str) -> None:
        await self._rest.redirect(self.call_sid, twiml)
