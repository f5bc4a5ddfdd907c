"""The voice-to-voice report: the markdown section bench/voice_to_voice.py prints and writes to the docs."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bench.common import CLIPS, REPO, CallResult

TRANSPORT_LABELS = {
    "websocket": "OpenCall, vapi.websocket (embedded: Silero, Whisper tiny.en fitted window, SmolLM2, Piper)",
    "twilio": "OpenCall, Twilio phone call (simulator, 8 kHz µ-law; same stack, real server)",
}
STAGES = ("endpointingLatency", "transcriberLatency", "modelLatency", "voiceLatency", "turnLatency")


def percentiles(values: list[float]) -> dict[str, float]:
    arr = np.array(values)
    return {
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "mean": float(arr.mean()),
        "min": float(arr.min()),
        "max": float(arr.max()),
    }


def summary(results: list[CallResult]) -> dict[str, Any]:
    values = [v for r in results for v in r.v2v_ms if v is not None]
    missing = sum(v is None for r in results for v in r.v2v_ms)
    return {"n": len(values), "missing": missing, **(percentiles(values) if values else {})}


def stage_breakdown(records: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    turns = [t for r in records for t in (r.get("metrics") or {}).get("turnLatencies", [])]
    out = {}
    for key in STAGES:
        values = [t[key] for t in turns if t.get(key) is not None]
        if values:
            out[key] = (float(np.percentile(values, 50)), float(np.percentile(values, 95)))
    return out


def v2v_row(name: str, s: dict[str, Any]) -> str:
    if not s.get("n"):
        return f"| {name} | 0 | - | - | - | - | - | {s.get('missing', 0)} |"
    return (
        f"| {name} | {s['n']} | **{s['p50']:.0f} ms** | **{s['p95']:.0f} ms** | {s['mean']:.0f} | {s['min']:.0f} |"
        f" {s['max']:.0f} | {s['missing']} |"
    )


def stage_table(stages: dict[str, dict[str, tuple[float, float]]]) -> list[str]:
    """One p50 / p95 column pair per transport, so the phone line's extra cost shows stage by stage."""
    names = list(stages)
    lines = [
        "",
        "OpenCall per-stage, from the calls' `artifact.performanceMetrics.turnLatencies` (ms, p50 / p95):",
        "",
        "| stage | " + " | ".join(f"{n} p50 | {n} p95" for n in names) + " |",
        "|---|" + "---|---|" * len(names),
    ]
    for key in STAGES:
        cells = [stages[n].get(key) for n in names]
        if any(cells):
            shown = " | ".join(f"{c[0]:.0f} | {c[1]:.0f}" if c else "- | -" for c in cells)
            lines.append(f"| {key} | {shown} |")
    return lines


def talked_over_note(ours: dict[str, list[CallResult]]) -> list[str]:
    """Replies the caller gave up waiting for: the clip after one barged in on it (an outlier's cause)."""
    counts = {name: sum(r.talked_over for r in results) for name, results in ours.items()}
    if not any(counts.values()):
        return []
    shown = ", ".join(f"{name} {count}" for name, count in counts.items())
    return ["", f"Replies still playing after 30 s, so the next clip spoke over them: {shown}."]


def heard_note(results: list[CallResult], v2v: dict[str, Any]) -> list[str]:
    """How much later the callee heard the reply than its first frame arrived (the phone's buffer)."""
    heard = [v for r in results for v in r.heard_ms if v is not None]
    if not heard or not v2v.get("n"):
        return []
    from opencall.transports.pacing import LEAD_SECONDS

    played = percentiles(heard)
    return [
        "",
        f"Twilio: the callee's loudspeaker (the simulator's 20 ms play clock, behind the {LEAD_SECONDS:.1f} s of audio"
        f" OpenCall keeps ahead in its buffer) played the first voiced reply frame at p50 {played['p50']:.0f} ms /"
        f" p95 {played['p95']:.0f} ms after the clip's end (p50 {played['p50'] - v2v['p50']:.0f} ms over v2v, which"
        " counts the frame's arrival). The RMS > 300 test is applied to the µ-law-decoded 8 kHz frames: RMS is an"
        " amplitude, the same at either rate, so the threshold is unchanged (bench/twilio_call.py).",
    ]


def setup_note(ours: dict[str, list[CallResult]]) -> list[str]:
    if "twilio" not in ours:
        return []
    return [
        "vapi.websocket runs the transport on a tiny app (no database); the phone call runs `opencall serve`"
        " (SQLite, per-turn writes, post-call analysis) dialling `POST /call {to, from, assistantId}` through"
        " the Twilio simulator, whose callee plays the same 16 kHz clips as 8 kHz µ-law. Same assistant."
    ]


def render(
    ours: dict[str, list[CallResult]],
    stages: dict[str, dict[str, tuple[float, float]]],
    base: dict[str, Any] | None,
    calls: int,
    command: str,
) -> str:
    load = os.getloadavg()
    lines = [
        "## Voice-to-voice (bench/voice_to_voice.py)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs"
        f" ({platform.processor() or platform.machine()}), load average at the end"
        f" {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. Command:",
        "",
        f"    {command}",
        "",
        f"{calls} calls x {len(CLIPS)} turns (clips {', '.join(CLIPS)}), measured at the caller:"
        " last voiced sample sent -> first reply frame with RMS > 300.",
        *setup_note(ours),
        "",
        "| stack | turns | v2v p50 | v2v p95 | mean | min | max | no reply |",
        "|---|---|---|---|---|---|---|---|",
    ]
    summaries = {name: summary(results) for name, results in ours.items()}
    lines += [v2v_row(TRANSPORT_LABELS[name], s) for name, s in summaries.items()]
    if base is not None:
        lines.append(v2v_row("plain pipecat 1.14 bot (shared/reference/pipecat-baseline, config B)", base))
        first = summaries.get("websocket", {})
        if base.get("n") and first.get("n"):
            lines += [
                "",
                f"Ratio baseline / OpenCall over vapi.websocket: p50 {base['p50'] / first['p50']:.2f}x,"
                f" p95 {base['p95'] / first['p95']:.2f}x.",
            ]
    lines += talked_over_note(ours)
    if "twilio" in ours:
        lines += heard_note(ours["twilio"], summaries["twilio"])
    if any(stages.values()):
        lines += stage_table(stages)
    return "\n".join(lines) + "\n"


def write_docs_section(name: str, section: str) -> None:
    """Replace (or append) the marked `name` section of docs/benchmarks.md."""
    path = REPO / "docs" / "benchmarks.md"
    marker_start, marker_end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{marker_start}\n{section}{marker_end}\n"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if marker_start in text:
        head, rest = text.split(marker_start, 1)
        text = head + block + rest.split(marker_end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
