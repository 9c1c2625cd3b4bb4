"""Streaming int16 resampling shared by the encoders and the decoders."""

from __future__ import annotations

import numpy as np
import soxr
from numpy.typing import NDArray

from .convert import int16_to_float

EMPTY_INT16: NDArray[np.int16] = np.zeros(0, dtype=np.int16)
_EMPTY_FLOAT: NDArray[np.float32] = np.zeros(0, dtype=np.float32)


def _finite_to_int16(samples: NDArray[np.float32]) -> NDArray[np.int16]:
    """``float_to_int16`` without its NaN/inf pass: soxr turns finite int16 input into finite output,
    and that pass was half the conversion's time on every chunk of TTS audio."""
    scaled = np.rint(samples * np.float32(32768.0))
    np.clip(scaled, -32768, 32767, out=scaled)
    converted: NDArray[np.int16] = scaled.astype(np.int16)
    return converted


class StreamResampler:
    """Mono int16 resampler whose chunked output equals the one-shot output.

    soxr keeps its filter state between calls, so the split of the input into chunks does not change
    the result. It runs in float32 on purpose: with int16 I/O soxr dithers the output, and the dither
    differs with the chunking, so streaming would no longer equal one-shot. Rounding and clipping
    back to int16 is deterministic. Equal rates are a pass-through so native-rate PCM stays exact.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32")
        )

    def process(self, samples: NDArray[np.int16]) -> NDArray[np.int16]:
        if self._stream is None or samples.size == 0:
            return samples
        return _finite_to_int16(self._stream.resample_chunk(int16_to_float(samples), last=False))

    def flush(self) -> NDArray[np.int16]:
        """Return the samples still held in the filter; call once, at the end of the stream."""
        if self._stream is None:
            return EMPTY_INT16
        return _finite_to_int16(self._stream.resample_chunk(_EMPTY_FLOAT, last=True))
