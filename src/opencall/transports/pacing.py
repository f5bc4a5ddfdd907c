"""Outbound audio paced by a monotonic clock with a small lead (transports.md §6).

Sleeping one frame per frame drifts slower than real time and starves the caller's jitter
buffer (measured corr 0.306 vs 0.999 when paced by the clock). We keep an anchor (time, samples
sent) and send every frame whose play time is within `LEAD_SECONDS` of now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("opencall.transport")

FRAME_SECONDS = 0.02  # 20 ms frames, what browsers and telephony use
LEAD_SECONDS = 0.1  # audio sent ahead of real time; the client's jitter buffer absorbs it
SEND_TIMEOUT_SECONDS = 5.0  # a client that takes longer than this to accept a frame has stopped reading


class SendStalled(Exception):
    """The peer stopped reading: a send did not complete within SEND_TIMEOUT_SECONDS."""


class PacedAudioOut:
    """`AudioOut` for a transport: PCM16 at `sample_rate` in, real-time frames out through `send`."""

    def __init__(self, sample_rate: int, send: Callable[[bytes], Awaitable[None]]) -> None:
        self.sample_rate = sample_rate
        self._send = send
        self._frame_bytes = int(sample_rate * FRAME_SECONDS) * 2
        self._queue = bytearray()
        self._paused = False
        self._wake = asyncio.Event()
        self._sent_samples = 0
        self._anchor: tuple[float, int] | None = None
        self.send_delays_ms: list[float] = []
        """How long each write waited before its first byte went out (toTransportLatency)."""
        self._write_at: float | None = None

    # --- AudioOut -------------------------------------------------------------------------

    def write(self, pcm16: bytes) -> None:
        if self._write_at is None and not self._queue:
            self._write_at = asyncio.get_running_loop().time()
        self._queue += pcm16
        self._wake.set()

    def clear(self) -> None:
        self._queue.clear()
        self._anchor = None
        self._write_at = None

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._anchor = None
            self._wake.set()

    @property
    def sent_seconds(self) -> float:
        return self._sent_samples / self.sample_rate

    @property
    def queued_seconds(self) -> float:
        return len(self._queue) / 2 / self.sample_rate

    # --- the clock ------------------------------------------------------------------------

    async def run(self) -> None:
        """Send until cancelled; raises SendStalled if the peer stops reading."""
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue or self._paused:
                self._anchor = None
                self._wake.clear()
                await self._wake.wait()
                continue
            now = loop.time()
            if self._anchor is None:
                self._anchor = (now, self._sent_samples)
            start, samples_at_start = self._anchor
            due = start + (self._sent_samples - samples_at_start) / self.sample_rate - LEAD_SECONDS
            if now < due:
                await asyncio.sleep(due - now)
                continue
            frame = bytes(self._queue[: self._frame_bytes])
            del self._queue[: self._frame_bytes]
            if self._write_at is not None:
                self.send_delays_ms.append((now - self._write_at) * 1000)
                self._write_at = None
            try:
                await asyncio.wait_for(self._send(frame), SEND_TIMEOUT_SECONDS)
            except TimeoutError as exc:
                raise SendStalled(f"client did not read audio for {SEND_TIMEOUT_SECONDS:.0f} s") from exc
            self._sent_samples += len(frame) // 2
