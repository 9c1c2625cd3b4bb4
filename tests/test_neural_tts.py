"""The neural TTS engines (Piper, Kokoro) on their real, sha256-pinned weights: no mocks.

Kokoro costs about 0.6 CPU s per second of audio, so its sentences here are short.
"""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from gradium.engines.base import Synthesis
from gradium.engines.kokoro import MODEL_PARTS, VOICE_SHA256, KokoroEngine, KokoroVoice, default_voices_dir
from gradium.engines.neural import LocalFile, WeightFile
from gradium.engines.piper import MODELS, PiperEngine, PiperVoice
from gradium.engines.weights import ModelFileError, PackagedFile
from gradium.engines.wordalign import tokenize

FOX = "The quick brown fox jumps over the lazy dog."
HOSTILE = [
    "",
    "...",
    "\ud800",
    "a\ud800b c",
    "\x00\x07\x1b[31m red",
    "hi 😀",
    "a" * 10_000,
]
needs_voices = pytest.mark.skipif(
    not (default_voices_dir() / "af_heart.bin").is_file(),
    reason="Kokoro voices not fetched: run scripts/fetch_kokoro_voices.sh",
)


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    engine = PiperEngine()
    engine.load()
    return engine


@pytest.fixture(scope="module")
def kokoro() -> KokoroEngine:
    engine = KokoroEngine()
    engine.load()
    return engine


def rms(synthesis: Synthesis) -> float:
    return float(np.sqrt(np.mean(synthesis.pcm.astype(np.float64) ** 2)))


def check_speech(synthesis: Synthesis, text: str, min_s: float, max_s: float) -> None:
    """Audible audio of a plausible length; one timed word per token, in order, inside the audio."""
    assert synthesis.pcm.dtype == np.int16
    assert min_s <= synthesis.duration_s <= max_s
    assert rms(synthesis) > 300
    tokens = [token.text for token in tokenize(text)]
    assert [word.text for word in synthesis.words] == tokens
    starts = [word.start_s for word in synthesis.words]
    assert starts == sorted(starts)
    assert len(set(starts)) >= len(starts) - 1  # at most one merged pair shares a start
    for word in synthesis.words:
        assert 0 <= word.start_s < word.stop_s <= synthesis.duration_s + 0.031
    assert synthesis.phonemes
    for phoneme in synthesis.phonemes:
        assert 0 <= phoneme.start_s <= phoneme.stop_s <= synthesis.duration_s + 1e-6


def tampered_copy(source: Path, directory: Path) -> Path:
    copy = directory / source.name
    shutil.copyfile(source, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    return copy


def check_hostile(synthesize: object, text: str) -> None:
    """Odd input is a ValueError or a normal Synthesis, never a crash."""
    try:
        synthesis = synthesize(text)  # type: ignore[operator]
    except ValueError as error:
        assert "phoneme" in str(error)
        return
    assert isinstance(synthesis, Synthesis)
    for word in synthesis.words:
        assert word.stop_s <= synthesis.duration_s + 0.031
        word.text.encode("utf-8")  # no lone surrogates reach the words


# --- Piper ---


def test_piper_speaks_with_word_times(piper: PiperEngine) -> None:
    synthesis = piper.synthesize(FOX, PiperVoice())
    assert synthesis.sample_rate == 22050
    check_speech(synthesis, FOX, 1.5, 5.0)
    assert "ð" in {phoneme.text for phoneme in synthesis.phonemes}


def test_piper_words_across_sentences_and_numbers(piper: PiperEngine) -> None:
    text = "Hello, world! All of the 123 apples cost $4.50."
    synthesis = piper.synthesize(text, PiperVoice())
    check_speech(synthesis, text, 2.5, 9.0)
    # "123" is read as three words: "apples" must not start until it is over.
    times = {word.text: word for word in synthesis.words}
    assert times["apples"].start_s - times["123"].start_s > 0.6


def test_piper_speed(piper: PiperEngine) -> None:
    normal = piper.synthesize(FOX, PiperVoice(noise_w_scale=0.0)).duration_s
    fast = piper.synthesize(FOX, PiperVoice(speed=2.0, noise_w_scale=0.0)).duration_s
    assert 0.4 < fast / normal < 0.65
    with pytest.raises(ValueError):
        piper.synthesize(FOX, PiperVoice(speed=0.0))


def test_piper_threads(piper: PiperEngine) -> None:
    results: dict[int, Synthesis] = {}

    def run(index: int) -> None:
        results[index] = piper.synthesize(f"Stream number {index} is speaking.", PiperVoice())

    threads = [threading.Thread(target=run, args=(index,)) for index in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [0, 1, 2]
    assert all(len(result.words) == 5 for result in results.values())


@pytest.mark.parametrize("text", HOSTILE)
def test_piper_hostile_text(piper: PiperEngine, text: str) -> None:
    check_hostile(lambda t: piper.synthesize(t, PiperVoice()), text)


def test_piper_tampered_or_missing_model(tmp_path: Path) -> None:
    model, config = MODELS["en_US-joe-medium"]
    assert isinstance(model, PackagedFile) and isinstance(config, PackagedFile)
    bad = LocalFile(tampered_copy(model.path(), tmp_path), model.sha256)
    with pytest.raises(ModelFileError, match="sha256"):
        PiperEngine(models={"joe": (bad, config)}).load("joe")
    gone = PackagedFile("not-a-voice==9.9", "not_a_voice_package", "x.onnx", model.sha256)
    with pytest.raises(ModelFileError, match=re.escape("not-a-voice==9.9")):
        PiperEngine(models={"joe": (gone, config)}).load("joe")
    with pytest.raises(ValueError):
        PiperEngine().synthesize("hi", PiperVoice(model="nope"))


# --- Kokoro ---


def test_kokoro_phonemes_match_kokoro_onnx() -> None:
    """Outputs of kokoro-onnx 0.6.1 (phonemizer 3.4.0, espeak-ng from espeakng-loader 0.2.4)."""
    engine = KokoroEngine()  # phonemizing needs no model
    expected = [
        ("Hello, world! How are you today?", "en-US", "həlˈoʊ, wˈɜːld! hˌaʊ ɑːɹ juː tədˈeɪ?"),
        (
            "I have 123 apples and 4.5 pears, costing $19.99 in 2024.",
            "en-US",
            "aɪ hæv wˈʌnhˈʌndɹɪd twˈɛnti θɹˈiː ˈæpəlz ænd fˈɔːɹ pɔɪnt fˈaɪv pˈɛɹz, kˈɔstɪŋ dˈɑːlɚ"
            " nˈaɪntiːn. nˈaɪnti nˈaɪn ɪn tˈuː θˈaʊzənd twˈɛnti fˈɔːɹ",
        ),
        (
            'Dr. Smith lives at 42 Baker St. -- it\'s "great" (really)...',
            "en-GB",
            'dˈɒktə. smˈɪθ lˈaɪvz at fˈɔːti tˈuː bˈeɪkə sənt. ɪts "ɡɹˈeɪt" (ɹˈiəlɪ)...',
        ),
        (
            "Bonjour, je m'appelle Marie. Le weekend, je fais du shopping!",
            "fr",
            "bɔ̃ʒˈuʁ, ʒə mapˈɛl maʁˈi. lə (en)wiːkˈɛnd(fr), ʒə fˈɛ dy (en)ʃˈɒpɪŋ(fr)!",
        ),
        ("¿Dónde está la biblioteca? ¡Hola, señor!", "es", "dˈonde estˈa la βˌiβliotˈeka? ˈola, seɲˈoɾ!"),
        (
            "Olá, tudo bem? Eu moro no Brasil; é ótimo.",
            "pt-BR",
            "olˈa, tˈudʊ bˈeɪŋ? eʊ mˈɔɾʊ nʊ brazˈiʊ; ɛ ˈɔtʃimʊ.",
        ),
        (
            "...and then? Nothing!\n\n!!!\nNew line, here.",
            "en-US",
            "...ænd ðˈɛn? nˈʌθɪŋ! !!! nˈuː lˈaɪn, hˈɪɹ.",
        ),
    ]
    for text, language, ipa in expected:
        assert engine.phonemize(text, KokoroVoice(language=language)) == ipa, text


@needs_voices
def test_kokoro_speaks_with_word_times(kokoro: KokoroEngine) -> None:
    text = "All of the 123 apples, please."
    synthesis = kokoro.synthesize(text, KokoroVoice("af_heart"))
    assert synthesis.sample_rate == 24000
    check_speech(synthesis, text, 1.5, 6.0)
    times = {word.text: word for word in synthesis.words}
    assert times["apples"].start_s - times["123"].start_s > 0.5
    assert synthesis.words[0].start_s < 0.4  # leading silence is trimmed


@needs_voices
@pytest.mark.parametrize(
    ("text", "voice", "language"),
    [
        ("Good morning.", "bf_emma", None),
        ("Bonjour à tous.", "ff_siwis", "fr"),
        ("Buenos días.", "ef_dora", "es"),
        ("Bom dia, gente.", "pf_dora", "pt-BR"),
    ],
)
def test_kokoro_languages(kokoro: KokoroEngine, text: str, voice: str, language: str | None) -> None:
    check_speech(kokoro.synthesize(text, KokoroVoice(voice, language)), text, 0.4, 4.0)


@needs_voices
def test_kokoro_speed(kokoro: KokoroEngine) -> None:
    text = "Speed makes this shorter."
    normal = kokoro.synthesize(text, KokoroVoice("am_michael")).duration_s
    fast = kokoro.synthesize(text, KokoroVoice("am_michael", speed=1.8)).duration_s
    assert 0.4 < fast / normal < 0.75
    with pytest.raises(ValueError):
        kokoro.synthesize(text, KokoroVoice(speed=3.0))


@needs_voices
def test_kokoro_voice_mix(kokoro: KokoroEngine) -> None:
    mix = KokoroVoice((("af_heart", 3.0), ("am_michael", 1.0)))
    expected = 0.75 * kokoro.style(KokoroVoice("af_heart")) + 0.25 * kokoro.style(KokoroVoice("am_michael"))
    np.testing.assert_allclose(kokoro.style(mix), expected, rtol=1e-5, atol=1e-6)
    check_speech(kokoro.synthesize("Mixed voices.", mix), "Mixed voices.", 0.4, 4.0)
    for bad in [KokoroVoice((("af_heart", 0.0),)), KokoroVoice(()), KokoroVoice("xx_nobody")]:
        with pytest.raises(ValueError):
            kokoro.style(bad)
    with pytest.raises(ValueError, match="does not speak 'de'"):
        kokoro.synthesize("Guten Tag", KokoroVoice("af_heart", language="de"))


@needs_voices
@pytest.mark.parametrize("text", HOSTILE)
def test_kokoro_hostile_text(kokoro: KokoroEngine, text: str) -> None:
    check_hostile(lambda t: kokoro.synthesize(t, KokoroVoice()), text)


def test_kokoro_tampered_or_missing_files(tmp_path: Path) -> None:
    parts: list[WeightFile] = list(MODEL_PARTS)
    parts[3] = LocalFile(tampered_copy(MODEL_PARTS[3].path(), tmp_path), MODEL_PARTS[3].sha256)
    with pytest.raises(ModelFileError, match="sha256"):
        KokoroEngine(model_parts=parts).load()
    gone = PackagedFile("kokoro-nothing==1.0", "kokoro_nothing", "part.bin", "0" * 64)
    with pytest.raises(ModelFileError, match=re.escape("kokoro-nothing==1.0")):
        KokoroEngine(model_parts=[*MODEL_PARTS[:3], gone]).load()
    # Voices: a missing directory names the fetch script; an altered file fails its pin.
    with pytest.raises(ModelFileError, match="fetch_kokoro_voices"):
        KokoroEngine(voices_dir=tmp_path / "none").style(KokoroVoice("af_heart"))
    assert len(VOICE_SHA256) == 54


@needs_voices
def test_kokoro_tampered_voice(tmp_path: Path) -> None:
    tampered_copy(default_voices_dir() / "af_heart.bin", tmp_path)
    with pytest.raises(ModelFileError, match="sha256"):
        KokoroEngine(voices_dir=tmp_path).style(KokoroVoice("af_heart"))
