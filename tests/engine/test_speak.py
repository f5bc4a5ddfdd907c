"""The voice stage's trim of a reply's opening silence (pure: samples in, samples out)."""

from __future__ import annotations

import numpy as np

from opencall.engine.speak import trim_leading_silence

RATE = 22050  # Piper joe


def tone(seconds: float, amplitude: int = 8000) -> np.ndarray:
    n = int(RATE * seconds)
    return (np.sin(np.arange(n) * 2 * np.pi * 220 / RATE) * amplitude).astype("<i2")


def test_opening_silence_is_cut_to_a_short_lead_in_and_the_sound_is_kept_whole() -> None:
    quiet = (np.random.default_rng(1).normal(0, 20, int(RATE * 0.06))).astype("<i2")  # Piper's 60 ms hush
    voiced = tone(0.3)
    trimmed = np.frombuffer(trim_leading_silence(np.concatenate([quiet, voiced]).tobytes(), RATE), "<i2")
    lead = len(trimmed) - len(voiced)
    assert 0 <= lead <= int(RATE * 0.015)  # 10 ms kept, rounded to a 5 ms window
    assert np.array_equal(trimmed[lead:], voiced)


def test_audio_that_starts_loud_or_is_all_quiet_is_left_alone() -> None:
    voiced = tone(0.1).tobytes()
    assert trim_leading_silence(voiced, RATE) == voiced
    silence = bytes(RATE // 10 * 2)
    assert trim_leading_silence(silence, RATE) == silence
