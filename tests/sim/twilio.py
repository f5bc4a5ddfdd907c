"""A Twilio simulator on loopback: REST API, signed webhooks, TwiML and Media Streams as documented.

Grown from the experiment in shared/reference/transports.md §2.7; everything it sends and accepts
follows §2.1-2.5:

- REST: `POST /2010-04-01/Accounts/{Sid}/Calls.json` (create), `.../Calls/{CallSid}.json` (update:
  `Status=completed|canceled`, `Twiml`, `Url`; 404/20404 once the call is over), `GET|POST
  .../IncomingPhoneNumbers[/{Sid}].json` (list by `PhoneNumber`, update `VoiceUrl`/`StatusCallback`).
  HTTP Basic with `AccountSid:AuthToken` or `SK...:secret`; failures carry Twilio's error JSON.
- Webhooks are form POSTs signed with `X-Twilio-Signature` by the account's auth token, computed
  by the `twilio` SDK's own `RequestValidator`: status callbacks (`initiated`, `ringing`,
  `answered`, `completed` with `SequenceNumber`), the TwiML fetch (`Url`, or the number's
  `VoiceUrl` for an inbound call).
- TwiML: `<Connect><Stream url>` with `<Parameter>`s runs a `MediaStream` (tests/sim/twilio_media.py);
  `<Say>`, `<Play digits>`, `<Pause>`, `<Dial>`, `<Redirect>`, `<Hangup>` are executed and recorded.
- What happens to an outbound call is scripted per destination number with `Outcome`: answered by
  a human (a callee coroutine drives the media stream), by a machine (AMD `AnsweredBy`), busy,
  no-answer, failed, or left queued.

    python -m tests.sim.twilio --port 8791 --account AC... --token secret --number +15550001111
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Mapping
from email.utils import formatdate
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from tests.sim.server import port_argument, serve_asgi
from tests.sim.twilio_media import MediaStream, sid
from tests.sim.twilio_resources import (
    API,
    TERMINAL,
    Account,
    Callback,
    Callee,
    Number,
    Outcome,
    SimCall,
    twilio_error,
)

__all__ = ["Account", "Callee", "Number", "Outcome", "SimCall", "SimPhoneLine", "TwilioSim", "serve_in_thread"]


class TwilioSim:
    """Twilio on loopback. `permissive=True` accepts any credentials and leaves unscripted calls queued
    (a stand-in for tests that only need the REST answers)."""

    def __init__(self, *, permissive: bool = False, default: Outcome | None = None) -> None:
        self.permissive = permissive
        self.default = default or Outcome(answer="queued" if permissive else "human")
        self.accounts: dict[str, Account] = {}
        self.numbers: dict[str, Number] = {}
        self.calls: dict[str, SimCall] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.requests: list[tuple[str, str, int]] = []
        """(method, path, status) of every REST request."""
        self.base_url = ""
        self._tasks: set[asyncio.Task[None]] = set()
        self._http = httpx.AsyncClient(timeout=15)
        api = API.format(account="{account}")
        self.app = Starlette(
            routes=[
                Route(f"{api}/Calls.json", self._create_call, methods=["POST"]),
                Route(f"{api}/Calls/{{call}}.json", self._call, methods=["GET", "POST"]),
                Route(f"{api}/IncomingPhoneNumbers.json", self._list_numbers, methods=["GET"]),
                Route(f"{api}/IncomingPhoneNumbers/{{number}}.json", self._number, methods=["GET", "POST"]),
            ]
        )

    # --- setup ----------------------------------------------------------------------------

    def add_account(self, auth_token: str | None = None, account_sid: str | None = None) -> Account:
        account = Account(account_sid or sid("AC"), auth_token or uuid.uuid4().hex)
        self.accounts[account.sid] = account
        return account

    def add_api_key(self, account: Account) -> tuple[str, str]:
        key, secret = sid("SK"), uuid.uuid4().hex
        account.api_keys[key] = secret
        return key, secret

    def add_number(self, account: Account, phone_number: str) -> Number:
        number = Number(sid("PN"), account.sid, phone_number)
        self.numbers[number.sid] = number
        return number

    def script(self, to: str, outcome: Outcome) -> None:
        """How the far end at `to` answers the next outbound calls."""
        self.outcomes[to] = outcome

    @contextlib.asynccontextmanager
    async def serve(self, port: int = 0) -> AsyncIterator[str]:
        """`async with sim.serve() as url:` -> url is the API base (`cloud_base_urls["twilio"]`)."""
        async with serve_asgi(self.app, port) as url:
            self.base_url = url
            try:
                yield url
            finally:
                for task in list(self._tasks):
                    task.cancel()
                await self._http.aclose()
                self._http = httpx.AsyncClient(timeout=15)

    async def wait_call(self, to: str | None = None, timeout: float = 10.0) -> SimCall:
        """The latest call (to `to`, if given) created so far, or the first within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in reversed(self.calls.values()):
                if to is None or call.to == to:
                    return call
            await asyncio.sleep(0.02)
        raise TimeoutError(f"no call to {to or 'anyone'} within {timeout} s")

    def number_by(self, phone_number: str) -> Number:
        return next(n for n in self.numbers.values() if n.phone_number == phone_number)

    # --- inbound --------------------------------------------------------------------------

    async def place_inbound(self, to: Number | str, from_: str, callee: Callee | None = None) -> SimCall:
        """A caller dials one of the account's numbers: Twilio POSTs its Voice URL and runs the TwiML."""
        number = to if isinstance(to, Number) else self.number_by(to)
        if not number.voice_url:
            raise RuntimeError(f"{number.phone_number} has no Voice URL configured")
        account = self.accounts[number.account_sid]
        call = SimCall(
            sid("CA"),
            account,
            number.phone_number,
            from_,
            "inbound",
            status="ringing",
            status_callback=number.status_callback,
            callback_events=("completed",),
        )
        self.calls[call.sid] = call
        call.answered_at = time.monotonic()
        call.runner = self._spawn(self._execute_from(call, number.voice_url, Outcome(callee=callee)))
        return call

    # --- REST -----------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> Account | JSONResponse:
        account_sid = request.path_params["account"]
        auth = request.headers.get("authorization", "")
        username = password = ""
        if auth.lower().startswith("basic "):
            import base64

            with contextlib.suppress(ValueError, UnicodeDecodeError):
                username, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        account = self.accounts.get(account_sid)
        if account is None and self.permissive and username and password:
            account = Account(account_sid, password if username == account_sid else uuid.uuid4().hex)
            if username.startswith("SK"):
                account.api_keys[username] = password
            self.accounts[account_sid] = account
        if account is None:
            return twilio_error(401, 20003, "Authenticate")
        if username == account.sid and password == account.auth_token:
            return account
        if username in account.api_keys and account.api_keys[username] == password:
            return account
        if self.permissive and username.startswith("SK") and password:
            account.api_keys[username] = password
            return account
        return twilio_error(401, 20003, "Authenticate")

    async def _create_call(self, request: Request) -> Response:
        account = self._authenticate(request)
        form = await request.form()
        fields = {k: [str(v) for v in form.getlist(k)] for k in form.keys()}
        self.requests.append(("POST", request.url.path, 0))
        if isinstance(account, Response):
            return account
        one = {k: v[0] for k, v in fields.items()}
        if not one.get("To"):
            return twilio_error(400, 21201, "No 'To' number is specified")
        if not one.get("From"):
            return twilio_error(400, 21213, "No 'From' number is specified")
        if sum(bool(one.get(k)) for k in ("Url", "Twiml", "ApplicationSid")) != 1:
            return twilio_error(400, 21205, "Exactly one of Url, Twiml or ApplicationSid is required")
        owned = [n.phone_number for n in self.numbers.values() if n.account_sid == account.sid]
        if not self.permissive and one["From"] not in owned:
            return twilio_error(
                400, 21210, f"The source phone number provided, {one['From']}, is not yet verified for your account."
            )
        events = tuple(fields.get("StatusCallbackEvent") or ["completed"])
        call = SimCall(
            sid("CA"),
            account,
            one["To"],
            one["From"],
            "outbound-api",
            params=fields,
            status_callback=one.get("StatusCallback"),
            callback_events=events,
        )
        self.calls[call.sid] = call
        call.runner = self._spawn(self._run_outbound(call, self.outcomes.get(call.to, self.default)))
        return JSONResponse(call.resource(), status_code=201)

    async def _call(self, request: Request) -> Response:
        account = self._authenticate(request)
        if isinstance(account, Response):
            return account
        call = self.calls.get(request.path_params["call"])
        path = request.url.path
        if call is None or call.account.sid != account.sid:
            return twilio_error(404, 20404, f"The requested resource {path} was not found")
        if request.method == "GET":
            return JSONResponse(call.resource())
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.requests.append(("POST", path, 0))
        if call.status in TERMINAL:
            return twilio_error(404, 20404, f"The requested resource {path} was not found")
        call.updates.append(form)
        if form.get("Status") in ("completed", "canceled"):
            self._spawn(self._end(call, "api", "completed" if call.answered_at else "canceled"))
        elif form.get("Twiml") or form.get("Url"):
            call.runner = self._spawn(self._redirect(call, call.runner, form.get("Twiml"), form.get("Url")))
        return JSONResponse(call.resource())

    async def _list_numbers(self, request: Request) -> Response:
        account = self._authenticate(request)
        if isinstance(account, Response):
            return account
        wanted = request.query_params.get("PhoneNumber")
        found = [
            n
            for n in self.numbers.values()
            if n.account_sid == account.sid and (wanted is None or n.phone_number == wanted)
        ]
        if not found and wanted and self.permissive:
            found = [self.add_number(account, wanted)]
        return JSONResponse(
            {
                "incoming_phone_numbers": [n.resource() for n in found],
                "page": 0,
                "page_size": 50,
                "start": 0,
                "end": len(found) - 1,
                "first_page_uri": request.url.path,
                "next_page_uri": None,
                "previous_page_uri": None,
                "uri": request.url.path,
            }
        )

    async def _number(self, request: Request) -> Response:
        account = self._authenticate(request)
        if isinstance(account, Response):
            return account
        number = self.numbers.get(request.path_params["number"])
        if number is None or number.account_sid != account.sid:
            return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")
        if request.method == "POST":
            form = {k: str(v) for k, v in (await request.form()).items()}
            number.voice_url = form.get("VoiceUrl", number.voice_url)
            number.voice_method = form.get("VoiceMethod", number.voice_method)
            number.status_callback = form.get("StatusCallback", number.status_callback)
            number.status_callback_method = form.get("StatusCallbackMethod", number.status_callback_method)
        return JSONResponse(number.resource())

    # --- a call's life --------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Future[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_outbound(self, call: SimCall, outcome: Outcome) -> None:
        if outcome.answer == "queued":
            return
        await asyncio.sleep(0.01)
        await self._status(call, "initiated")
        await self._status(call, "ringing")
        await asyncio.sleep(outcome.ring_seconds)
        if outcome.answer in ("busy", "no-answer", "failed"):
            await self._end(call, outcome.answer, outcome.answer, sip=outcome.sip_response_code)
            return
        amd = call.param("MachineDetection")
        if amd:
            call.answered_by = outcome.answered_by if outcome.answer == "machine" else "human"
        call.answered_at = time.monotonic()
        await self._status(call, "in-progress")
        url = call.param("Url")
        if url:
            await self._execute_from(call, url, outcome)
        else:
            await self._execute(call, call.param("Twiml") or "", outcome)

    async def _execute_from(self, call: SimCall, url: str, outcome: Outcome) -> None:
        status, body = await self._post_signed(call, url, self._call_params(call), call.twiml_fetches)
        if status is None or not 200 <= status < 300:
            # Twilio would play "an application error has occurred" and hang up.
            await self._end(call, "twiml-fetch-failed", "completed")
            return
        await self._execute(call, body, outcome)

    async def _execute(self, call: SimCall, document: str, outcome: Outcome) -> None:
        call.twiml.append(document)
        try:
            root = ET.fromstring(document)
        except ET.ParseError:
            await self._end(call, "twiml-invalid", "completed")
            return
        for verb in root:
            if call.status in TERMINAL:
                return
            if verb.tag == "Connect":
                stream = verb.find("Stream")
                if stream is not None:
                    await self._stream(call, stream, outcome)
            elif verb.tag == "Say":
                call.said.append((verb.text or "").strip())
                await asyncio.sleep(0.05)
            elif verb.tag == "Play" and verb.get("digits"):
                call.played_digits.append(verb.get("digits", ""))
            elif verb.tag == "Pause":
                await asyncio.sleep(min(float(verb.get("length", "1")), 0.2))
            elif verb.tag == "Dial":
                targets = [(n.text or "").strip() for n in verb if n.tag in ("Number", "Sip")]
                call.dialed.extend(targets or [(verb.text or "").strip()])
                await asyncio.sleep(0.1)  # the dialed party talks, then everybody hangs up
                await self._end(call, "dial", "completed")
                return
            elif verb.tag == "Redirect":
                await self._execute_from(call, (verb.text or "").strip(), outcome)
                return
            elif verb.tag == "Hangup":
                await self._end(call, "twiml", "completed")
                return
        await self._end(call, "twiml", "completed")

    async def _stream(self, call: SimCall, element: ET.Element, outcome: Outcome) -> None:
        parameters = {p.get("name", ""): p.get("value", "") for p in element.findall("Parameter")}
        stream = MediaStream(element.get("url", ""), call.sid, call.account.sid, parameters)
        call.streams.append(stream)
        runner = asyncio.create_task(stream.run())
        connected = asyncio.create_task(stream.connected.wait())
        await asyncio.wait({runner, connected}, return_when=asyncio.FIRST_COMPLETED)
        connected.cancel()
        call.stream_started.set()
        driver: asyncio.Future[None] | None = (
            asyncio.ensure_future(outcome.callee(call)) if outcome.callee and stream.connected.is_set() else None
        )
        try:
            await runner
        finally:
            if driver is not None and not driver.done():
                driver.cancel()
        if stream.closed_by == "callee":
            await self._end(call, "callee", "completed")

    async def _redirect(
        self, call: SimCall, running: asyncio.Future[None] | None, twiml: str | None, url: str | None
    ) -> None:
        # New instructions replace the running ones: the stream ends as Twilio ends it (stop, close).
        if running is not None:
            running.cancel()
        for stream in call.streams:
            await stream.close("twilio")
        await asyncio.sleep(0.05)
        if call.status in TERMINAL:
            return
        if twiml:
            await self._execute(call, twiml, Outcome())
        elif url:
            await self._execute_from(call, url, Outcome())

    async def _end(self, call: SimCall, by: str, status: str, sip: int | None = None) -> None:
        if call.status in TERMINAL or call.ended_by is not None:
            return  # the first ending wins; closing the stream below lets the TwiML runner try again
        call.ended_by = by
        for stream in call.streams:
            await stream.close("twilio" if by != "callee" else "callee")
        extra = {"SipResponseCode": str(sip)} if sip else {}
        if call.answered_at is not None and status == "completed":
            extra["CallDuration"] = str(max(1, round(time.monotonic() - call.answered_at)))
        await self._status(call, status, extra)
        call.done.set()

    async def _status(self, call: SimCall, status: str, extra: Mapping[str, str] | None = None) -> None:
        call.status = status
        event = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}.get(status, "completed")
        if not call.status_callback or event not in call.callback_events:
            return
        await self.send_callback(call, status, extra)

    async def send_callback(
        self,
        call: SimCall,
        status: str,
        extra: Mapping[str, str] | None = None,
        sequence_number: int | None = None,
        signature: str | None = None,
    ) -> int | None:
        """POST a status callback as Twilio would (tests may replay one late, or forge its signature)."""
        params = self._call_params(call) | {
            "CallStatus": status,
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(call.sequence if sequence_number is None else sequence_number),
            "Timestamp": formatdate(usegmt=True),
            **(extra or {}),
        }
        if sequence_number is None:
            call.sequence += 1
        assert call.status_callback
        status_code, _ = await self._post_signed(call, call.status_callback, params, call.callbacks, signature)
        return status_code

    def _call_params(self, call: SimCall) -> dict[str, str]:
        params = {
            "CallSid": call.sid,
            "AccountSid": call.account.sid,
            "From": call.from_,
            "To": call.to,
            "Caller": call.from_,
            "Called": call.to,
            "CallStatus": call.status,
            "ApiVersion": "2010-04-01",
            "Direction": call.direction,
            "ForwardedFrom": "",
            "CallerName": "",
        }
        if call.answered_by:
            params["AnsweredBy"] = call.answered_by
        return params

    async def _post_signed(
        self, call: SimCall, url: str, params: dict[str, str], log: list[Callback], signature: str | None = None
    ) -> tuple[int | None, str]:
        signed = RequestValidator(call.account.auth_token).compute_signature(url, params)
        headers = {"X-Twilio-Signature": signature or signed, "User-Agent": "TwilioProxy/1.1"}
        try:
            response = await self._http.post(url, data=params, headers=headers)
        except httpx.HTTPError:
            log.append(Callback(url, params, None))
            return None, ""
        log.append(Callback(url, params, response.status_code))
        return response.status_code, response.text


class SimPhoneLine:
    """OpenCall and this simulator joined by one Twilio number: place calls with a scripted far end.

    For tests and bench/voice_to_voice.py. OpenCall must run with `cloud_base_urls["twilio"]` set to
    `sim.base_url` (env `OPENCALL_CLOUD_BASE_URLS='{"twilio": "<url>"}'`) and a public URL the simulator
    can reach.

        line = SimPhoneLine(sim, "http://127.0.0.1:8000", private_key)
        await line.connect()
        ended, sim_call = await line.call(assistant_id, callee)   # callee(sim_call) drives sim_call.stream
    """

    def __init__(self, sim: TwilioSim, api_url: str, api_key: str) -> None:
        self.sim = sim
        self._http = httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
        self.account = sim.add_account()
        self.number = sim.add_number(self.account, f"+1555{uuid.uuid4().int % 10**7:07d}")

    async def connect(self) -> dict[str, Any]:
        """Import the number into OpenCall (which points its Voice URL back at itself)."""
        body = {"provider": "twilio", "number": self.number.phone_number, "twilioAccountSid": self.account.sid,
                "twilioAuthToken": self.account.auth_token}
        response = await self._http.post("/phone-number", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def call(
        self, assistant_id: str, callee: Callee | None = None, outcome: Outcome | None = None, timeout: float = 300.0
    ) -> tuple[dict[str, Any], SimCall]:
        """`POST /call {to, from, assistantId}`; a human answers and runs `callee` (or `outcome` happens).

        Returns the ended call as OpenCall stores it, and the simulator's record of it.
        """
        to = f"+1556{uuid.uuid4().int % 10**7:07d}"
        self.sim.script(to, outcome or Outcome(answer="human", callee=callee))
        response = await self._http.post("/call", json={"to": to, "from": self.number.phone_number,
                                                        "assistantId": assistant_id})
        response.raise_for_status()
        call_id = response.json()["id"]
        sim_call = await self.sim.wait_call(to)
        await asyncio.wait_for(sim_call.done.wait(), timeout)
        for _ in range(200):  # OpenCall stores the end a moment after Twilio's `completed`
            ended: dict[str, Any] = (await self._http.get(f"/call/{call_id}")).json()
            if ended.get("status") == "ended":
                break
            await asyncio.sleep(0.05)
        return ended, sim_call

    async def aclose(self) -> None:
        await self._http.aclose()


def serve_in_thread(sim: TwilioSim) -> str:
    """Serve on a daemon thread with its own event loop (for sync fixtures); returns the API base URL."""
    import threading

    import uvicorn

    from tests.sim.server import bound_socket

    sock = bound_socket()
    server = uvicorn.Server(uvicorn.Config(sim.app, log_level="warning", lifespan="off", ws="none"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="twilio-sim").start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    sim.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    return sim.base_url


async def _main() -> None:
    parser = port_argument("Twilio simulator: REST, signed webhooks, TwiML, Media Streams")
    parser.add_argument("--account", default=None, help="account SID (default: a new AC...)")
    parser.add_argument("--token", default=None, help="auth token (default: a new one)")
    parser.add_argument("--number", action="append", default=[], help="a number the account owns (repeatable)")
    parser.add_argument("--permissive", action="store_true", help="accept any credentials; calls stay queued")
    args = parser.parse_args()
    sim = TwilioSim(permissive=args.permissive)
    account = sim.add_account(args.token, args.account)
    for number in args.number:
        sim.add_number(account, number)
    async with sim.serve(args.port) as url:
        print(f"Twilio simulator at {url}\n  account: {account.sid}\n  token:   {account.auth_token}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
