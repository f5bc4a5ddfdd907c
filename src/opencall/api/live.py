"""Live call endpoints: the `vapi.websocket` transport socket at `/{callId}/transport`.

The socket URL is the capability, as in Vapi: it carries the call's unguessable id and is handed
only to the org that created the call. A call can be connected once, while it is `queued`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, WebSocket, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from opencall.engine.session import AudioFormat, CallSetup
from opencall.errors import BadRequest
from opencall.settings import Settings
from opencall.store import tables
from opencall.store.call_assistant import resolve_call_assistant
from opencall.store.call_sink import StoredCallSink, claim_call
from opencall.store.recordings import CallRecorder, RecordingFailed, artifact_fields, recorder_for, upload_recording
from opencall.store.tables import utcnow
from opencall.webhooks.hub import WebhookHub
from opencall.webhooks.publisher import CallPublisher
from opencall.webhooks.report import finish_call
from opencall.webhooks.tool_runner import ServerToolRunner

log = logging.getLogger(__name__)

router = APIRouter(tags=["Live calls"])


async def end_before_start(sessions: async_sessionmaker[AsyncSession], call_id: str, reason: str) -> None:
    sink = StoredCallSink(sessions, call_id)
    await sink.ended(reason, utcnow(), [], {}, None)


@router.websocket("/{call_id}/transport")
async def call_transport(websocket: WebSocket, call_id: str) -> None:
    settings: Settings = websocket.app.state.settings
    sessions: async_sessionmaker[AsyncSession] = websocket.app.state.sessions
    hub: WebhookHub = websocket.app.state.webhooks
    if not await claim_call(sessions, call_id, "vapi.websocketCall", owner=hub.owner):
        # Unknown id, another transport, or already connected/ended: refuse before accepting.
        await websocket.close(
            code=status.WS_1008_POLICY_VIOLATION, reason="call is not queued for this transport"
        )
        return
    async with sessions() as session:
        row = await session.get(tables.Call, call_id)
        assert row is not None
        try:
            assistant = await resolve_call_assistant(session, row.org_id, row.data)
        except BadRequest as exc:
            await end_before_start(sessions, call_id, "assistant-not-found")
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=str(exc)[:120])
            hub.spawn(finish_call(hub, settings, call_id))
            return
        call = {"id": row.id, "orgId": row.org_id, **row.data}
        audio = (row.data.get("transport") or {}).get("audioFormat") or {}
        setup = CallSetup(
            call_id=call_id,
            org_id=row.org_id,
            assistant=assistant,
            audio_format=AudioFormat(
                encoding=audio.get("format", "pcm_s16le"), sample_rate=int(audio.get("sampleRate", 16000))
            ),
            started_at=datetime.now(UTC),
        )
    from opencall.transports.websocket import serve_vapi_websocket

    publisher = await hub.publisher_for(call, assistant)
    sink = StoredCallSink(sessions, call_id, settings.price_per_minute_transport, on_event=publisher.publish)
    recorder = recorder_for(assistant, settings, call)
    heartbeat = asyncio.create_task(hub.heartbeat(call_id))
    await websocket.accept()
    try:
        await serve_vapi_websocket(
            websocket, setup, sink, ServerToolRunner(publisher), settings=settings, recorder=recorder
        )
    finally:
        heartbeat.cancel()
        # Recording files and analysis take seconds; the socket is closed already, the report follows.
        hub.spawn(finish_and_close(hub, settings, call, publisher, recorder))


async def finish_and_close(
    hub: WebhookHub, settings: Settings, call: dict[str, Any], publisher: CallPublisher, recorder: CallRecorder | None
) -> None:
    try:
        if recorder is not None:
            await store_recording(hub, settings, call, recorder)
        await finish_call(hub, settings, call["id"], publisher)
    finally:
        await publisher.close()


async def store_recording(hub: WebhookHub, settings: Settings, call: dict[str, Any], recorder: CallRecorder) -> None:
    """Write the WAVs, put their URLs in the call's artifact, and upload to a launch-contract `recordingUrl`."""
    try:
        files = await recorder.finish()
    except RecordingFailed:
        log.exception("recording of call %s could not be written", call["id"])
        return
    fields = artifact_fields(files, settings.base_url, call["id"])
    upload = await upload_recording(files, call["recordingUrl"]) if call.get("recordingUrl") else None
    async with hub.sessions() as session:
        row = await session.get(tables.Call, call["id"])
        if row is not None:
            data = {**row.data, "artifact": {**(row.data.get("artifact") or {}), **fields}}
            if upload is not None:
                data["recordingUpload"] = upload
            row.data = data
            await session.commit()
