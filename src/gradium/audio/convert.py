"""Sample-format conversions between int16 PCM and float32 in [-1, 1]."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

_SCALE = 32768.0  # the same scale both ways, so int16 -> float -> int16 is lossless


def float_to_int16(samples: ArrayLike) -> NDArray[np.int16]:
    """Convert float samples in [-1, 1] to int16, rounding and clipping.

    Clipping matters: a plain cast of 1.0 * 32768 wraps around to -32768, a full-scale click.
    NaN (possible in float WAV uploads) becomes silence instead of an undefined cast.
    """
    finite = np.nan_to_num(np.asarray(samples, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    scaled = np.rint(finite * _SCALE)
    clipped: NDArray[np.int16] = np.clip(scaled, -32768, 32767).astype(np.int16)
    return clipped


def int16_to_float(samples: ArrayLike) -> NDArray[np.float32]:
    """Convert int16 samples to float32 in [-1, 1)."""
    return np.asarray(samples, dtype=np.int16).astype(np.float32) / np.float32(_SCALE)
