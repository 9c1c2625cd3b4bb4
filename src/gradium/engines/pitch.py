"""Move F0 of any engine's output by a factor, keeping the speaking rate.

Engines synthesize ``factor`` times slower, then the audio is played ``factor`` times faster: the
samples are kept and only their declared sample rate is multiplied by ``factor``. Playing faster
scales F0 and formants together (a "smaller" or "bigger" speaker) and brings the duration back to
normal. The resampling this implies is done once, by the output encoder, in the same pass that
converts to the output format's rate, so moving F0 costs no DSP of its own. It is deterministic,
unlike a vocoder, and works the same for every engine.
"""

from __future__ import annotations

from gradium.engines.base import Synthesis, WordTiming

MIN_FACTOR, MAX_FACTOR = 0.5, 2.0
RATE_STEP_HZ = 100


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
    """Play ``synthesis`` ``factor`` times faster: same samples, rate times ``factor``."""
    if _is_identity(factor) or len(synthesis.pcm) == 0:
        return synthesis
    # A multiple of 100 Hz: soxr sets a stream up in ~0.1 ms for such rates but ~3 ms for an odd one
    # like 22712 (the ratio's terms get large), and the rounding moves F0 by 0.04 semitone at most.
    rate = max(
        RATE_STEP_HZ, round(synthesis.sample_rate * clamp_factor(factor) / RATE_STEP_HZ) * RATE_STEP_HZ
    )
    exact = synthesis.sample_rate / rate  # timings follow the rounded rate, sample for sample
    return Synthesis(synthesis.pcm, rate, _scaled(synthesis.words, exact), _scaled(synthesis.phonemes, exact))


def _scaled(timings: list[WordTiming], scale: float) -> list[WordTiming]:
    return [WordTiming(t.text, round(t.start_s * scale, 4), round(t.stop_s * scale, 4)) for t in timings]
