"""A voice's timbre equaliser: a smooth per-band gain applied to a neural engine's speech.

A cloned voice is a mix of stock voices plus the equaliser that takes the mix's mean spectral
envelope to the speaker's (:func:`gradium.speech.voice_match.timbre_eq`). The gains live on the
profile's mel band grid (:func:`gradium.speech.voice_profile.band_centres_hz`); between and beyond
the band centres they are interpolated and held flat.

The filter is a linear-phase FIR applied with its delay removed (``same``-length convolution), so
word timestamps do not move, and each synthesized piece is filtered on its own: pieces start and
end in near silence, so no state needs to cross them.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from gradium.engines.base import Synthesis
from gradium.speech.voice_profile import band_centres_hz

TAPS = 255  # 10.6 ms at 24 kHz: resolves the lowest bands (80-150 Hz apart) well enough
EqBands = tuple[float, ...]


@lru_cache(maxsize=64)
def eq_taps(eq_db: EqBands, rate: int) -> NDArray[np.float64]:
    """The FIR whose magnitude response follows ``eq_db`` (one gain per band centre) at ``rate``."""
    grid = np.linspace(0.0, rate / 2, 513)
    gains_db = np.interp(grid, band_centres_hz(), np.asarray(eq_db, dtype=np.float64))
    taps = signal.firwin2(TAPS, grid / (rate / 2), 10.0 ** (gains_db / 20.0))
    return np.asarray(taps, dtype=np.float64)


def equalised(pcm: NDArray[np.int16], rate: int, eq_db: EqBands) -> NDArray[np.int16]:
    """``pcm`` through the equaliser, same length and timing, clipped to int16."""
    if pcm.size == 0:
        return pcm
    filtered = signal.oaconvolve(pcm.astype(np.float64), eq_taps(eq_db, rate), mode="same")
    out: NDArray[np.int16] = np.clip(np.rint(filtered), -32768, 32767).astype(np.int16)
    return out


def apply_voice_eq(synthesis: Synthesis, eq_db: EqBands | None) -> Synthesis:
    """``synthesis`` with its audio equalised; unchanged when the voice has no equaliser."""
    if not eq_db:
        return synthesis
    return replace(synthesis, pcm=equalised(synthesis.pcm, synthesis.sample_rate, eq_db))
