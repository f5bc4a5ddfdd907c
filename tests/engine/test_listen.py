"""The VAD stage on real speech: where it marks the caller's pause, ahead of the stop it calls."""

from __future__ import annotations

import numpy as np
import pytest
from pipecat.frames.frames import Frame
from pipecat.tests.utils import run_test

from opencall.engine.frames import CallerAudioFrame, SpeechPausingFrame, SpeechStartedFrame, SpeechStoppedFrame
from opencall.engine.listen import RATE, VadStage
from tests.fixtures.speech import load_clip

pytestmark = pytest.mark.slow

FRAME = RATE // 50  # 20 ms, as the transports deliver


def frames_of(pcm: np.ndarray) -> list[Frame]:
    data = pcm.astype("<i2").tobytes()
    return [CallerAudioFrame(pcm=data[i : i + FRAME * 2]) for i in range(0, len(data), FRAME * 2)]


def edges(frames: list[Frame]) -> list[str]:
    """The VAD's marks in order, with the audio between them counted as frames."""
    out: list[str] = []
    for frame in frames:
        if isinstance(frame, SpeechStartedFrame):
            out.append("started")
        elif isinstance(frame, SpeechPausingFrame):
            out.append("pausing" if frame.active else "resumed")
        elif isinstance(frame, SpeechStoppedFrame):
            out.append("stopped")
    return out


async def vad_marks(pcm: np.ndarray) -> list[Frame]:
    down, _ = await run_test(VadStage(smart_turn=False), frames_to_send=frames_of(pcm), expected_down_frames=None)
    return list(down)


async def test_the_pause_is_marked_before_the_stop_and_only_silence_lies_between() -> None:
    pcm, _rate, _text = load_clip("piper-joe_s1")
    quiet = np.zeros(RATE // 2, np.int16)
    down = await vad_marks(np.concatenate([quiet, pcm, quiet, quiet]))
    assert edges(down) == ["started", "pausing", "stopped"]
    pausing = next(i for i, f in enumerate(down) if isinstance(f, SpeechPausingFrame))
    stopped = next(i for i, f in enumerate(down) if isinstance(f, SpeechStoppedFrame))
    between = [f.pcm for f in down[pausing:stopped] if isinstance(f, CallerAudioFrame)]
    held = np.frombuffer(b"".join(between), "<i2").astype(np.float64)
    assert 0.1 <= held.size / RATE <= 0.25  # the rest of the VAD's stop wait, not speech
    assert np.sqrt(np.mean(held**2)) < 100  # the clip's tail after its last word: near silence


async def test_a_short_gap_inside_speech_is_a_pause_taken_back_not_a_stop() -> None:
    pcm, _rate, _text = load_clip("piper-joe_s1")
    quiet = np.zeros(RATE // 2, np.int16)
    cut = int(1.6 * RATE)
    gap = np.zeros(int(0.12 * RATE), np.int16)  # under the VAD's 0.2 s stop
    down = await vad_marks(np.concatenate([quiet, pcm[:cut], gap, pcm[cut:], quiet, quiet]))
    assert edges(down) == ["started", "pausing", "resumed", "pausing", "stopped"]
