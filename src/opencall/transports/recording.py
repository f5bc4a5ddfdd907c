"""A transport's two sides of a call handed to the call's `CallRecorder`, on the call's monotonic clock.

These run on the audio path: each is arithmetic and one `put_nowait` on the recorder's queue (no lock,
no disk, no numpy), so recording never slows the audio down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opencall.store.recordings import CallRecorder


class RecordingFeed:
    """Positions are seconds since `clock_zero`, the call's start on the event loop's clock."""

    def __init__(self, recorder: CallRecorder, clock_zero: float) -> None:
        self._recorder = recorder
        self._zero = clock_zero
        self._caller_first: float | None = None
        self._caller_samples = 0

    def caller(self, pcm16: bytes, sample_rate: int, received_at: float) -> None:
        """Caller audio as received, placed by its sample count from the first frame: the caller streams
        continuously, so arrival jitter (a busy event loop) must not open gaps in the recording."""
        if self._caller_first is None:
            self._caller_first = received_at - self._zero
        self._recorder.caller(pcm16, sample_rate, self._caller_first + self._caller_samples / sample_rate)
        self._caller_samples += len(pcm16) // 2

    def assistant(self, pcm16: bytes, sample_rate: int, sent_at: float) -> None:
        """Assistant audio as it goes out to the caller."""
        self._recorder.assistant(pcm16, sample_rate, sent_at - self._zero)

    def assistant_dropped(self, at: float) -> None:
        """The peer threw away the assistant audio it had not played by `at` (Twilio `clear`)."""
        self._recorder.cut_assistant(at - self._zero)
