"""`GET /call/{id}/*-recording` and `/call-logs`: a 302 to a signed URL, the right bytes, org isolation."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from vapi import Vapi
from vapi.core.api_error import ApiError

from opencall.api.recordings import signed_url
from opencall.store import tables
from opencall.store.call_logs import flush_call_logs
from opencall.store.call_sink import StoredCallSink
from opencall.store.db import create_engine_for, session_factory
from opencall.store.recordings import RecordingFiles, artifact_fields, recorder_for
from opencall.store.resources import Repository
from opencall.store.secrets_box import SecretBox
from tests.conftest import OrgKeys, RunningServer

AUDIO = Path(__file__).parents[1] / "fixtures" / "audio"
ROUTES = {
    "mono": "mono-recording",
    "stereo": "stereo-recording",
    "customer": "customer-recording",
    "assistant": "assistant-recording",
}


@dataclass
class RecordedCall:
    id: str
    org: OrgKeys
    recording: RecordingFiles | None

    @property
    def files(self) -> RecordingFiles:
        assert self.recording is not None, "this call was not recorded"
        return self.recording


def clip(name: str) -> bytes:
    import wave

    with wave.open(str(AUDIO / f"piper-joe_{name}.wav"), "rb") as wav:
        return wav.readframes(wav.getnframes())


async def record_call(server: RunningServer, org: OrgKeys, with_recording: bool = True) -> RecordedCall:
    """A finished web call of `org`, recorded the way the engine records one, stored through the sink."""
    engine = create_engine_for(server.settings)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            row = await Repository(session, tables.Call, org.org_id, "Call").create(
                {"type": "webCall", "status": "in-progress"}, type="webCall", status="in-progress"
            )
            await session.commit()
        call = {"id": row.id, "orgId": org.org_id}
        assistant = {"artifactPlan": {"recordingEnabled": with_recording}}
        recorder = recorder_for(assistant, server.settings, call)
        artifact: dict[str, object] = {"transcript": "User: hello"}
        files = None
        if recorder is not None:
            caller, reply = clip("s1"), clip("s2")
            for offset in range(0, len(caller), 640):
                recorder.caller(caller[offset : offset + 640], 16000, 0.2 + offset / 32000)
            for offset in range(0, len(reply), 640):
                recorder.assistant(reply[offset : offset + 640], 16000, 4.0 + offset / 32000)
            files = await recorder.finish()
            artifact.update(artifact_fields(files, server.base_url, row.id))
        sink = StoredCallSink(sessions, row.id)
        await sink.ended("customer-ended-call", datetime.now(UTC), [], artifact, None)
        return RecordedCall(row.id, org, files)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def org(server: RunningServer) -> OrgKeys:
    return server.new_org()


@pytest.fixture(scope="module")
def recorded(server: RunningServer, org: OrgKeys) -> RecordedCall:
    return asyncio.run(record_call(server, org))


def client(server: RunningServer, key: str, follow: bool = False) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, follow_redirects=follow, timeout=30
    )


def test_call_artifact_points_at_the_download_routes(server: RunningServer, recorded: RecordedCall) -> None:
    with client(server, recorded.org.private_key) as api:
        call = api.get(f"/call/{recorded.id}").json()
    base = f"{server.base_url}/call/{recorded.id}"
    assert call["artifact"]["recordingUrl"] == f"{base}/mono-recording"
    assert call["artifact"]["stereoRecordingUrl"] == f"{base}/stereo-recording"
    assert call["artifact"]["recording"]["mono"]["customerUrl"] == f"{base}/customer-recording"


@pytest.mark.parametrize("kind", list(ROUTES))
def test_download_redirects_to_a_signed_url_with_the_exact_bytes(
    server: RunningServer, recorded: RecordedCall, kind: str
) -> None:
    with client(server, recorded.org.private_key) as api:
        redirect = api.get(f"/call/{recorded.id}/{ROUTES[kind]}")
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(f"{server.base_url}/recordings/signed/")
    with httpx.Client(timeout=30) as anonymous:  # the signed URL needs no key
        download = anonymous.get(location)
    assert download.status_code == 200
    assert download.headers["content-type"] == "audio/wav"
    assert download.content == recorded.files.path(kind).read_bytes()


def test_the_official_sdk_follows_the_redirect(server: RunningServer, recorded: RecordedCall) -> None:
    vapi = Vapi(token=recorded.org.private_key, base_url=server.base_url)
    raw = vapi.calls.with_raw_response.call_artifact_controller_stereo_recording_download(recorded.id)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "audio/wav"
    assert int(raw.headers["content-length"]) == recorded.files.stereo.stat().st_size


@pytest.mark.parametrize("route", [*ROUTES.values(), "call-logs"])
def test_another_orgs_call_is_not_found(server: RunningServer, recorded: RecordedCall, route: str) -> None:
    with client(server, server.new_org().private_key) as api:
        response = api.get(f"/call/{recorded.id}/{route}")
    assert response.status_code == 404
    assert response.json() == {"message": "Call not found", "error": "Not Found", "statusCode": 404}


def test_sdk_raises_not_found_for_another_org(server: RunningServer, recorded: RecordedCall) -> None:
    vapi = Vapi(token=server.new_org().private_key, base_url=server.base_url)
    with pytest.raises(ApiError) as raised:
        vapi.calls.call_artifact_controller_mono_recording_download(recorded.id)
    assert raised.value.status_code == 404


def test_download_without_a_key_is_unauthorized(server: RunningServer, recorded: RecordedCall) -> None:
    response = httpx.get(f"{server.base_url}/call/{recorded.id}/mono-recording")
    assert response.status_code == 401


def test_call_without_a_recording_is_not_found(server: RunningServer, org: OrgKeys) -> None:
    unrecorded = asyncio.run(record_call(server, org, with_recording=False))
    with client(server, org.private_key) as api:
        response = api.get(f"/call/{unrecorded.id}/mono-recording")
    assert response.status_code == 404
    assert response.json()["message"] == "Recording not found"


def signed_location(server: RunningServer, recorded: RecordedCall) -> str:
    with client(server, recorded.org.private_key) as api:
        return str(api.get(f"/call/{recorded.id}/mono-recording").headers["location"])


def test_forged_signature_is_forbidden(server: RunningServer, recorded: RecordedCall) -> None:
    location = signed_location(server, recorded)
    query = parse_qs(urlsplit(location).query)
    forged = location.replace(query["signature"][0], "0" * 64)
    stretched = location.replace(f"expires={query['expires'][0]}", f"expires={int(query['expires'][0]) + 3600}")
    elsewhere = location.replace("/mono", "/stereo")
    for url in (forged, stretched, elsewhere):
        response = httpx.get(url)
        assert response.status_code == 403, url
        assert response.json() == {"message": "Invalid signature", "error": "Forbidden", "statusCode": 403}


def test_expired_signature_is_forbidden(server: RunningServer, recorded: RecordedCall) -> None:
    key = SecretBox.from_settings(server.settings).derive_key("recording-urls")
    url = signed_url(key, server.base_url, recorded.org.org_id, recorded.id, "mono", now=time.time() - 3600)
    response = httpx.get(url)
    assert response.status_code == 403
    assert response.json()["message"] == "Signed URL expired"


def test_call_logs_are_the_lines_logged_with_the_call_id(server: RunningServer, recorded: RecordedCall) -> None:
    # The server's lifespan installed the per-call log handler on the "opencall" logger.
    marker = uuid.uuid4().hex
    call_log = logging.LoggerAdapter(logging.getLogger("opencall.engine"), {"call_id": recorded.id})
    call_log.warning("turn released %s", marker)
    logging.getLogger("opencall.engine").warning("another call's line %s", marker)  # no call id: not kept
    flush_call_logs()
    with client(server, recorded.org.private_key, follow=True) as api:
        response = api.get(f"/call/{recorded.id}/call-logs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    mine = [line for line in lines if marker in line["message"]]
    assert [(line["level"], line["logger"], line["message"]) for line in mine] == [
        ("WARNING", "opencall.engine", f"turn released {marker}")
    ]


def test_recording_dir_is_scoped_by_org(server: RunningServer, recorded: RecordedCall) -> None:
    expected = Path(server.settings.data_dir) / "recordings" / recorded.org.org_id / recorded.id
    assert recorded.files.directory == expected
