"""Move F0 of any engine's output by a factor, keeping the speaking rate.

Engines synthesize ``factor`` times slower, then the audio is resampled so that it plays ``factor``
times faster at the same sample rate. Playing faster scales F0 and formants together (a "smaller"
or "bigger" speaker) and brings the duration back to normal. This is cheap (soxr) and deterministic,
unlike a vocoder, and works the same for every engine.
"""

from __future__ import annotations

import numpy as np
import soxr

from gradium.engines.base import Synthesis, WordTiming

MIN_FACTOR, MAX_FACTOR = 0.5, 2.0


def _is_identity(factor: float) -> bool:
    return abs(factor - 1.0) < 1e-6


def clamp_factor(factor: float) -> float:
    """Keep the factor where resampling still sounds like speech."""
    return min(max(factor, MIN_FACTOR), MAX_FACTOR)


def slowed_rate_wpm(rate_wpm: int, factor: float) -> int:
    """The words-per-minute to synthesize at so that ``apply_pitch_factor`` restores ``rate_wpm``."""
    if _is_identity(factor):
        return rate_wpm
    return max(1, round(rate_wpm / clamp_factor(factor)))


def stretched_duration(stretch: float, factor: float) -> float:
    """The duration stretch (flite's ``duration_stretch``) to synthesize at for ``factor``."""
    if _is_identity(factor):
        return stretch
    return stretch * clamp_factor(factor)


def apply_pitch_factor(synthesis: Synthesis, factor: float) -> Synthesis:
    """Play ``synthesis`` ``factor`` times faster at its own sample rate; timings scale by 1/factor."""
    if _is_identity(factor) or len(synthesis.pcm) == 0:
        return synthesis
    factor = clamp_factor(factor)
    rate = synthesis.sample_rate
    samples = synthesis.pcm.astype(np.float32) / 32768.0
    # Reading the samples as if recorded at rate*factor and converting to rate shortens them by factor.
    faster = soxr.resample(samples, rate * factor, rate, quality="HQ")
    pcm = np.clip(np.round(faster * 32768.0), -32768, 32767).astype(np.int16)
    words = [
        WordTiming(word.text, round(word.start_s / factor, 4), round(word.stop_s / factor, 4))
        for word in synthesis.words
    ]
    return Synthesis(pcm, rate, words)
