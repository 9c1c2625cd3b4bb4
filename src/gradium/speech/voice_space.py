"""The stock voices of a mixing neural engine, placed in speaker-embedding space.

A neural engine whose voices mix linearly (Kokoro: a mix is the weighted mean of style vectors)
spans a space of voices. To find where in it a speaker sits, every stock voice is rendered once
and embedded with the speaker encoder; the embeddings ship with the package
(``catalog/kokoro_speaker_embeddings.json``), so cloning needs no rendering of all 34 voices.
Regenerate the file after changing the engine, its voices or the encoder::

    python -m gradium.speech.voice_space
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gradium.catalog import KOKORO_ACCENT
from gradium.engines.base import NeuralVoice, VoiceParams
from gradium.engines.kokoro import ACCENT_OF_PREFIX, LANGUAGE_OF_ACCENT
from gradium.engines.voice_transform import CALIBRATION_TEXT

EMBEDDINGS_FILE = Path(__file__).resolve().parent.parent / "catalog" / "kokoro_speaker_embeddings.json"
ENGINE = "kokoro"
# What a clone of each language speaks (English clones may turn British: voice_match.accent_for).
ACCENT_OF_LANGUAGE = KOKORO_ACCENT


@dataclass(frozen=True)
class StockVoice:
    name: str  # "af_heart"
    accent: str  # what it was trained to speak: "en-US", "en-GB", "es", "fr", "pt-BR"
    feminine: bool
    embedding: NDArray[np.float32]  # of its rendering of its language's calibration sentences
    f0_hz: float  # median F0 of that rendering (WORLD DIO)

    @property
    def language(self) -> str:
        return LANGUAGE_OF_ACCENT[self.accent]


def speaking(voice: NeuralVoice | None, language: str) -> NeuralVoice | None:
    """The neural voice speaking ``language`` with its timbre kept (Kokoro phonemizes by accent), or
    None where its engine does not speak it (German; Piper's English-only voice)."""
    if voice is None or language == LANGUAGE_OF_ACCENT.get(voice.accent):
        return voice
    accent = ACCENT_OF_LANGUAGE.get(language)
    return None if accent is None or voice.engine != ENGINE else replace(voice, accent=accent)


def calibration_sentences(language: str) -> str:
    """The first two calibration sentences of ``language``: about 5 s of speech."""
    text = CALIBRATION_TEXT.get(language, CALIBRATION_TEXT["en"])
    return text.rsplit(".", 2)[0] + "."


def mixable_voice_names(all_names: list[str]) -> list[str]:
    """The engine's voices of the languages we speak (Kokoro also has it, hi, ja and zh voices)."""
    return [name for name in all_names if name[:1] in ACCENT_OF_PREFIX and name[1:2] in ("f", "m")]


@cache
def stock_voices() -> tuple[StockVoice, ...]:
    """Every mixable stock voice with its embedding, from the shipped file."""
    data = json.loads(EMBEDDINGS_FILE.read_text())
    return tuple(
        StockVoice(
            name,
            ACCENT_OF_PREFIX[name[0]],
            name[1] == "f",
            np.array(vector, dtype=np.float32),
            float(data["f0_hz"][name]),
        )
        for name, vector in sorted(data["embeddings"].items())
    )


def render_params(voice: NeuralVoice, language: str) -> VoiceParams:
    """Engine parameters that speak ``language`` with ``voice`` at the neutral rate."""
    return VoiceParams(language=language, espeak_voice=language, neural=voice)


def median_f0(pcm: NDArray[np.int16], rate: int) -> float:
    import pyworld

    f0, _ = pyworld.dio(pcm.astype(np.float64) / 32768, rate)
    voiced = f0[f0 > 0]
    return float(np.median(voiced)) if voiced.size else 0.0


def write_embeddings(path: Path = EMBEDDINGS_FILE) -> None:
    """Render every mixable Kokoro voice on its language's calibration sentences and embed it."""
    from tqdm import tqdm

    from gradium.engines.neural_tts import KokoroTTS
    from gradium.engines.speaker_encoder import WEIGHTS, speaker_encoder

    tts = KokoroTTS(threads=2)
    encoder = speaker_encoder()
    embeddings: dict[str, list[float]] = {}
    f0s: dict[str, float] = {}
    for name in tqdm(mixable_voice_names(tts.engine.voice_names()), desc="voices"):
        accent = ACCENT_OF_PREFIX[name[0]]
        language = LANGUAGE_OF_ACCENT[accent]
        synthesis = tts.synthesize(
            calibration_sentences(language), render_params(NeuralVoice(ENGINE, name, accent), language)
        )
        vector = encoder.embed(synthesis.pcm.astype(np.float32) / 32768, synthesis.sample_rate)
        embeddings[name] = [round(float(v), 6) for v in vector]
        f0s[name] = round(median_f0(synthesis.pcm, synthesis.sample_rate), 1)
    document = {
        "encoder": WEIGHTS.requirement,
        "text": "calibration_sentences(language of the voice)",
        "f0_hz": f0s,
        "embeddings": embeddings,
    }
    path.write_text(json.dumps(document, indent=0) + "\n")


if __name__ == "__main__":
    write_embeddings()
