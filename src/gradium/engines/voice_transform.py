"""Render a base voice's TTS output in a cloned or designed voice with the WORLD vocoder.

Per synthesized segment (on the engine's worker thread): analyse with WORLD (dio + stonemask F0,
cheaptrick envelope, d4c aperiodicity), then

* **F0**: move the log-F0 centre from the base voice's median to the target's and scale the
  excursions around it by the ratio of the two intonation spreads;
* **envelope**: warp the frequency axis by ``formant_scale`` (vocal-tract length: a shorter tract
  moves every formant up) and apply a smooth equaliser that takes the warped base envelope to the
  target's average envelope (what is left of timbre and recording colour);

and resynthesize. Lengths are kept sample-exact, so word timings stay valid. The base voice's own
statistics come from a one-off calibration synthesis (cached per voice and process).

``strength`` (from ``cfg_coef``) scales every move: 0 is the base voice, 1 the measured target, and
values above 1 exaggerate the difference, the way classifier-free guidance does in neural TTS.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gradium.engines.base import Synthesis, TTSEngine, VoiceParams
from gradium.speech.voice_profile import (
    VoiceProfile,
    analyse_voice,
    band_centres_hz,
    fit_length,
    match_rms,
    pyworld_available,
    shape_envelope,
    to_float,
    world_analysis,
    world_synthesize,
)

# Widest envelope warp ever applied; each base voice narrows it to where pocketsphinx still
# understands it (flite slt warped up by 5 % lost a third of its words, rms up by 10 % nothing).
WARP_LIMITS = (0.85, 1.15)
EQ_LIMIT_DB = 12.0
FIT_BAND_HZ = (150.0, 5000.0)  # where formants decide the warp fit
SPREAD_SCALE_LIMITS = (0.5, 2.0)
RATE_LIMITS = (0.55, 1.7)
# Measured syllable rate grows slower than the engines' words-per-minute setting (flite rms: x1.43
# wpm gave x1.25 syllables/s; espeak fr/en: 100 vs 175 wpm gave exponents of about 0.45-0.5):
# measured_ratio ~= wpm_ratio ** RATE_EXPONENT.
RATE_EXPONENT = 0.5
MAX_STRENGTH = 1.5

CALIBRATION_TEXT = {
    "en": "The quick brown fox jumps over the lazy dog. Please call me back tomorrow morning at nine. "
          "I would like to book a table for two people at seven o'clock tonight.",
    "fr": "Le renard brun saute par-dessus le chien paresseux. Rappelez-moi demain matin à neuf heures. "
          "Je voudrais réserver une table pour deux personnes ce soir.",
    "de": "Der schnelle braune Fuchs springt über den faulen Hund. Bitte ruf mich morgen früh um neun an. "
          "Ich möchte heute Abend einen Tisch für zwei Personen reservieren.",
    "es": "El rápido zorro marrón salta sobre el perro perezoso. Llámame mañana por la mañana a las nueve. "
          "Quisiera reservar una mesa para dos personas esta noche.",
    "pt": "A rápida raposa marrom pula sobre o cão preguiçoso. Ligue para mim amanhã de manhã às nove. "
          "Eu gostaria de reservar uma mesa para duas pessoas hoje à noite.",
}


def strength_from_cfg(cfg_coef: float) -> float:
    """cfg_coef 1 -> 0 (base voice), 2 -> 1 (the profile, default), 4 -> 1.5 (exaggerated)."""
    if cfg_coef <= 2.0:
        return max(0.0, cfg_coef - 1.0)
    return min(MAX_STRENGTH, 1.0 + (cfg_coef - 2.0) * (MAX_STRENGTH - 1.0) / 2.0)


_calibrations: dict[tuple[str, VoiceParams], VoiceProfile] = {}
_calibration_lock = threading.Lock()


def calibrate(engine: TTSEngine, params: VoiceParams) -> VoiceProfile:
    """The base voice's own profile, measured once per (engine, voice) and process."""
    key = (engine.name, params)
    with _calibration_lock:
        cached = _calibrations.get(key)
    if cached is not None:
        return cached
    text = CALIBRATION_TEXT.get(params.language, CALIBRATION_TEXT["en"])
    synthesis = engine.synthesize(text, params)
    profile = analyse_voice(synthesis.pcm, synthesis.sample_rate, source="calibration")
    with _calibration_lock:
        _calibrations[key] = profile
    return profile


@dataclass(frozen=True)
class TransformPlan:
    """The moves, fixed once per request, that take the base voice to the target."""

    base_f0_hz: float
    f0_shift_st: float  # added to every voiced frame's pitch
    f0_spread_scale: float  # multiplies pitch excursions around the base median
    warp: float  # envelope frequency-axis scale
    eq_db: tuple[float, ...] | None  # per band (band_centres_hz), None: no equaliser

    @property
    def is_identity(self) -> bool:
        return (
            abs(self.f0_shift_st) < 1e-3
            and abs(self.f0_spread_scale - 1.0) < 1e-3
            and abs(self.warp - 1.0) < 1e-3
            and self.eq_db is None
        )


def warp_bands(bands: NDArray[np.float64], warp: float) -> NDArray[np.float64]:
    """A band envelope after scaling the frequency axis by ``warp`` (env'(f) = env(f / warp))."""
    centres = band_centres_hz()
    return np.asarray(np.interp(centres / warp, centres, bands), dtype=np.float64)


def fit_warp(base: NDArray[np.float64], target: NDArray[np.float64]) -> float:
    """The envelope warp that best aligns the base's formant region with the target's."""
    centres = band_centres_hz()
    region = (centres >= FIT_BAND_HZ[0]) & (centres <= FIT_BAND_HZ[1])
    best, best_error = 1.0, float("inf")
    for warp in np.exp(np.linspace(np.log(WARP_LIMITS[0]), np.log(WARP_LIMITS[1]), 41)):
        # Compare shapes without their overall tilt: tilt is the equaliser's job, and left in, it
        # dragged the fit to the warp limits.
        diff = _detrended(warp_bands(base, float(warp))[region]) - _detrended(target[region])
        error = float(np.mean(diff * diff))
        if error < best_error:
            best, best_error = float(warp), error
    return best


def _detrended(values: NDArray[np.float64]) -> NDArray[np.float64]:
    index = np.arange(len(values), dtype=np.float64)
    slope, intercept = np.polyfit(index, values, 1)
    return np.asarray(values - (slope * index + intercept), dtype=np.float64)


def plan_transform(
    target: VoiceProfile,
    base: VoiceProfile,
    strength: float,
    warp_limits: tuple[float, float] = WARP_LIMITS,
) -> TransformPlan:
    """The moves for one request; ``warp_limits`` is the base voice's intelligibility-safe range."""
    strength = min(max(strength, 0.0), MAX_STRENGTH)
    low, high = max(warp_limits[0], WARP_LIMITS[0]), min(warp_limits[1], WARP_LIMITS[1])
    shift = 12.0 * np.log2(target.f0_median_hz / base.f0_median_hz)
    spread_ratio = target.f0_spread_st / max(base.f0_spread_st, 0.3)
    spread = float(np.clip(1.0 + strength * (spread_ratio - 1.0), *SPREAD_SCALE_LIMITS))
    warp, eq = 1.0, None
    if target.formant_scale is not None:
        warp = target.formant_scale
    elif target.envelope_db is not None and base.envelope_db is not None:
        warp = fit_warp(np.asarray(base.envelope_db), np.asarray(target.envelope_db))
    warp = float(np.clip(warp**strength, low, high))
    if target.envelope_db is not None and base.envelope_db is not None and strength > 0:
        residual = np.asarray(target.envelope_db) - warp_bands(np.asarray(base.envelope_db), warp)
        residual = np.convolve(residual - residual.mean(), [0.25, 0.5, 0.25], mode="same")
        eq = tuple(float(v) for v in np.clip(strength * residual, -EQ_LIMIT_DB, EQ_LIMIT_DB))
    return TransformPlan(base.f0_median_hz, float(strength * shift), spread, warp, eq)


def rate_wpm_for(target: VoiceProfile, base: VoiceProfile, base_wpm: int, strength: float) -> int:
    """Words per minute at which the base voice speaks at the target's syllable rate."""
    if target.speech_rate is None or not base.speech_rate:
        return base_wpm
    ratio = math.pow(target.speech_rate / base.speech_rate, 1.0 / RATE_EXPONENT)
    ratio = math.pow(float(np.clip(ratio, *RATE_LIMITS)), min(strength, 1.0))
    return round(base_wpm * ratio)


class VoiceTransform:
    """Applies a :class:`TransformPlan` to each synthesized segment (thread-confined, like engines)."""

    def __init__(self, plan: TransformPlan) -> None:
        if not pyworld_available():
            raise RuntimeError("pyworld is not installed: pip install pyworld (needs gcc)")
        self.plan = plan

    def apply(self, synthesis: Synthesis) -> Synthesis:
        if self.plan.is_identity or len(synthesis.pcm) < synthesis.sample_rate // 20:
            return synthesis
        rate = synthesis.sample_rate
        x = to_float(synthesis.pcm)
        features = world_analysis(x, rate, robust_f0=False, aperiodicity=True)
        assert features.aperiodicity is not None
        f0 = self._map_f0(features.f0)
        envelope = shape_envelope(features.envelope, rate, self.plan.warp, self.plan.eq_db)
        y = fit_length(world_synthesize(f0, envelope, features.aperiodicity, rate), len(x))
        y = match_rms(y, x)
        pcm = np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)
        return Synthesis(pcm, rate, synthesis.words, synthesis.phonemes)

    def _map_f0(self, f0: NDArray[np.float64]) -> NDArray[np.float64]:
        plan = self.plan
        voiced = f0 > 0
        out = np.zeros_like(f0)
        st = 12.0 * np.log2(f0[voiced] / plan.base_f0_hz)
        out[voiced] = plan.base_f0_hz * 2.0 ** ((st * plan.f0_spread_scale + plan.f0_shift_st) / 12.0)
        return out


__all__ = [
    "CALIBRATION_TEXT",
    "TransformPlan",
    "VoiceTransform",
    "calibrate",
    "plan_transform",
    "rate_wpm_for",
    "strength_from_cfg",
]
