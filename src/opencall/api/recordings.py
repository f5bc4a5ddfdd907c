"""Vapi's CallArtifactController: recording and log downloads, answered with a 302 to a signed URL.

`GET /call/{id}/mono-recording` (and stereo, customer, assistant, call-logs) checks the private key
and the call's org like every route, then redirects to `/recordings/signed/<org>/<call>/<kind>`
carrying an expiry and an HMAC of path and expiry. That URL needs no key, so it can be handed to a
browser or a media player; it works for `SIGNED_URL_TTL_SECONDS`. Vapi does the same with S3
presigned URLs, and its SDKs follow the redirect.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, RedirectResponse

from opencall.api.deps import Context, Ctx
from opencall.errors import Forbidden, NotFound
from opencall.settings import Settings
from opencall.store import tables
from opencall.store.call_logs import call_log_path, flush_call_logs
from opencall.store.recordings import FILE_NAMES, recording_dir
from opencall.store.resources import Repository
from opencall.store.secrets_box import SecretBox

router = APIRouter(tags=["Calls"])

SIGNED_URL_TTL_SECONDS = 300
"""Life of a download link; long enough to start any download, short enough that a leaked link dies soon."""
SIGNED_PREFIX = "/recordings/signed"
MEDIA_TYPES = {"logs": "application/x-ndjson", **{kind: "audio/wav" for kind in FILE_NAMES}}
REDIRECT: dict[int | str, dict[str, Any]] = {
    302: {"description": "Redirect to a short-lived signed URL of the file (no key needed there)"}
}


def signing_key(request: Request) -> bytes:
    """Derived once per app from the secret key, so links survive a restart but not a key rotation."""
    key: bytes | None = getattr(request.app.state, "recording_url_key", None)
    if key is None:
        key = SecretBox.from_settings(request.app.state.settings).derive_key("recording-urls")
        request.app.state.recording_url_key = key
    return key


def signature(key: bytes, path: str, expires: int) -> str:
    return hmac.new(key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(key: bytes, base_url: str, org_id: str, call_id: str, kind: str, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + SIGNED_URL_TTL_SECONDS)
    path = f"{SIGNED_PREFIX}/{org_id}/{call_id}/{kind}"
    return f"{base_url.rstrip('/')}{path}?expires={expires}&signature={signature(key, path, expires)}"


def artifact_path(settings: Settings, org_id: str, call_id: str, kind: str) -> Path:
    if kind == "logs":
        return call_log_path(settings, call_id)
    return recording_dir(settings, org_id, call_id) / FILE_NAMES[kind]


async def redirect(request: Request, c: Ctx, call_id: str, kind: str) -> RedirectResponse:
    await Repository(c.session, tables.Call, c.org_id, "Call").get(call_id)
    path = artifact_path(c.settings, c.org_id, call_id, kind)
    if kind == "logs":
        await asyncio.to_thread(flush_call_logs)
    if not path.is_file():
        raise NotFound("Call logs not found" if kind == "logs" else "Recording not found")
    url = signed_url(signing_key(request), c.settings.base_url, c.org_id, call_id, kind)
    return RedirectResponse(url, status_code=302)


@router.get(
    "/call/{id}/mono-recording", operation_id="CallArtifactController_monoRecordingDownload",
    status_code=302, response_class=RedirectResponse, responses=REDIRECT,
)
async def mono_recording(id: str, request: Request, c: Context) -> RedirectResponse:
    """The customer and the assistant mixed, WAV (16-bit PCM)."""
    return await redirect(request, c, id, "mono")


@router.get(
    "/call/{id}/stereo-recording", operation_id="CallArtifactController_stereoRecordingDownload",
    status_code=302, response_class=RedirectResponse, responses=REDIRECT,
)
async def stereo_recording(id: str, request: Request, c: Context) -> RedirectResponse:
    """Customer on the left channel, assistant on the right, WAV (16-bit PCM)."""
    return await redirect(request, c, id, "stereo")


@router.get(
    "/call/{id}/customer-recording", operation_id="CallArtifactController_customerRecordingDownload",
    status_code=302, response_class=RedirectResponse, responses=REDIRECT,
)
async def customer_recording(id: str, request: Request, c: Context) -> RedirectResponse:
    """The customer's side alone, WAV (16-bit PCM)."""
    return await redirect(request, c, id, "customer")


@router.get(
    "/call/{id}/assistant-recording", operation_id="CallArtifactController_assistantRecordingDownload",
    status_code=302, response_class=RedirectResponse, responses=REDIRECT,
)
async def assistant_recording(id: str, request: Request, c: Context) -> RedirectResponse:
    """The assistant's side alone, WAV (16-bit PCM)."""
    return await redirect(request, c, id, "assistant")


@router.get(
    "/call/{id}/call-logs", operation_id="CallArtifactController_callLogsDownload",
    status_code=302, response_class=RedirectResponse, responses=REDIRECT,
)
async def call_logs(id: str, request: Request, c: Context) -> RedirectResponse:
    """The call's log lines, one JSON object per line (time, level, logger, message)."""
    return await redirect(request, c, id, "logs")


@router.get(SIGNED_PREFIX + "/{org_id}/{call_id}/{kind}", include_in_schema=False)
async def signed_download(
    org_id: str,
    call_id: str,
    kind: str,
    request: Request,
    expires: Annotated[int, Query()] = 0,
    signature_: Annotated[str, Query(alias="signature")] = "",
) -> FileResponse:
    if kind not in MEDIA_TYPES:
        raise NotFound(f"Cannot GET {request.url.path}")
    path = f"{SIGNED_PREFIX}/{org_id}/{call_id}/{kind}"
    expected = signature(signing_key(request), path, expires)
    if not hmac.compare_digest(expected, signature_):
        raise Forbidden("Invalid signature")
    if expires < time.time():
        raise Forbidden("Signed URL expired")
    settings: Settings = request.app.state.settings
    try:
        file = artifact_path(settings, org_id, call_id, kind)
    except ValueError as exc:
        raise NotFound("Recording not found") from exc
    if not file.is_file():
        raise NotFound("Recording not found")
    filename = f"{call_id}-{kind}{'.jsonl' if kind == 'logs' else '.wav'}"
    return FileResponse(
        file, media_type=MEDIA_TYPES[kind], filename=filename,
        headers={"Cache-Control": f"private, max-age={max(0, expires - int(time.time()))}"},
    )
