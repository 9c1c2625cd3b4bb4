"""What is measured: the TTS cases (engine, voice, text, sending mode) and the STT corpus clips."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradium.catalog import load_catalog, voice_params
from gradium.engines.base import VoiceParams
from gradium.engines.flite import flite_available

# A French catalog voice always uses espeak-ng; an English flagship voice uses flite when the
# library is installed (the server makes the same choice, gradium.server.runtime.Runtime.engine_for).
ESPEAK_VOICE = "b35yykvVppLXyw_l"  # Elise, fr-FR, flagship
FLITE_VOICE = "LFZvm12tW_z0xfGo"  # Kent, en-US, flagship (flite "rms")

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "short": "Bonjour, votre commande est bien partie.",  # 40 characters
        "long": (
            "Bonjour et bienvenue. Votre commande numéro quarante-deux a été expédiée ce matin depuis "
            "notre entrepôt de Lyon, et elle devrait arriver chez vous demain avant midi. Si vous "
            "n'êtes pas disponible, le livreur laissera un avis de passage, et vous pourrez choisir "
            "un autre créneau sur notre site. Pour toute question, notre équipe reste joignable tous "
            "les jours de huit heures à vingt heures. Merci de votre confiance et à bientôt."
        ),
    },
    "en": {
        "short": "Hello, your order is on its way today.",  # 38 characters
        "long": (
            "Hello and welcome. Your order number forty two left our warehouse this morning, and it "
            "should reach you tomorrow before noon. If you are not at home, the driver will leave a "
            "note, and you can pick another delivery slot on our website. For any question, our team "
            "is available every day from eight in the morning to eight in the evening. Thank you for "
            "your trust, and have a wonderful day with your family and friends."
        ),
    },
}


@dataclass(frozen=True)
class TtsCase:
    engine: str  # "espeak-ng" or "flite"
    voice_id: str
    voice_name: str
    language: str
    text_name: str  # "short" or "long"
    text: str
    mode: str  # "all": one text message; "words": one message per word

    @property
    def key(self) -> str:
        return f"{self.engine}/{self.text_name}/{self.mode}"

    def params(self) -> VoiceParams:
        return voice_params(load_catalog()[self.voice_id], flite=self.engine == "flite")


def tts_cases(texts: dict[str, dict[str, str]] | None = None) -> list[TtsCase]:
    texts = texts or TEXTS
    catalog = load_catalog()
    voices = [("espeak-ng", ESPEAK_VOICE)]
    if flite_available():
        voices.append(("flite", FLITE_VOICE))
    cases = []
    for engine, uid in voices:
        voice = catalog[uid]
        for text_name, text in texts[voice.language].items():
            for mode in ("all", "words"):
                cases.append(TtsCase(engine, uid, voice.name, voice.language, text_name, text, mode))
    return cases


@dataclass(frozen=True)
class RefWord:
    text: str
    end_s: float
    start_s: float = 0.0


@dataclass(frozen=True)
class SttClip:
    name: str
    transcript: str
    pcm24k: bytes  # mono s16le at 24 kHz: the "pcm" input format, what goes over the wire
    duration_s: float
    reference: list[RefWord]  # word end times (see reference.py for how they are derived)
    reference_source: str


def default_corpus() -> Path:
    """../shared/corpus next to the checkout (the repository's evaluation clips)."""
    return Path(__file__).resolve().parents[3].parent / "shared" / "corpus"


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def load_pcm(path: Path, rate: int) -> np.ndarray:
    """Mono int16 at ``rate`` from any corpus file (.raw is s16le 16 kHz)."""
    import soxr
    import sphn

    if path.suffix == ".raw":
        samples = np.frombuffer(path.read_bytes(), dtype="<i2").astype(np.float32) / 32768
        mono = soxr.resample(samples, 16000, rate) if rate != 16000 else samples
    else:
        audio, _ = sphn.read(str(path), sample_rate=rate)
        mono = np.asarray(audio, dtype=np.float32).mean(axis=0)
    return np.asarray(np.clip(mono, -1.0, 1.0) * 32767, dtype="<i2")


def load_clips(corpus: Path, names: list[str] | None, min_duration_s: float) -> list[SttClip]:
    """English corpus clips (all those at least ``min_duration_s`` long, or the ones named)."""
    from gradium.bench.reference import align

    manifest = json.loads((corpus / "manifest.json").read_text())
    clips = []
    for entry in manifest:
        name = str(entry["file"])
        if entry["language"] != "en":
            continue
        if names is not None and name not in names:
            continue
        if names is None and float(entry["duration_s"]) < min_duration_s:
            continue
        transcript = str(entry["transcript"])
        pcm16k = load_pcm(corpus / name, 16000)
        reference, source = align(pcm16k, transcript)
        pcm24k = load_pcm(corpus / name, 24000)
        clips.append(SttClip(name, transcript, pcm24k.tobytes(), len(pcm24k) / 24000, reference, source))
    if not clips:
        raise ValueError(f"no English clips selected in {corpus}")
    return clips
