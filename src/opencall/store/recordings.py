"""Call recordings: the transports feed both sides, a writer thread lays them on disk, `finish` makes WAVs.

The audio path only ever does `queue.put_nowait` (no lock, no disk, no numpy): a writer thread
resamples each side to the recording rate and writes raw PCM at the position given by the call's
monotonic clock, so the assistant's silences between replies are filled by position. `finish`
turns the two raw tracks into Vapi's four files, block by block, so a long call never sits in memory:

    data_dir/recordings/<org>/<call>/mono.wav       customer + assistant mixed
                                     stereo.wav     customer LEFT, assistant RIGHT
                                     customer.wav   assistant.wav
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import queue
import shutil
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import numpy as np
import soxr

from opencall.settings import Settings

log = logging.getLogger(__name__)

RECORDING_RATE = 16000  # the engine's rate (engine.call PipelineParams); 16-bit PCM WAV, Vapi's `wav;l16`
QUEUE_CHUNKS = 4000
"""Chunks waiting for the writer; 80 s of 20 ms frames. A full queue drops audio rather than block a call."""
GAP_SLACK_SECONDS = 0.1
"""A chunk later than the track's end by more than this starts after silence; less is network jitter,
so the chunk is appended (the track never runs behind the clock by more than one late arrival)."""
BLOCK_SAMPLES = RECORDING_RATE * 10  # WAVs are built 10 s at a time
UPLOAD_TIMEOUT_SECONDS = 30.0
UPLOAD_ATTEMPTS = 2  # the brief's "one retry"

Side = Literal["customer", "assistant"]
FILE_NAMES = {
    "mono": "mono.wav",
    "stereo": "stereo.wav",
    "customer": "customer.wav",
    "assistant": "assistant.wav",
}
"""Recording kind -> file name in the call's recording directory."""
DOWNLOAD_ROUTES = {
    "mono": "mono-recording",
    "stereo": "stereo-recording",
    "customer": "customer-recording",
    "assistant": "assistant-recording",
}
"""Recording kind -> `GET /call/{id}/<route>` (Vapi's CallArtifactController)."""


class RecordingFailed(Exception):
    """The recording could not be written (disk full, permissions); the call itself is unaffected."""


@dataclass(frozen=True, slots=True)
class RecordingFiles:
    directory: Path
    sample_rate: int
    duration_seconds: float
    dropped_chunks: int = 0
    """Chunks lost because the writer fell behind (0 unless the disk stalled)."""

    def path(self, kind: str) -> Path:
        return self.directory / FILE_NAMES[kind]

    @property
    def mono(self) -> Path:
        return self.path("mono")

    @property
    def stereo(self) -> Path:
        return self.path("stereo")

    @property
    def customer(self) -> Path:
        return self.path("customer")

    @property
    def assistant(self) -> Path:
        return self.path("assistant")


def _safe_part(value: str) -> str:
    if not value or "/" in value or "\\" in value or value in (".", ".."):
        raise ValueError(f"unsafe path component: {value!r}")
    return value


def recording_dir(settings: Settings, org_id: str, call_id: str) -> Path:
    return Path(settings.data_dir) / "recordings" / _safe_part(org_id) / _safe_part(call_id)


class _Track:
    """One side's raw PCM file; runs on the writer thread only."""

    def __init__(self, path: Path, rate: int) -> None:
        self.path = path
        self.rate = rate
        self.cursor = 0
        """Samples written so far (= position of the next sample)."""
        self._file = path.open("wb")
        self._stream: soxr.ResampleStream | None = None
        self._stream_rate = rate

    def write(self, pcm: bytes, rate: int, at: float) -> None:
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
        target = max(0, round(at * self.rate))
        if target > self.cursor + GAP_SLACK_SECONDS * self.rate:
            self._flush_resampler()  # the tail of the previous segment belongs before the gap
            if target > self.cursor:
                self._silence(target - self.cursor)
        self._append(self._resample(samples, rate))

    def cut(self, at: float) -> None:
        """Forget what lies past `at`: audio the peer was sent but dropped unplayed."""
        self._flush_resampler()
        target = max(0, round(at * self.rate))
        if target < self.cursor:
            self._file.truncate(target * 2)  # flushes the buffer first; the position stays put
            self._file.seek(target * 2)
            self.cursor = target

    def close(self) -> None:
        self._flush_resampler()
        self._file.close()

    def _resample(self, samples: np.ndarray[Any, Any], rate: int) -> np.ndarray[Any, Any]:
        if rate != self._stream_rate:
            self._flush_resampler()
            self._stream_rate = rate
        if rate == self.rate:
            return samples
        if self._stream is None:
            # Stateful, so 20 ms chunks resample without a click at every chunk boundary.
            self._stream = soxr.ResampleStream(rate, self.rate, 1, dtype="int16")
        out: np.ndarray[Any, Any] = self._stream.resample_chunk(samples)
        return out

    def _flush_resampler(self) -> None:
        if self._stream is not None:
            self._append(self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True))
            self._stream = None

    def _silence(self, count: int) -> None:
        while count > 0:
            block = min(count, BLOCK_SAMPLES)
            self._append(np.zeros(block, dtype="<i2"))
            count -= block

    def _append(self, samples: np.ndarray[Any, Any]) -> None:
        if samples.size:
            self._file.write(samples.astype("<i2", copy=False).tobytes())
            self.cursor += int(samples.size)


class CallRecorder:
    """Both sides of one call. `caller`/`assistant` never block; `finish` writes the WAVs once."""

    def __init__(self, directory: Path, sample_rate: int = RECORDING_RATE) -> None:
        self.directory = directory
        self.sample_rate = sample_rate
        directory.mkdir(parents=True, exist_ok=True)
        self._queue: queue.Queue[tuple[Side, bytes | None, int, float] | None] = queue.Queue(QUEUE_CHUNKS)
        """(side, PCM16 or None for a cut, rate, at); None ends the writer."""
        self._tracks: dict[Side, _Track] = {
            "customer": _Track(directory / "customer.pcm", sample_rate),
            "assistant": _Track(directory / "assistant.pcm", sample_rate),
        }
        self._dropped = 0
        self._error: OSError | None = None
        self._files: RecordingFiles | None = None
        self._finish_lock = threading.Lock()
        self._writer = threading.Thread(target=self._drain, name=f"recorder-{directory.name}", daemon=True)
        self._writer.start()

    def caller(self, pcm16: bytes, sample_rate: int, at: float) -> None:
        """Caller audio as received; `at` = seconds since call start on the call's monotonic clock."""
        self._offer("customer", pcm16, sample_rate, at)

    def assistant(self, pcm16: bytes, sample_rate: int, at: float) -> None:
        """Assistant audio as sent to the caller; gaps between chunks become silence."""
        self._offer("assistant", pcm16, sample_rate, at)

    def cut_assistant(self, at: float) -> None:
        """Drop assistant audio placed after `at`: it was sent, but the peer discarded it unplayed (Twilio's
        `clear` on barge-in), so the caller never heard it."""
        self._offer("assistant", None, 0, at)

    def _offer(self, side: Side, pcm16: bytes | None, sample_rate: int, at: float) -> None:
        if pcm16 == b"" or self._files is not None:
            return
        try:
            self._queue.put_nowait((side, pcm16, sample_rate, at))
        except queue.Full:
            self._dropped += 1
            if self._dropped == 1:
                log.warning("recording writer behind in %s; dropping audio", self.directory)

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so producers never see a full queue
            side, pcm, rate, at = item
            try:
                if pcm is None:
                    self._tracks[side].cut(at)
                else:
                    self._tracks[side].write(pcm, rate, at)
            except OSError as exc:
                self._error = exc
                log.error("recording in %s failed: %s", self.directory, exc)

    async def finish(self) -> RecordingFiles:
        """Stop recording and write the four WAVs (in a thread); the same files on a second call."""
        return await asyncio.to_thread(self._finish)

    def _finish(self) -> RecordingFiles:
        with self._finish_lock:
            if self._files is not None:
                return self._files
            self._queue.put(None)  # blocking is fine here: this is a worker thread, not the audio path
            self._writer.join()
            for track in self._tracks.values():
                track.close()
            if self._error is not None:
                raise RecordingFailed(str(self._error)) from self._error
            files = finish_tracks(self.directory, self.sample_rate)
            self._files = dataclasses.replace(files, dropped_chunks=self._dropped)
            return self._files


def _open_wav(path: Path, channels: int, rate: int) -> wave.Wave_write:
    out = wave.open(str(path), "wb")
    out.setnchannels(channels)
    out.setsampwidth(2)
    out.setframerate(rate)
    return out


def _read_block(path: Path, offset: int, count: int) -> np.ndarray[Any, Any]:
    """`count` samples from `offset`, zero-padded past the end of a shorter (or absent) track."""
    if not path.exists() or path.stat().st_size <= offset * 2:
        return np.zeros(count, dtype="<i2")
    block = np.fromfile(path, dtype="<i2", count=count, offset=offset * 2)
    if block.size < count:
        block = np.concatenate([block, np.zeros(count - block.size, dtype="<i2")])
    return block


def finish_tracks(directory: Path, rate: int) -> RecordingFiles:
    """The four WAVs from the raw tracks in `directory`, which are then removed."""
    try:
        length = write_wavs(directory, directory / "customer.pcm", directory / "assistant.pcm", rate)
    except OSError as exc:
        raise RecordingFailed(str(exc)) from exc
    for side in ("customer", "assistant"):
        (directory / f"{side}.pcm").unlink(missing_ok=True)
    return RecordingFiles(directory, rate, round(length / rate, 3))


def write_wavs(directory: Path, customer: Path, assistant: Path, rate: int) -> int:
    """The four WAVs from the two raw tracks; returns the recording length in samples."""
    sizes = [path.stat().st_size // 2 if path.exists() else 0 for path in (customer, assistant)]
    length = max(sizes)
    outs = {
        kind: _open_wav(directory / name, 2 if kind == "stereo" else 1, rate)
        for kind, name in FILE_NAMES.items()
    }
    try:
        for offset in range(0, length, BLOCK_SAMPLES):
            count = min(BLOCK_SAMPLES, length - offset)
            left = _read_block(customer, offset, count)
            right = _read_block(assistant, offset, count)
            # A sum, not an average: each side keeps its level, and speech rarely overlaps long enough to clip.
            mix = np.clip(left.astype(np.int32) + right.astype(np.int32), -32768, 32767).astype("<i2")
            outs["mono"].writeframes(mix.tobytes())
            outs["stereo"].writeframes(np.column_stack((left, right)).astype("<i2").tobytes())
            outs["customer"].writeframes(left.tobytes())
            outs["assistant"].writeframes(right.tobytes())
    finally:
        for out in outs.values():
            out.close()
    return length


def recording_enabled(assistant: dict[str, Any]) -> bool:
    """`artifactPlan.recordingEnabled`, default true (Vapi); the launch contract's `record` lands there."""
    plan = assistant.get("artifactPlan") or {}
    return plan.get("recordingEnabled") is not False


def recorder_for(assistant: dict[str, Any], settings: Settings, call: dict[str, Any]) -> CallRecorder | None:
    """A recorder for this call (wire `Call` with `id`, `orgId`), or None when recording is off."""
    if not recording_enabled(assistant):
        return None
    return CallRecorder(recording_dir(settings, str(call["orgId"]), str(call["id"])))


def recording_files(settings: Settings, org_id: str, call_id: str) -> RecordingFiles | None:
    """The finished recording of a call, if there is one on disk."""
    directory = recording_dir(settings, org_id, call_id)
    mono = directory / FILE_NAMES["mono"]
    if not mono.is_file():
        return None
    with wave.open(str(mono), "rb") as wav:
        rate, frames = wav.getframerate(), wav.getnframes()
    return RecordingFiles(directory, rate, round(frames / rate, 3))


async def salvage_recording(settings: Settings, org_id: str, call_id: str) -> RecordingFiles | None:
    """After a crash: the WAVs from the raw tracks a dead process left behind (up to its last write)."""
    directory = recording_dir(settings, org_id, call_id)
    if not any((directory / f"{side}.pcm").exists() for side in ("customer", "assistant")):
        return recording_files(settings, org_id, call_id)
    return await asyncio.to_thread(finish_tracks, directory, RECORDING_RATE)


def delete_recording(settings: Settings, org_id: str, call_id: str) -> None:
    """Erase a call's recording files (for `DELETE /call/{id}`)."""
    shutil.rmtree(recording_dir(settings, org_id, call_id), ignore_errors=True)


def download_url(base_url: str, call_id: str, kind: str) -> str:
    return f"{base_url.rstrip('/')}/call/{call_id}/{DOWNLOAD_ROUTES[kind]}"


def artifact_fields(files: RecordingFiles, base_url: str, call_id: str) -> dict[str, Any]:
    """Vapi's recording fields of `call.artifact` (and the end-of-call report), at our download routes."""
    mono = download_url(base_url, call_id, "mono")
    stereo = download_url(base_url, call_id, "stereo")
    return {
        "recordingUrl": mono,
        "stereoRecordingUrl": stereo,
        "recording": {
            "stereoUrl": stereo,
            "mono": {
                "combinedUrl": mono,
                "assistantUrl": download_url(base_url, call_id, "assistant"),
                "customerUrl": download_url(base_url, call_id, "customer"),
            },
        },
    }


async def upload_recording(files: RecordingFiles, url: str) -> dict[str, Any]:
    """PUT the mono WAV to the launch contract's `recordingUrl`; the outcome, for the end-of-call report."""
    body = await asyncio.to_thread(files.mono.read_bytes)
    headers = {"Content-Type": "audio/wav"}
    outcome: dict[str, Any] = {"uploaded": False, "url": url}
    async with httpx.AsyncClient(timeout=UPLOAD_TIMEOUT_SECONDS) as client:
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            try:
                response = await client.put(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                outcome = {"uploaded": False, "url": url, "error": f"{type(exc).__name__}: {exc}"}
            else:
                outcome = {"uploaded": response.is_success, "url": url, "status": response.status_code}
                if response.status_code < 500:
                    break  # a 4xx will not change on retry
            if attempt < UPLOAD_ATTEMPTS:
                log.warning("recording upload to %s failed (%s); retrying", url, outcome)
    return outcome
