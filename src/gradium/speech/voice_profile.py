"""What a voice sample says about its speaker: pitch, pitch range, pace and spectral envelope.

A :class:`VoiceProfile` is the whole "embedding" of a cloned or designed voice. It is small, JSON-
serialisable and engine-independent; ``gradium.engines.voice_transform`` turns TTS output into it.

Analysis runs the WORLD vocoder's estimators (``pyworld``) on 16 kHz audio:

* **F0**: harvest (robust on real recordings) or dio+stonemask (fast, for synthetic speech); the
  median, the 10th/90th percentiles and the spread of log-F0 over voiced frames.
* **Speaking rate**: voiced runs per second of speaking time. A voiced run is roughly one syllable
  nucleus; speaking time excludes pauses (quiet stretches of 250 ms or more), so the number does not
  depend on how much silence surrounds the sample.
* **Spectral envelope ("timbre")**: cheaptrick's F0-independent envelope, averaged over voiced frames
  in dB on a mel-spaced band grid, with its mean removed so that recording level does not count.

WORLD reads exact digital silence (espeak's pauses) as nonsense F0, so a fixed, very quiet dither
(about -80 dBFS, engines.md 4.4) is added before analysis; the fixed seed keeps results reproducible.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import soxr
from numpy.typing import NDArray

try:  # pyworld builds from an sdist; keep the server importable where the build failed.
    import pyworld
except ImportError:  # pragma: no cover - exercised only on machines without a C compiler
    pyworld = None

ANALYSIS_RATE = 16_000
FRAME_PERIOD_MS = 5.0
F0_FLOOR_HZ, F0_CEIL_HZ = 60.0, 500.0
DITHER = 1e-4
N_BANDS = 32
BAND_LOW_HZ, BAND_HIGH_HZ = 80.0, 7600.0  # 16 kHz references carry nothing above 8 kHz
PAUSE_MIN_S = 0.25
PAUSE_BELOW_DB = 35.0  # frames this far below the loudest ones are quiet
SMOOTH_S = 0.04  # loudness smoothing before peak picking
PEAK_PROMINENCE_DB = 3.0
MIN_SYLLABLE_S = 0.08  # two nuclei closer than this are one syllable
MIN_VOICED_S = 1.0  # a sample with less voiced speech than this cannot be profiled
EQ_TOP_HZ = 7000.0  # references are often 16 kHz recordings: band gains are held above this
PEAK_LIMIT = 0.97  # about -0.3 dBFS: resynthesized speech never clips


class VoiceAnalysisError(ValueError):
    """The sample holds too little usable speech to build a profile."""


def pyworld_available() -> bool:
    return pyworld is not None


@dataclass(frozen=True)
class VoiceProfile:
    """A speaker's measurable traits. ``None`` fields are not constrained (the base voice's stay)."""

    f0_median_hz: float
    f0_p10_hz: float
    f0_p90_hz: float
    f0_spread_st: float  # standard deviation of F0 in semitones (intonation liveliness)
    speech_rate: float | None = None  # voiced runs per second of speaking time
    envelope_db: tuple[float, ...] | None = None  # N_BANDS mean-removed dB values (None: keep base)
    formant_scale: float | None = None  # explicit envelope warp (designer); None: fit from envelope
    source: str = "sample"  # "sample" (cloned), "designer" or "calibration"
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. analysed duration, voiced seconds
    # The sample's GE2E speaker embedding (gradium.engines.speaker_encoder); None for designed voices.
    speaker_embedding: tuple[float, ...] | None = None
    # The neural voice matched to it (gradium.speech.voice_match.VoiceMatch.to_json); None: WORLD DSP.
    neural_voice: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["envelope_db"] = None if self.envelope_db is None else [round(v, 2) for v in self.envelope_db]
        if self.speaker_embedding is not None:
            data["speaker_embedding"] = [round(v, 5) for v in self.speaker_embedding]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VoiceProfile:
        envelope = data.get("envelope_db")
        embedding = data.get("speaker_embedding")
        return cls(
            f0_median_hz=float(data["f0_median_hz"]),
            f0_p10_hz=float(data["f0_p10_hz"]),
            f0_p90_hz=float(data["f0_p90_hz"]),
            f0_spread_st=float(data["f0_spread_st"]),
            speech_rate=None if data.get("speech_rate") is None else float(data["speech_rate"]),
            envelope_db=None if envelope is None else tuple(float(v) for v in envelope),
            formant_scale=None if data.get("formant_scale") is None else float(data["formant_scale"]),
            source=str(data.get("source", "sample")),
            extra=dict(data.get("extra") or {}),
            speaker_embedding=None if embedding is None else tuple(float(v) for v in embedding),
            neural_voice=dict(data["neural_voice"]) if data.get("neural_voice") else None,
        )

    def summary(self) -> dict[str, Any]:
        """The human-readable part shown in voice listings."""
        return {
            "f0_median_hz": round(self.f0_median_hz, 1),
            "f0_range_hz": [round(self.f0_p10_hz, 1), round(self.f0_p90_hz, 1)],
            "speech_rate": None if self.speech_rate is None else round(self.speech_rate, 2),
            "source": self.source,
            "neural_voice": self.neural_voice,
        }


def band_centres_hz() -> NDArray[np.float64]:
    """Centre frequencies of the envelope bands, evenly spaced on the mel scale."""
    low, high = _mel(BAND_LOW_HZ), _mel(BAND_HIGH_HZ)
    return _hz(np.linspace(low, high, N_BANDS))


def _mel(hz: float | NDArray[np.float64]) -> Any:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _hz(mel: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(700.0 * (10.0 ** (mel / 2595.0) - 1.0), dtype=np.float64)


Bands = tuple[float, ...] | NDArray[np.float64]


def envelope_distance_db(a: Bands, b: Bands) -> float:
    """RMS difference in dB between two mean-removed band envelopes (0 = same timbre)."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    diff = (x - x.mean()) - (y - y.mean())
    return float(np.sqrt(np.mean(diff * diff)))


@dataclass(frozen=True)
class WorldFeatures:
    """WORLD analysis of one signal: F0 track, spectral envelope and aperiodicity per 5 ms frame."""

    f0: NDArray[np.float64]
    envelope: NDArray[np.float64]  # (frames, fft_size // 2 + 1) power spectrum
    aperiodicity: NDArray[np.float64] | None
    sample_rate: int
    frame_energy_db: NDArray[np.float64]


def to_float(samples: NDArray[Any]) -> NDArray[np.float64]:
    """int16 or float samples -> float64 in [-1, 1]."""
    if samples.dtype == np.int16:
        return samples.astype(np.float64) / 32768.0
    return samples.astype(np.float64)


def dithered(x: NDArray[np.float64]) -> NDArray[np.float64]:
    noise = np.random.default_rng(20240229).normal(0.0, DITHER, size=x.shape)
    return np.ascontiguousarray(x + noise)


def world_analysis(
    x: NDArray[np.float64], rate: int, *, robust_f0: bool, aperiodicity: bool
) -> WorldFeatures:
    """Run WORLD on ``x`` (float64). ``robust_f0`` picks harvest over dio+stonemask."""
    if pyworld is None:
        raise RuntimeError("pyworld is not installed: pip install pyworld (needs gcc)")
    signal = dithered(x)
    if robust_f0:
        f0, times = pyworld.harvest(signal, rate, F0_FLOOR_HZ, F0_CEIL_HZ, FRAME_PERIOD_MS)
    else:
        raw, times = pyworld.dio(signal, rate, F0_FLOOR_HZ, F0_CEIL_HZ, FRAME_PERIOD_MS)
        f0 = pyworld.stonemask(signal, raw, times, rate)
    envelope = pyworld.cheaptrick(signal, f0, times, rate)
    ap = pyworld.d4c(signal, f0, times, rate) if aperiodicity else None
    return WorldFeatures(f0, envelope, ap, rate, _frame_energy_db(x, rate, len(f0)))


def world_synthesize(
    f0: NDArray[np.float64], envelope: NDArray[np.float64], aperiodicity: NDArray[np.float64], rate: int
) -> NDArray[np.float64]:
    if pyworld is None:
        raise RuntimeError("pyworld is not installed: pip install pyworld (needs gcc)")
    return np.asarray(pyworld.synthesize(f0, envelope, aperiodicity, rate, FRAME_PERIOD_MS), dtype=np.float64)


def shape_envelope(
    envelope: NDArray[np.float64], rate: int, warp: float, eq_db: Bands | None
) -> NDArray[np.float64]:
    """A WORLD envelope with its frequency axis warped by ``warp`` (vocal-tract length: >1 moves
    every formant up) and then equalised by ``eq_db`` (dB per mel band, held above EQ_TOP_HZ)."""
    bins = envelope.shape[1]
    shaped = envelope
    if abs(warp - 1.0) > 1e-3:
        # env'(f) = env(f / warp), by linear interpolation between neighbouring bins.
        source = np.clip(np.arange(bins) / warp, 0, bins - 1)
        low = np.floor(source).astype(int)
        high = np.minimum(low + 1, bins - 1)
        frac = source - low
        shaped = envelope[:, low] * (1.0 - frac) + envelope[:, high] * frac
    if eq_db is not None:
        freqs = np.linspace(0.0, rate / 2, bins)
        gains_db = np.interp(np.minimum(freqs, EQ_TOP_HZ), band_centres_hz(), np.asarray(eq_db))
        shaped = shaped * 10.0 ** (gains_db / 10.0)  # power spectrum: 10 log10
    return np.ascontiguousarray(shaped)


def fit_length(y: NDArray[np.float64], length: int) -> NDArray[np.float64]:
    """``y`` cut or zero-padded to ``length`` samples (WORLD rounds lengths to whole frames)."""
    if len(y) >= length:
        return y[:length]
    return np.pad(y, (0, length - len(y)))


def match_rms(y: NDArray[np.float64], reference: NDArray[np.float64]) -> NDArray[np.float64]:
    """``y`` at the RMS level of ``reference`` (an equaliser changes loudness), never above PEAK_LIMIT."""
    rms_y = float(np.sqrt(np.mean(y * y))) if y.size else 0.0
    if rms_y > 1e-9:
        y = y * (float(np.sqrt(np.mean(reference * reference))) / rms_y)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return y * (PEAK_LIMIT / peak) if peak > PEAK_LIMIT else y


def _frame_energy_db(x: NDArray[np.float64], rate: int, frames: int) -> NDArray[np.float64]:
    hop = int(rate * FRAME_PERIOD_MS / 1000)
    padded = np.pad(x, (hop, hop + frames * hop))
    power = np.array([np.mean(padded[i * hop : i * hop + 2 * hop] ** 2) for i in range(frames)])
    return np.asarray(10.0 * np.log10(power + 1e-12), dtype=np.float64)


def band_envelope_db(features: WorldFeatures, voiced: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Mean voiced-frame envelope in dB on the band grid, mean removed."""
    if not voiced.any():
        raise VoiceAnalysisError("no voiced speech found")
    mean_db = 10.0 * np.log10(np.mean(features.envelope[voiced], axis=0) + 1e-16)
    return bands_from_spectrum(mean_db, features.sample_rate)


def bands_from_spectrum(spectrum_db: NDArray[np.float64], rate: int) -> NDArray[np.float64]:
    """Sample a dB spectrum (fft_size // 2 + 1 bins) at the band centres; mean removed."""
    freqs = np.linspace(0.0, rate / 2, spectrum_db.shape[-1])
    bands = np.interp(band_centres_hz(), freqs, spectrum_db)
    return np.asarray(bands - bands.mean(), dtype=np.float64)


def speech_rate(features: WorldFeatures) -> float:
    """Syllables per second of speaking time (pauses of PAUSE_MIN_S or more left out).

    A syllable is a voiced peak of the smoothed loudness contour that stands at least
    PEAK_PROMINENCE_DB above the dips on both sides (a nucleus-counting method that works the same on
    real and synthetic speech; counting voiced runs did not, because F0 trackers bridge voicing
    differently on each).
    """
    frame_s = FRAME_PERIOD_MS / 1000
    energy = features.frame_energy_db
    loud = energy > energy.max() - PAUSE_BELOW_DB
    quiet_runs = _runs(~loud, max_gap=0)
    pause_frames = sum(stop - start for start, stop in quiet_runs if (stop - start) * frame_s >= PAUSE_MIN_S)
    speaking_s = (len(energy) - pause_frames) * frame_s
    if speaking_s <= 0:
        return 0.0
    width = max(1, round(SMOOTH_S / frame_s))
    contour = np.convolve(energy, np.hanning(width + 2)[1:-1] / np.hanning(width + 2)[1:-1].sum(), "same")
    peaks = _prominent_peaks(contour, PEAK_PROMINENCE_DB, round(MIN_SYLLABLE_S / frame_s))
    voiced = features.f0 > 0
    nuclei = [i for i in peaks if loud[i] and voiced[max(0, i - 4) : i + 5].any()]
    return len(nuclei) / speaking_s


def _prominent_peaks(contour: NDArray[np.float64], prominence: float, min_distance: int) -> list[int]:
    """Local maxima whose height above the lower of the two neighbouring minima is >= prominence."""
    peaks: list[int] = []
    rising = np.diff(contour)
    maxima = np.flatnonzero((np.hstack([[1.0], rising]) > 0) & (np.hstack([rising, [-1.0]]) <= 0))
    for index in maxima:
        left = contour[max(0, index - 60) : index + 1].min()  # dips within 300 ms
        right = contour[index : index + 61].min()
        if contour[index] - max(left, right) < prominence:
            continue
        if peaks and index - peaks[-1] < min_distance:
            if contour[index] > contour[peaks[-1]]:
                peaks[-1] = int(index)
            continue
        peaks.append(int(index))
    return peaks


def _runs(mask: NDArray[np.bool_], *, max_gap: int) -> list[tuple[int, int]]:
    """(start, stop) frame ranges where ``mask`` holds, bridging gaps of up to ``max_gap`` frames."""
    runs: list[tuple[int, int]] = []
    index = np.flatnonzero(mask)
    if index.size == 0:
        return runs
    start = prev = int(index[0])
    for i in index[1:]:
        if i - prev > max_gap + 1:
            runs.append((start, prev + 1))
            start = int(i)
        prev = int(i)
    runs.append((start, prev + 1))
    return runs


def f0_statistics(f0: NDArray[np.float64]) -> tuple[float, float, float, float]:
    """(median, p10, p90, spread in semitones) of the voiced frames."""
    voiced = f0[f0 > 0]
    semitones = 12.0 * np.log2(voiced)
    return (
        float(np.median(voiced)),
        float(np.percentile(voiced, 10)),
        float(np.percentile(voiced, 90)),
        float(np.std(semitones)),
    )


def analyse_voice(
    samples: NDArray[Any], rate: int, *, robust_f0: bool = False, source: str = "sample"
) -> VoiceProfile:
    """Profile a speech sample (mono, any rate). CPU-bound: call it off the event loop."""
    x = to_float(samples)
    if rate != ANALYSIS_RATE:
        x = np.asarray(soxr.resample(x, rate, ANALYSIS_RATE, quality="HQ"), dtype=np.float64)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak < 1e-4:
        raise VoiceAnalysisError("the sample is silent")
    x = x * (0.5 / peak)  # level-independent analysis; very quiet recordings are common (corpus)
    features = world_analysis(x, ANALYSIS_RATE, robust_f0=robust_f0, aperiodicity=False)
    voiced = features.f0 > 0
    voiced_s = float(voiced.sum()) * FRAME_PERIOD_MS / 1000
    if voiced_s < MIN_VOICED_S:
        raise VoiceAnalysisError(
            f"the sample has only {voiced_s:.1f} s of voiced speech; at least {MIN_VOICED_S:g} s is needed"
        )
    median, p10, p90, spread = f0_statistics(features.f0)
    return VoiceProfile(
        f0_median_hz=median,
        f0_p10_hz=p10,
        f0_p90_hz=p90,
        f0_spread_st=spread,
        speech_rate=speech_rate(features),
        envelope_db=tuple(float(v) for v in band_envelope_db(features, voiced)),
        source=source,
        extra={"analysed_s": round(len(x) / ANALYSIS_RATE, 2), "voiced_s": round(voiced_s, 2)},
    )


def semitones(ratio: float) -> float:
    return 12.0 * math.log2(ratio)
