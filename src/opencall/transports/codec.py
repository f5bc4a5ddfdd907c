"""Call audio <-> the engine's PCM16: G.711 mu-law and resampling (soxr, streaming)."""

from __future__ import annotations

import numpy as np
import soxr

ENGINE_RATE = 16000  # Whisper, Silero and Smart Turn all take 16 kHz

_MULAW_BIAS = 0x84  # G.711: 132
_MULAW_CLIP = 32635


def _mulaw_decode_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _MULAW_BIAS) << exponent) - _MULAW_BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


_DECODE = _mulaw_decode_table()


def mulaw_decode(data: bytes) -> bytes:
    return bytes(_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes())


def mulaw_encode(pcm16: bytes) -> bytes:
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.int32)
    sign = np.where(samples < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(samples), _MULAW_CLIP) + _MULAW_BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return bytes((~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes())


class Resampler:
    """PCM16 mono from one rate to another, keeping filter state across chunks."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self._stream = soxr.ResampleStream(src_rate, dst_rate, 1, dtype="int16") if src_rate != dst_rate else None

    def __call__(self, pcm16: bytes) -> bytes:
        if self._stream is None:
            return pcm16
        samples = np.frombuffer(pcm16, dtype="<i2")
        return bytes(self._stream.resample_chunk(samples).astype("<i2").tobytes())
