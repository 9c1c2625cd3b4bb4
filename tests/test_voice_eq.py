"""The timbre equaliser of cloned neural voices, on real speech (no server needed).

The equaliser must leave timing alone, follow its band gains, and :func:`timbre_eq` must find the
gains that take one recording's timbre to another's: filtering a corpus clip by a known curve and
asking for the way back has to recover that curve.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from conftest import CORPUS
from gradium.audio.files import read_audio_file
from gradium.engines.base import NeuralVoice, Synthesis
from gradium.engines.voice_eq import apply_voice_eq, equalised
from gradium.speech.voice_match import neural_voice_from_json, neural_voice_to_json, timbre_eq, within_peak
from gradium.speech.voice_profile import N_BANDS, analyse_voice, band_centres_hz

RATE = 24000
# A tilt: -8 dB at the lowest band to +8 dB at the highest, as a dull microphone's inverse would be.
TILT = tuple(float(v) for v in np.round(np.linspace(-8.0, 8.0, N_BANDS), 1))


def speech() -> Synthesis:
    samples, _ = read_audio_file(CORPUS / "en_ljspeech_LJ001-0001.wav", RATE)
    return Synthesis((np.asarray(samples) * 16000).astype(np.int16), RATE)


def band_gain_db(before: np.ndarray, after: np.ndarray, hz: float) -> float:
    freqs, p_before = signal.welch(before.astype(np.float64), RATE, nperseg=2048)
    _, p_after = signal.welch(after.astype(np.float64), RATE, nperseg=2048)
    near = np.abs(freqs - hz) < 60
    return float(10 * np.log10(p_after[near].sum() / p_before[near].sum()))


def test_a_flat_equaliser_changes_nothing_and_none_is_skipped() -> None:
    original = speech()
    flat = apply_voice_eq(original, (0.0,) * N_BANDS)
    assert len(flat.pcm) == len(original.pcm)
    assert np.max(np.abs(flat.pcm.astype(int) - original.pcm.astype(int))) <= 2
    assert apply_voice_eq(original, None) is original


def test_the_equaliser_follows_its_band_gains_without_moving_the_speech() -> None:
    original = speech()
    tilted = equalised(original.pcm, RATE, TILT)
    assert len(tilted) == len(original.pcm)
    centres = band_centres_hz()
    for band in (4, 16, 28):
        measured = band_gain_db(original.pcm, tilted, float(centres[band]))
        assert abs(measured - TILT[band]) < 1.5, (band, measured, TILT[band])
    # Zero-delay: the filtered speech lines up with the original (cross-correlation peaks at lag 0).
    a, b = original.pcm[:RATE].astype(np.float64), tilted[:RATE].astype(np.float64)
    lags = signal.correlation_lags(len(a), len(b))
    assert lags[np.argmax(signal.correlate(a, b))] == 0


def test_timbre_eq_recovers_the_curve_between_two_recordings() -> None:
    original = speech()
    target = analyse_voice(equalised(original.pcm, RATE, TILT), RATE).envelope_db
    assert target is not None
    found = np.array(timbre_eq(target, original))
    expected = np.array(TILT) - np.median(TILT)
    assert found.shape == (N_BANDS,)
    # Bands at the edges see little speech energy; the middle of the grid must match closely.
    error = np.abs(found - expected)[2:-2]
    assert float(np.sqrt(np.mean(error**2))) < 1.5, found


def test_a_neural_voice_keeps_its_equaliser_through_json() -> None:
    voice = NeuralVoice("kokoro", (("af_sarah", 0.6), ("bf_lily", 0.4)), "en-US", 1.0, TILT)
    assert neural_voice_from_json(neural_voice_to_json(voice)) == voice
    plain = NeuralVoice("kokoro", "af_heart", "en-US")
    assert "eq_db" not in neural_voice_to_json(plain)
    assert neural_voice_from_json(neural_voice_to_json(plain)) == plain


def test_an_equaliser_that_would_raise_the_peak_is_lowered_as_a_whole() -> None:
    original = speech()
    boost = tuple(float(v) for v in np.round(np.linspace(0.0, 12.0, N_BANDS), 1))
    louder = apply_voice_eq(original, boost)
    assert np.max(np.abs(louder.pcm.astype(int))) > np.max(np.abs(original.pcm.astype(int)))
    kept = within_peak(boost, original)
    assert np.allclose(np.diff(kept), np.diff(boost), atol=0.11)  # same shape, lower level
    peak = np.max(np.abs(apply_voice_eq(original, kept).pcm.astype(int)))
    assert peak <= np.max(np.abs(original.pcm.astype(int))) * 1.02
    cut = tuple(-g for g in boost)  # quieter everywhere: left alone
    assert within_peak(cut, original) == cut
