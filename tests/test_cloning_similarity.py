"""Measured similarity of cloned voices to real corpus speakers (the table in docs/voices.md).

For each reference speaker: profile 10 s of the recording, resolve the closest base voice, render
test sentences through the clone transform at the default cfg_coef (2), and compare with the
reference and with the untransformed base voice:

* median F0 within 10 % of the reference;
* spectral-envelope distance (RMS dB over 32 mel bands of the mean voiced envelope, mean removed;
  ``envelope_distance_db``) smaller than the base voice's;
* speaking rate (syllable nuclei per second of speaking time) within 20 %;
* English intelligibility: pocketsphinx round-trip WER at most 10 points worse than the base voice.

Run ``python tests/test_cloning_similarity.py`` to print the table.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jiwer
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audio_measure import make_decoder, normalise, recognise
from conftest import CORPUS
from gradium.audio.files import read_audio_file
from gradium.engines.base import TTSEngine
from gradium.engines.espeak import EspeakEngine
from gradium.engines.flite import FliteEngine, flite_available
from gradium.engines.voice_transform import CALIBRATION_TEXT
from gradium.speech.voice_profile import analyse_voice, envelope_distance_db, pyworld_available
from gradium.speech.voice_selection import ResolvedVoice, _custom, prepare_rendering

pytestmark = pytest.mark.skipif(not pyworld_available(), reason="pyworld is not installed")

ENGLISH_SENTENCES = (
    "Please call me back tomorrow morning at nine.",
    "I would like to book a table for two people at seven o'clock tonight.",
    "Turn off the lights in the kitchen and lock the front door.",
    "Can you send the report to my manager before the end of the day?",
)
SPEAKERS = (
    ("en_ljspeech_LJ001-0001.wav", "female, US English (LJ Speech)"),
    ("en_librivox_ss_0870.wav", "male, English (LibriVox)"),
    ("fr_fleurs_003.wav", "higher-pitched, French (FLEURS)"),
    ("de_fleurs_002.wav", "lower-pitched, German (FLEURS)"),
)


@dataclass(frozen=True)
class Row:
    clip: str
    note: str
    base: str
    ref_f0: float
    clone_f0: float
    base_f0: float
    ref_rate: float
    clone_rate: float
    base_rate: float
    clone_distance: float
    base_distance: float
    clone_wer: float | None
    base_wer: float | None

    @property
    def f0_error(self) -> float:
        return self.clone_f0 / self.ref_f0 - 1

    @property
    def rate_error(self) -> float:
        return self.clone_rate / self.ref_rate - 1


def _engine_for(voice: ResolvedVoice) -> TTSEngine:
    return FliteEngine() if voice.params.flite_voice and flite_available() else EspeakEngine()


def _render(
    engine: TTSEngine, voice: ResolvedVoice, sentences: tuple[str, ...], cfg: float
) -> list[np.ndarray]:
    params, transform = prepare_rendering(voice, engine, cfg)
    out = []
    for sentence in sentences:
        synthesis = engine.synthesize(sentence, params)
        if transform is not None:
            synthesis = transform.apply(synthesis)
        out.append(synthesis.pcm)
    return out


def _wer(decoder: object, pcms: list[np.ndarray], rate: int, sentences: tuple[str, ...]) -> float:
    hypotheses = [" ".join(w.word for w in recognise(decoder, pcm, rate)) for pcm in pcms]  # type: ignore[arg-type]
    return float(jiwer.wer([normalise(s) for s in sentences], hypotheses))


@cache
def measure(clip: str, note: str) -> Row:
    samples, rate = read_audio_file(CORPUS / clip)
    reference = analyse_voice(samples[: 10 * rate], rate)
    language = clip[:2]
    voice = _custom("measure", language, reference.to_json(), "custom", flite=flite_available())
    engine = _engine_for(voice)
    sentences = ENGLISH_SENTENCES if language == "en" else (CALIBRATION_TEXT[language],)
    # A different text from the calibration one for English, so the test is not fitted to it.
    clone = _render(engine, voice, sentences, cfg=2.0)
    base = _render(engine, voice, sentences, cfg=1.0)
    out_rate = engine.synthesize("a", voice.params).sample_rate
    clone_profile = analyse_voice(np.concatenate(clone), out_rate)
    base_profile = analyse_voice(np.concatenate(base), out_rate)
    assert reference.envelope_db and clone_profile.envelope_db and base_profile.envelope_db
    assert reference.speech_rate and clone_profile.speech_rate and base_profile.speech_rate
    clone_wer = base_wer = None
    if language == "en":
        decoder = make_decoder()
        clone_wer = _wer(decoder, clone, out_rate, sentences)
        base_wer = _wer(decoder, base, out_rate, sentences)
    return Row(
        clip, note, f"{engine.name} {voice.params.flite_voice or voice.params.espeak_voice}",
        reference.f0_median_hz, clone_profile.f0_median_hz, base_profile.f0_median_hz,
        reference.speech_rate, clone_profile.speech_rate, base_profile.speech_rate,
        envelope_distance_db(clone_profile.envelope_db, reference.envelope_db),
        envelope_distance_db(base_profile.envelope_db, reference.envelope_db),
        clone_wer, base_wer,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("clip", "note"), SPEAKERS, ids=[s[0].split(".")[0] for s in SPEAKERS])
def test_clone_matches_reference_speaker(clip: str, note: str) -> None:
    row = measure(clip, note)
    assert abs(row.f0_error) <= 0.10, row
    assert row.clone_distance < row.base_distance, row
    assert abs(row.rate_error) <= 0.20, row
    if row.clone_wer is not None and row.base_wer is not None:
        assert row.clone_wer <= row.base_wer + 0.10, row


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| reference clip | speaker | base voice | median F0 ref / clone / base (Hz) | F0 error |"
        " rate ref / clone / base (syll/s) | rate error | envelope distance clone / base (dB) |"
        " WER clone / base |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        wer = "n/a (no STT)" if r.clone_wer is None else f"{r.clone_wer:.2f} / {r.base_wer:.2f}"
        lines.append(
            f"| {r.clip} | {r.note} | {r.base} | {r.ref_f0:.0f} / {r.clone_f0:.0f} / {r.base_f0:.0f} |"
            f" {r.f0_error:+.1%} | {r.ref_rate:.2f} / {r.clone_rate:.2f} / {r.base_rate:.2f} |"
            f" {r.rate_error:+.1%} | {r.clone_distance:.1f} / {r.base_distance:.1f} | {wer} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table([measure(clip, note) for clip, note in SPEAKERS]))
