"""The end of a call: analysis, then the `end-of-call-report` (spec fields plus the legacy top-level ones).

Used by a call that ends normally and by recovery after a crash; both work from what was stored,
so a report is the same whichever way the call ended.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from opencall.settings import Settings
from opencall.store import tables

log = logging.getLogger(__name__)

ANALYSIS_FALLBACK_DEADLINE_SECONDS = 30.0
"""Upper bound on analysis when the plan gives no timeouts; the report is never held longer."""


def seconds_between(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    parse = datetime.fromisoformat
    return max((parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds(), 0.0)


def end_of_call_report(call: dict[str, Any]) -> dict[str, Any]:
    artifact = call.get("artifact") or {}
    analysis = call.get("analysis") or {}
    duration = seconds_between(call.get("startedAt"), call.get("endedAt"))
    report: dict[str, Any] = {
        "type": "end-of-call-report",
        "endedReason": call.get("endedReason") or "unknown",
        "artifact": artifact,
        "analysis": analysis,
        "cost": call.get("cost", 0),
        "costs": call.get("costs", []),
        "startedAt": call.get("startedAt"),
        "endedAt": call.get("endedAt"),
        # Legacy top-level copies that much webhook code in the wild still reads (vapi-api.md §4.2).
        "transcript": artifact.get("transcript", ""),
        "summary": analysis.get("summary", ""),
        "messages": artifact.get("messages", call.get("messages", [])),
        "recordingUrl": artifact.get("recordingUrl"),
        "stereoRecordingUrl": artifact.get("stereoRecordingUrl"),
        "durationSeconds": round(duration, 3),
        "durationMs": int(duration * 1000),
        "durationMinutes": round(duration / 60, 4),
        "costBreakdown": call.get("costBreakdown", {}),
    }
    if call.get("endedMessage"):
        report["endedMessage"] = call["endedMessage"]
    if call.get("recordingUpload"):
        # Launch-contract `recordingUrl`: whether the recording reached it (OpenCall extension).
        report["recordingUpload"] = call["recordingUpload"]
    return {k: v for k, v in report.items() if v is not None}


async def run_analysis(call: dict[str, Any], assistant: dict[str, Any], settings: Settings) -> dict[str, Any]:
    from opencall.analysis import analysis_deadline_seconds, analyze_call

    plan = assistant.get("analysisPlan") or {}
    deadline = analysis_deadline_seconds(plan) or ANALYSIS_FALLBACK_DEADLINE_SECONDS
    messages = (call.get("artifact") or {}).get("messages") or call.get("messages") or []
    try:
        return await asyncio.wait_for(
            analyze_call(messages, assistant, settings, ended_reason=call.get("endedReason") or "", call_id=call["id"]),
            deadline,
        )
    except TimeoutError:
        log.warning(
            "analysis of call %s passed its %.0f s deadline; reporting without it", call.get("id"), deadline
        )
    except Exception:
        log.exception("analysis of call %s failed; reporting without it", call.get("id"))
    return {}


async def finish_call(hub: Any, settings: Settings, call_id: str, publisher: Any | None = None) -> None:
    """Analyse an ended call, store the analysis, and queue its end-of-call report after its other messages."""
    from opencall.store.call_assistant import resolve_call_assistant

    async with hub.sessions() as session:
        row = await session.get(tables.Call, call_id)
        if row is None:
            return
        call = {"id": row.id, "orgId": row.org_id, **row.data}
        try:
            assistant = await resolve_call_assistant(session, row.org_id, row.data)
        except Exception:
            assistant = {}
    analysis = await run_analysis(call, assistant, settings) if assistant else {}
    if analysis:
        call["analysis"] = analysis
        async with hub.sessions() as session:
            row = await session.get(tables.Call, call_id)
            if row is not None:
                row.data = {**row.data, "analysis": analysis}
                await session.commit()
    if publisher is None:
        # Recovery or a call that never started: nobody sent the final status yet.
        publisher = await hub.publisher_for(call, assistant)
        await publisher.publish(
            {"type": "status-update", "status": "ended", "endedReason": call.get("endedReason")}
        )
        await publisher.publish(end_of_call_report(call))
        await publisher.close()
    else:
        publisher.update_call(call)
        await publisher.publish(end_of_call_report(call))
