"""Signal-level voice conversion with the WORLD vocoder: a clip's speech in another voice.

The clip keeps its words, timing and intonation *shape*; what changes is what identifies the speaker
to the ear and to the measures of ``gradium.speech.voice_profile``:

* **F0**: the source's voiced log-F0 contour is moved from its median to the target voice's median
  and its excursions scaled by the ratio of the two intonation spreads (clipped to 0.5-2x). Every
  frame keeps its time and its voiced/unvoiced decision, so the contour's shape survives exactly.
* **Spectral envelope**: the source's average voiced envelope (32 mel bands) is compared with the
  target's; a frequency warp (vocal-tract length) fitted between the two moves the formants, and a
  smooth equaliser (+-12 dB) takes what is left of the average envelope to the target's.
* **Aperiodicity** is kept (breathiness, fricatives and noise stay where they were).

Resynthesis runs at the synthesis rate (the output rate, or the clip's own rate when that is lower:
resynthesizing a 16 kHz recording at 48 kHz adds nothing, and the encoder resamples) and the result
has exactly the clip's duration and its RMS level. F0 is estimated on 16 kHz audio with dio +
stonemask (harvest took longer than the clip itself here, dio about 15x less), and its octave errors
are folded back against a running median, so they are not resynthesized; envelopes and
aperiodicity are estimated and resynthesized in blocks of at most ``BLOCK_S`` seconds, cut at the
quietest unvoiced frame near each boundary and cross-faded, so memory stays bounded for long clips.

Everything here is CPU-bound: call it from a worker thread, never on the event loop.
"""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass

import numpy as np
import soxr
from numpy.typing import NDArray

from gradium.engines.base import TTSEngine, VoiceParams
from gradium.engines.voice_transform import CALIBRATION_TEXT
from gradium.speech.voice_profile import (
    ANALYSIS_RATE,
    F0_CEIL_HZ,
    F0_FLOOR_HZ,
    FRAME_PERIOD_MS,
    VoiceProfile,
    analyse_voice,
    band_centres_hz,
    bands_from_spectrum,
    dithered,
    f0_statistics,
    fit_length,
    match_rms,
    shape_envelope,
)

try:  # pyworld builds from an sdist; keep the server importable where the build failed.
    import pyworld
except ImportError:  # pragma: no cover - exercised only on machines without a C compiler
    pyworld = None

EQ_LIMIT_DB = 12.0
WARP_LIMITS = (0.82, 1.22)  # vocal-tract length ratios between adult speakers stay in this range
FIT_BAND_HZ = (150.0, 5000.0)
# Average envelopes alone often push the fitted warp to a limit (recording colour, different
# vowels), so the fit searches near a prior: formant frequencies scale roughly as the F0 ratio to
# the power WARP_F0_EXPONENT between adult speakers (about x1.17 from a 100 Hz to a 200 Hz voice).
WARP_F0_EXPONENT = 0.22
WARP_SEARCH = 0.08  # the fit looks within +-8 % of the prior
SPREAD_SCALE_LIMITS = (0.5, 2.0)
OUT_F0_LIMITS_HZ = (60.0, 800.0)  # what F0 trackers (and ears) still hear as pitch
MEDIAN_FRAMES = 61  # running median over ~0.3 s of voiced frames (octave-error repair)
OCTAVE_JUMP_ST = 8.0
OUTLIER_ST = 9.0
MIN_VOICED_FRAMES = 20  # 0.1 s: fewer voiced frames than this give no usable F0 statistics
ENVELOPE_FRAMES = 1500  # voiced frames sampled for the source's average envelope
BLOCK_S = 12.0
BLOCK_SEARCH_S = 1.0  # a block boundary moves up to this far to land in a quiet unvoiced frame
CROSSFADE_FRAMES = 4  # 20 ms
MIN_SYNTHESIS_RATE = 8_000


# A catalog voice's target profile comes from a synthesis of its language's calibration text plus
# these sentences: an average envelope over ~25 s of varied vowels depends far less on the text
# (measured with flite rms: 4.1 dB between two ~10 s texts) than one over the calibration alone.
TARGET_EXTRA_TEXT = {
    "en": "Our old neighbour usually walks his lovely brown dog around the quiet village. "
          "The children were laughing loudly while they played football in the park. "
          "Could you please send me the new report before Friday afternoon?",
    "fr": "Il fait beau aujourd'hui, alors nous irons nous promener au bord du lac. "
          "Combien de pommes reste-t-il dans le panier sur la table de la cuisine ? "
          "Notre vieux voisin promène souvent son chien autour du village tranquille.",
    "de": "Heute ist das Wetter schön, also gehen wir am See spazieren. "
          "Wie viele Äpfel liegen noch im Korb auf dem Küchentisch? "
          "Unser alter Nachbar geht oft mit seinem Hund durch das ruhige Dorf.",
    "es": "Hoy hace buen tiempo, así que vamos a pasear junto al lago. "
          "¿Cuántas manzanas quedan en la cesta de la mesa de la cocina? "
          "Nuestro viejo vecino pasea a menudo a su perro por el pueblo tranquilo.",
    "pt": "Hoje o tempo está bom, então vamos passear perto do lago. "
          "Quantas maçãs ainda estão no cesto da mesa da cozinha? "
          "O nosso velho vizinho passeia muitas vezes com o cão pela aldeia tranquila.",
}  # fmt: skip

_targets: dict[tuple[str, VoiceParams], VoiceProfile] = {}
_targets_lock = threading.Lock()


def engine_voice_profile(engine: TTSEngine, params: VoiceParams) -> VoiceProfile:
    """A catalog voice as a conversion target, measured once per (engine, voice) and process.

    Blocking, and it synthesizes: run it on the engine's own worker thread.
    """
    key = (engine.name, params)
    with _targets_lock:
        cached = _targets.get(key)
    if cached is not None:
        return cached
    language = params.language if params.language in TARGET_EXTRA_TEXT else "en"
    text = CALIBRATION_TEXT.get(language, CALIBRATION_TEXT["en"]) + " " + TARGET_EXTRA_TEXT[language]
    synthesis = engine.synthesize(text, params)
    profile = analyse_voice(synthesis.pcm, synthesis.sample_rate, source="calibration")
    with _targets_lock:
        _targets[key] = profile
    return profile


class ConversionUnavailable(RuntimeError):
    """The WORLD vocoder (pyworld) is not installed."""


@dataclass(frozen=True)
class ConversionPlan:
    """What the conversion does to one clip (also what the server logs)."""

    source_f0_hz: float | None  # None: the clip has (almost) no voiced speech
    source_spread_st: float | None
    target_f0_hz: float
    spread_scale: float
    warp: float
    eq_db: tuple[float, ...] | None


@dataclass(frozen=True)
class Converted:
    samples: NDArray[np.float32]  # float in [-1, 1]
    sample_rate: int
    plan: ConversionPlan


def synthesis_rate(source_rate: int, output_rate: int) -> int:
    return max(MIN_SYNTHESIS_RATE, min(int(source_rate), int(output_rate)))


def convert_voice(
    samples: NDArray[np.floating], rate: int, target: VoiceProfile, output_rate: int
) -> Converted:
    """``samples`` (mono float, any rate) spoken in the ``target`` voice, at the synthesis rate.

    The result lasts exactly as long as the input (``round(len * synthesis_rate / rate)`` samples);
    the caller's encoder resamples it to ``output_rate`` when the synthesis rate is lower.
    """
    if pyworld is None:
        raise ConversionUnavailable("the voice changer needs pyworld on the server (pip install pyworld)")
    x = np.asarray(samples, dtype=np.float64)
    out_rate = synthesis_rate(rate, output_rate)
    xs = _resample(x, rate, out_rate)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    no_change = ConversionPlan(None, None, target.f0_median_hz, 1.0, 1.0, None)
    if peak < 1e-4 or len(xs) < out_rate // 20:  # silence or under 50 ms: nothing to convert
        return Converted(xs.astype(np.float32), out_rate, no_change)

    # 1. F0 and the source's average envelope, on a level-normalised 16 kHz copy.
    x16 = dithered(_resample(x * (0.5 / peak), rate, ANALYSIS_RATE))
    f0 = _f0(x16)
    times = np.arange(len(f0), dtype=np.float64) * (FRAME_PERIOD_MS / 1000.0)
    energy = _frame_energy_db(x16, len(f0))
    voiced = f0 > 0
    plan = _plan(f0, x16, times, energy, target)

    # 2. Blockwise envelope/aperiodicity analysis, transform and resynthesis at out_rate.
    f0_out = _map_f0(f0, plan)
    y = _resynthesize(xs * (0.5 / peak), x16, f0, f0_out, times, voiced, energy, out_rate, plan)
    y = fit_length(y, len(xs))
    return Converted(match_rms(y, xs).astype(np.float32), out_rate, plan)


# Analysis ----------------------------------------------------------------------------------------


def _resample(x: NDArray[np.float64], rate: int, to: int) -> NDArray[np.float64]:
    if rate == to or not x.size:
        return np.ascontiguousarray(x, dtype=np.float64)
    return np.asarray(soxr.resample(x, rate, to, quality="HQ"), dtype=np.float64)


def _f0(x16: NDArray[np.float64]) -> NDArray[np.float64]:
    assert pyworld is not None
    raw, times = pyworld.dio(x16, ANALYSIS_RATE, F0_FLOOR_HZ, F0_CEIL_HZ, FRAME_PERIOD_MS)
    f0 = np.asarray(pyworld.stonemask(x16, raw, times, ANALYSIS_RATE), dtype=np.float64)
    return fix_octave_jumps(_drop_short_runs(f0, 3))


def fix_octave_jumps(f0: NDArray[np.float64]) -> NDArray[np.float64]:
    """Fold dio's octave errors back: a voiced frame more than OCTAVE_JUMP_ST away from the running
    median of the voiced frames around it moves by whole octaves towards it, and what is still
    farther than OUTLIER_ST is pulled to that distance. Voicing decisions are kept."""
    voiced = np.flatnonzero(f0 > 0)
    if voiced.size < 3:
        return f0
    st = 12.0 * np.log2(f0[voiced])
    half = MEDIAN_FRAMES // 2
    padded = np.pad(st, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    median = np.median(windows, axis=1)
    diff = st - median
    octaves = np.where(np.abs(diff) > OCTAVE_JUMP_ST, np.round(diff / 12.0), 0.0)
    diff = np.clip(diff - 12.0 * octaves, -OUTLIER_ST, OUTLIER_ST)
    out = f0.copy()
    out[voiced] = 2.0 ** ((median + diff) / 12.0)
    return out


def _drop_short_runs(f0: NDArray[np.float64], min_frames: int) -> NDArray[np.float64]:
    """Unvoice isolated voiced blips (1-2 frames): dio's usual errors on noise."""
    voiced = np.concatenate([[False], f0 > 0, [False]])
    edges = np.flatnonzero(np.diff(voiced.astype(np.int8)))
    out = f0.copy()
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start < min_frames:
            out[start:stop] = 0.0
    return out


def _frame_energy_db(x: NDArray[np.float64], frames: int) -> NDArray[np.float64]:
    """Energy of the 10 ms around each frame centre (vectorised)."""
    hop = int(ANALYSIS_RATE * FRAME_PERIOD_MS / 1000)
    padded = np.pad(x * x, (hop, hop * (frames + 2)))
    cumulative = np.concatenate([[0.0], np.cumsum(padded)])
    starts = np.arange(frames) * hop
    power = (cumulative[starts + 2 * hop] - cumulative[starts]) / (2 * hop)
    return np.asarray(10.0 * np.log10(power + 1e-12), dtype=np.float64)


def source_bands(
    f0: NDArray[np.float64], x16: NDArray[np.float64], times: NDArray[np.float64], energy: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The source's average envelope on the profile's band grid (voiced frames, or loud ones)."""
    assert pyworld is not None
    frames = np.flatnonzero(f0 > 0)
    if frames.size < MIN_VOICED_FRAMES:
        frames = np.flatnonzero(energy > np.max(energy) - 30.0)
    if frames.size > ENVELOPE_FRAMES:
        frames = frames[np.linspace(0, frames.size - 1, ENVELOPE_FRAMES).astype(int)]
    # cheaptrick needs an F0 per frame; unvoiced frames use its default (500 Hz is not used: the
    # estimator substitutes its own for f0 == 0).
    envelope = pyworld.cheaptrick(
        x16, np.ascontiguousarray(f0[frames]), np.ascontiguousarray(times[frames]), ANALYSIS_RATE
    )
    mean_db = 10.0 * np.log10(np.mean(envelope, axis=0) + 1e-16)
    return bands_from_spectrum(mean_db, ANALYSIS_RATE)


def _plan(
    f0: NDArray[np.float64],
    x16: NDArray[np.float64],
    times: NDArray[np.float64],
    energy: NDArray[np.float64],
    target: VoiceProfile,
) -> ConversionPlan:
    voiced_frames = int(np.count_nonzero(f0 > 0))
    source_f0: float | None = None
    spread_st: float | None = None
    scale = 1.0
    if voiced_frames >= MIN_VOICED_FRAMES:
        source_f0, _, _, spread_st = f0_statistics(f0)
        ratio = target.f0_spread_st / max(spread_st, 0.3)
        scale = float(np.clip(ratio, *SPREAD_SCALE_LIMITS))
    warp, eq = 1.0, None
    if target.envelope_db is not None:
        source = source_bands(f0, x16, times, energy)
        wanted = np.asarray(target.envelope_db, dtype=np.float64)
        prior = 1.0 if source_f0 is None else (target.f0_median_hz / source_f0) ** WARP_F0_EXPONENT
        warp = fit_warp(source, wanted, prior)
        residual = wanted - warp_bands(source, warp)
        residual = np.convolve(residual - residual.mean(), [0.25, 0.5, 0.25], mode="same")
        eq = tuple(float(v) for v in np.clip(residual, -EQ_LIMIT_DB, EQ_LIMIT_DB))
    elif target.formant_scale is not None:
        warp = float(np.clip(target.formant_scale, *WARP_LIMITS))
    return ConversionPlan(source_f0, spread_st, target.f0_median_hz, scale, warp, eq)


def warp_bands(bands: NDArray[np.float64], warp: float) -> NDArray[np.float64]:
    """A band envelope after scaling the frequency axis by ``warp`` (env'(f) = env(f / warp))."""
    centres = band_centres_hz()
    return np.asarray(np.interp(centres / warp, centres, bands), dtype=np.float64)


def fit_warp(source: NDArray[np.float64], target: NDArray[np.float64], prior: float = 1.0) -> float:
    """The warp near ``prior`` that best aligns the source's formant region with the target's
    (overall tilt removed: that is the equaliser's job)."""
    centres = band_centres_hz()
    region = (centres >= FIT_BAND_HZ[0]) & (centres <= FIT_BAND_HZ[1])
    low = float(np.clip(prior * (1.0 - WARP_SEARCH), *WARP_LIMITS))
    high = float(np.clip(prior * (1.0 + WARP_SEARCH), *WARP_LIMITS))
    best, best_error = float(np.clip(prior, *WARP_LIMITS)), math.inf
    for warp in np.exp(np.linspace(np.log(low), np.log(high), 33)):
        diff = _detrended(warp_bands(source, float(warp))[region]) - _detrended(target[region])
        error = float(np.mean(diff * diff))
        if error < best_error - 1e-9:
            best, best_error = float(warp), error
    return best


def _detrended(values: NDArray[np.float64]) -> NDArray[np.float64]:
    index = np.arange(len(values), dtype=np.float64)
    slope, intercept = np.polyfit(index, values, 1)
    return np.asarray(values - (slope * index + intercept), dtype=np.float64)


# Transform and resynthesis -----------------------------------------------------------------------


def _map_f0(f0: NDArray[np.float64], plan: ConversionPlan) -> NDArray[np.float64]:
    """Shift the log-F0 median to the target's and scale the excursions; unvoiced stays 0."""
    out = np.zeros_like(f0)
    if plan.source_f0_hz is None:
        return out if not np.any(f0 > 0) else _shift_only(f0, plan.target_f0_hz)
    voiced = f0 > 0
    semitones = 12.0 * np.log2(f0[voiced] / plan.source_f0_hz)
    mapped = plan.target_f0_hz * 2.0 ** (semitones * plan.spread_scale / 12.0)
    out[voiced] = np.clip(mapped, *OUT_F0_LIMITS_HZ)
    return out


def _shift_only(f0: NDArray[np.float64], target_hz: float) -> NDArray[np.float64]:
    out = np.zeros_like(f0)
    voiced = f0 > 0
    out[voiced] = np.clip(f0[voiced] * target_hz / float(np.median(f0[voiced])), *OUT_F0_LIMITS_HZ)
    return out


def _block_bounds(frames: int, voiced: NDArray[np.bool_], energy: NDArray[np.float64]) -> list[int]:
    """Frame indices where blocks start/end: every ~BLOCK_S s, at a quiet unvoiced frame.

    Boundaries are multiples of 4 frames (20 ms), where every supported rate has a whole sample.
    """
    step = int(BLOCK_S * 1000 / FRAME_PERIOD_MS)
    search = int(BLOCK_SEARCH_S * 1000 / FRAME_PERIOD_MS)
    bounds = [0]
    while frames - bounds[-1] > step + search:
        nominal = bounds[-1] + step
        window = np.arange(max(bounds[-1] + step // 2, nominal - search), min(frames - 1, nominal + search))
        window = window[window % 4 == 0]
        cost = energy[window] + np.where(voiced[window], 60.0, 0.0)
        bounds.append(int(window[int(np.argmin(cost))]))
    bounds.append(frames)
    return bounds


def _resynthesize(
    xs: NDArray[np.float64],
    x16: NDArray[np.float64],
    f0_source: NDArray[np.float64],
    f0_target: NDArray[np.float64],
    times: NDArray[np.float64],
    voiced: NDArray[np.bool_],
    energy: NDArray[np.float64],
    out_rate: int,
    plan: ConversionPlan,
) -> NDArray[np.float64]:
    assert pyworld is not None
    frames = len(f0_source)
    period_s = FRAME_PERIOD_MS / 1000.0
    bounds = _block_bounds(frames, voiced, energy)
    total = round((frames - 1) * period_s * out_rate) + 1
    y = np.zeros(max(total, len(xs)) + out_rate, dtype=np.float64)
    signal = dithered(xs)
    fade = CROSSFADE_FRAMES
    for index, (start, stop) in enumerate(itertools.pairwise(bounds)):
        first = start
        last = min(frames, stop + (fade if index < len(bounds) - 2 else 0))
        block_f0 = np.ascontiguousarray(f0_source[first:last])
        # Analyse a slice with 60 ms of context on each side (cheaptrick/d4c windows reach ~3 periods).
        margin = int(0.06 * out_rate)
        lo = max(0, round(times[first] * out_rate) - margin)
        hi = min(len(signal), round(times[last - 1] * out_rate) + margin + 1)
        local_times = np.ascontiguousarray(times[first:last] - lo / out_rate)
        piece = np.ascontiguousarray(signal[lo:hi])
        envelope = pyworld.cheaptrick(piece, block_f0, local_times, out_rate)
        aperiodicity = pyworld.d4c(piece, block_f0, local_times, out_rate)
        envelope = shape_envelope(envelope, out_rate, plan.warp, plan.eq_db)
        audio = np.asarray(
            pyworld.synthesize(
                np.ascontiguousarray(f0_target[first:last]), envelope, aperiodicity, out_rate, FRAME_PERIOD_MS
            ),
            dtype=np.float64,
        )
        offset = round(times[first] * out_rate)
        if index > 0:
            # Cross-fade into the previous block's tail over `fade` frames (a quiet, unvoiced spot).
            span = min(len(audio), round(fade * period_s * out_rate))
            ramp = np.linspace(0.0, 1.0, span, endpoint=False)
            y[offset : offset + span] *= 1.0 - ramp
            audio[:span] *= ramp
            y[offset + span : offset + len(audio)] = 0.0
        end = min(len(y), offset + len(audio))
        y[offset:end] += audio[: end - offset]
    return y


__all__ = [
    "ConversionPlan",
    "ConversionUnavailable",
    "Converted",
    "convert_voice",
    "engine_voice_profile",
    "fit_warp",
    "fix_octave_jumps",
    "source_bands",
    "synthesis_rate",
    "warp_bands",
]
