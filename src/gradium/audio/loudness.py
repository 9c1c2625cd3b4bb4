"""Speech loudness and seam helpers (numpy only): active-speech level, level matching, edge ramps.

The **active-speech level** is the RMS level, in dBFS, of the 20 ms frames that carry speech: frames
above an absolute gate of -70 dBFS and within ``RELATIVE_GATE_DB`` of the loud frames (the 95th
percentile of frame levels). Pauses and the noise floor between words are left out, so a clip with
long silences and the same speech without them measure the same (the idea of ITU-T P.56 and of the
gating in EBU R128, in a simpler form).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FRAME_S = 0.02
ABSOLUTE_GATE_DB = -70.0
RELATIVE_GATE_DB = 25.0
LOUD_PERCENTILE = 95.0
PEAK_CEILING = 0.97  # about -0.3 dBFS: level matching never clips
RAMP_S = 0.005


def frame_levels_db(samples: NDArray[np.floating], rate: int) -> NDArray[np.float64]:
    """Mean power of consecutive 20 ms frames, in dBFS (full scale = 1.0)."""
    x = np.asarray(samples, dtype=np.float64)
    size = max(1, round(FRAME_S * rate))
    frames = len(x) // size
    if frames == 0:
        return np.zeros(0, dtype=np.float64)
    power = np.mean(x[: frames * size].reshape(frames, size) ** 2, axis=1)
    return np.asarray(10.0 * np.log10(power + 1e-20), dtype=np.float64)


def active_level_db(samples: NDArray[np.floating], rate: int) -> float | None:
    """The active-speech RMS level in dBFS, or None when nothing passes the gates (silence)."""
    levels = frame_levels_db(samples, rate)
    levels = levels[levels > ABSOLUTE_GATE_DB]
    if levels.size == 0:
        return None
    gate = max(ABSOLUTE_GATE_DB, float(np.percentile(levels, LOUD_PERCENTILE)) - RELATIVE_GATE_DB)
    active = levels[levels >= gate]
    return float(10.0 * np.log10(np.mean(10.0 ** (active / 10.0))))


def mean_level_db(levels: list[float | None]) -> float | None:
    """The average, in dB, of the levels that exist (None when none does)."""
    known = [level for level in levels if level is not None]
    return sum(known) / len(known) if known else None


def match_level(
    samples: NDArray[np.floating], rate: int, target_db: float | None
) -> tuple[NDArray[np.float64], float]:
    """``samples`` scaled so that their active-speech level is ``target_db``, and the gain in dB.

    The gain is reduced where it would push the peak above PEAK_CEILING (no clipping).
    """
    x = np.asarray(samples, dtype=np.float64)
    level = active_level_db(x, rate)
    if target_db is None or level is None:
        return x, 0.0
    gain_db = target_db - level
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 0:
        gain_db = min(gain_db, 20.0 * math.log10(PEAK_CEILING / peak))
    return x * 10.0 ** (gain_db / 20.0), gain_db


def ramp_edges(samples: NDArray[np.floating], rate: int, ramp_s: float = RAMP_S) -> NDArray[np.float64]:
    """Raised-cosine fade-in and fade-out of ``ramp_s``: the audio starts and ends on exact zeros,
    so that butting it against other audio makes no click."""
    x = np.array(samples, dtype=np.float64)
    n = min(len(x) // 2, max(2, round(ramp_s * rate)))
    if n < 2:
        return np.zeros_like(x)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, n))  # 0 ... 1, both ends included
    x[:n] *= ramp
    x[-n:] *= ramp[::-1]
    return x


__all__ = ["active_level_db", "frame_levels_db", "match_level", "mean_level_db", "ramp_edges"]
