"""Find the neural voice closest to a speaker: cloning in the voice space of a mixing engine.

Measured on corpus speakers (benchmarks/cloning_neural.py): the best single stock voice reaches a
speaker-encoder similarity of 0.45-0.74 to held-out speech of a real speaker; a mix does better.

1. The sample is embedded with the speaker encoder.
2. Candidate stock voices are those of the speaker's perceived gender, judged from the sample's
   median F0 (the GE2E encoder alone happily matches a woman to a man's voice across languages).
   Moving the mix's pitch to the speaker's by resampling lowered the similarity (LJ Speech 0.73 ->
   0.56, formants move too), so clones keep their mix's own pitch.
3. Non-negative least squares finds the weights whose combination of the candidates' embeddings
   is nearest the sample's: embeddings of Kokoro mixes are close to the mix of the embeddings,
   so this lands near the best mix without rendering (0.66 -> 0.71 to the sample for LJ Speech).
4. In French, Spanish and Portuguese at least half of the mix is the language's own voices
   (:func:`with_native_share`): Kokoro's rhythm and pronunciation live in the style vector too.
5. The mix and the best single voice (for those languages: the nearest native one) are rendered
   once each and the one whose speech is closer to the sample wins (the linear guess is
   occasionally worse than the single voice).
6. Each rendering also gets a timbre equaliser (:func:`timbre_eq`): the smooth per-band gain that
   takes its mean spectral envelope to the sample's, applied to every later synthesis
   (:mod:`gradium.engines.voice_eq`). It carries what no stock voice has: the speaker's own
   resonances and the colour of their microphone and room. On held-out speech of 8 corpus speakers
   it raised the similarity by 0.02-0.13 on 7 of them (LJ Speech 0.736 -> 0.764, FLEURS fr 005
   0.525 -> 0.636); the eighth kept its plain voice (benchmarks/cloning_neural.py). The equalised
   rendering only wins where it is closer to the sample than the plain one.

A greedy search that renders more mixes gained at most 0.03 on the sample and lost on held-out
speech for noisy clips, so it is not done.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import nnls

from gradium.engines.base import NeuralVoice, Synthesis, VoiceMix
from gradium.engines.voice_eq import EqBands, apply_voice_eq
from gradium.speech.voice_profile import VoiceAnalysisError, analyse_voice
from gradium.speech.voice_space import ACCENT_OF_LANGUAGE, ENGINE, StockVoice

# Speakers at or above this median F0 get feminine candidates, below it masculine ones. Offering
# both between 140 and 165 Hz let the gender-blind encoder give a 156 Hz woman (FLEURS es 000)
# a mix of men's voices (129 Hz).
FEMININE_FROM_HZ = 150.0
CANDIDATES = 8  # the stock voices nearest the sample that the mix is fitted over
MIN_WEIGHT = 0.05  # smaller shares are dropped: they change nothing audible

# The equaliser's per-band limit: past it a boost only lifts the engine's noise floor.
EQ_LIMIT_DB = 12.0

Embedding = NDArray[np.float32]
Render = Callable[[NeuralVoice], Synthesis]  # speak the test text with a voice
Embed = Callable[[Synthesis], Embedding]  # the speaker embedding of some speech


@dataclass(frozen=True)
class VoiceMatch:
    """The neural voice chosen for a speaker, and how close each candidate came."""

    voice: NeuralVoice
    similarity: float  # of its rendering to the sample
    best_stock: str  # the single stock voice nearest the sample
    best_stock_similarity: float

    def to_json(self) -> dict[str, object]:
        return {
            **neural_voice_to_json(self.voice),
            "similarity": round(self.similarity, 4),
            "best_stock": self.best_stock,
            "best_stock_similarity": round(self.best_stock_similarity, 4),
        }


def neural_voice_from_json(data: dict[str, object]) -> NeuralVoice:
    raw: Any = data["voice"]
    voice: str | VoiceMix = raw if isinstance(raw, str) else tuple((str(n), float(w)) for n, w in raw)
    pitch: Any = data.get("pitch_factor", 1.0)
    eq: Any = data.get("eq_db")
    eq_db = None if not eq else tuple(float(v) for v in eq)
    return NeuralVoice(str(data["engine"]), voice, str(data["accent"]), float(pitch), eq_db)


def candidate_voices(stock: Sequence[StockVoice], f0_median_hz: float) -> list[StockVoice]:
    """The stock voices of the speaker's perceived gender."""
    feminine = f0_median_hz >= FEMININE_FROM_HZ
    return [v for v in stock if v.feminine == feminine]


def fitted_mix(sample: Embedding, candidates: Sequence[StockVoice]) -> VoiceMix:
    """Non-negative weights of the nearest candidates whose embedding mix best matches the sample."""
    nearest = sorted(candidates, key=lambda v: -float(v.embedding @ sample))[:CANDIDATES]
    matrix = np.stack([v.embedding for v in nearest], axis=1).astype(np.float64)
    weights, _ = nnls(matrix, sample.astype(np.float64))
    floor = MIN_WEIGHT * weights.sum()
    kept = [(v.name, float(w)) for v, w in zip(nearest, weights, strict=True) if w >= floor]
    if not kept:
        return ((nearest[0].name, 1.0),)
    total = sum(w for _, w in kept)
    return tuple(sorted(((name, round(w / total, 3)) for name, w in kept), key=lambda p: -p[1]))


def accent_for(language: str, mix: VoiceMix, stock: Sequence[StockVoice]) -> str:
    """What the clone speaks: its language; for English, British when most of the mix is British."""
    if language != "en":
        return ACCENT_OF_LANGUAGE[language]
    british = {v.name for v in stock if v.accent == "en-GB"}
    share = sum(weight for name, weight in mix if name in british)
    return "en-GB" if share > 0.5 else "en-US"


def match_voice(
    sample: Embedding,
    f0_median_hz: float,
    envelope_db: EqBands | None,
    language: str,
    stock: Sequence[StockVoice],
    render: Render,
    embed: Embed,
) -> VoiceMatch:
    """The mix (or single stock voice), plain or equalised towards ``envelope_db`` (the sample's
    spectral envelope), whose speech is nearest the sample; renders twice."""
    candidates = candidate_voices(stock, f0_median_hz)
    best_stock = max(candidates, key=lambda v: float(v.embedding @ sample))
    mix = fitted_mix(sample, candidates)
    single: VoiceMix = ((best_stock.name, 1.0),)
    if language != "en":
        natives = _natives(stock, language, candidates)
        nearest_native = max(natives, key=lambda v: float(v.embedding @ sample))
        mix = with_native_share(mix, nearest_native.name, {v.name for v in natives})
        single = ((nearest_native.name, 1.0),)
    options = [mix] if mix == single else [mix, single]
    scored: list[tuple[float, NeuralVoice]] = []
    for option in options:
        voice = NeuralVoice(ENGINE, option, accent_for(language, option, stock))
        speech = render(voice)
        scored.append((float(embed(speech) @ sample), voice))
        eq = None if envelope_db is None else timbre_eq(envelope_db, speech)
        if eq is not None:
            eq, equalised = _peak_limited(eq, speech)
            scored.append((float(embed(equalised) @ sample), replace(voice, eq_db=eq)))
    similarity, voice = max(scored, key=lambda pair: pair[0])
    return VoiceMatch(voice, similarity, best_stock.name, float(best_stock.embedding @ sample))


def within_peak(eq_db: EqBands, speech: Synthesis) -> EqBands:
    """``eq_db`` lowered as a whole, where needed, so that the equalised ``speech`` peaks no higher
    than the plain one: a boost must not push the engine's loudest syllables into clipping. On the
    8 corpus clones it lowered the curve by 0-2.5 dB and moved held-out similarity by at most 0.02."""
    return _peak_limited(eq_db, speech)[0]


def _peak_limited(eq_db: EqBands, speech: Synthesis) -> tuple[EqBands, Synthesis]:
    """:func:`within_peak`'s curve and ``speech`` through it (filtered once when nothing changes)."""
    plain = float(np.max(np.abs(speech.pcm.astype(np.float64)), initial=0.0))
    shaped = apply_voice_eq(speech, eq_db)
    peak = float(np.max(np.abs(shaped.pcm.astype(np.float64)), initial=0.0))
    if plain <= 0.0 or peak <= plain:
        return eq_db, shaped
    excess_db = 20.0 * np.log10(peak / plain)
    lowered = tuple(round(g - excess_db, 1) for g in eq_db)
    return lowered, apply_voice_eq(speech, lowered)


def timbre_eq(envelope_db: EqBands, speech: Synthesis) -> EqBands | None:
    """Per-band gains (dB) that take ``speech``'s mean voiced spectral envelope to ``envelope_db``,
    both on the profile's band grid; None when ``speech`` has too little voicing to measure."""
    try:
        rendered = analyse_voice(speech.pcm, speech.sample_rate)
    except VoiceAnalysisError:
        return None
    if rendered.envelope_db is None:
        return None
    gains = np.clip(np.subtract(envelope_db, rendered.envelope_db), -EQ_LIMIT_DB, EQ_LIMIT_DB)
    gains -= np.median(gains)  # shape only: the median band keeps its level
    return tuple(round(float(g), 1) for g in gains)


def _natives(
    stock: Sequence[StockVoice], language: str, candidates: Sequence[StockVoice]
) -> list[StockVoice]:
    """The language's own voices, of the speaker's gender where it has any."""
    own = [v for v in stock if v.language == language]
    return [v for v in own if v in candidates] or own


def with_native_share(mix: VoiceMix, native: str, natives: set[str]) -> VoiceMix:
    """``mix`` with at least NATIVE_SHARE of the language's own voices. Kokoro's rhythm and
    pronunciation live in the style vector too: a French clone made of one US voice lost 65 % of
    its words (round trip), a Portuguese one lost 22 % of its French."""
    share = sum(weight for name, weight in mix if name in natives)
    if share >= NATIVE_SHARE:
        return mix
    scale = (1 - NATIVE_SHARE) / (1 - share)  # the foreign part shrinks; native parts keep theirs
    weights = {name: weight * (1 if name in natives else scale) for name, weight in mix}
    weights[native] = weights.get(native, 0.0) + NATIVE_SHARE - share
    return tuple(sorted(((name, round(w, 3)) for name, w in weights.items()), key=lambda p: -p[1]))


MIN_PITCH_FACTOR, MAX_PITCH_FACTOR = 0.85, 1.2  # beyond this a resampled Kokoro voice sounds odd
NATIVE_SHARE = 0.5  # of a clone or designed voice of fr, es or pt: at least this much its language's own


def designed_voice(
    f0_hz: float, language: str, british: bool, stock: Sequence[StockVoice], rng: random.Random
) -> NeuralVoice:
    """A neural voice for a designed draft: two stock voices of the asked gender and accent mixed at a
    random ratio, pitch-shifted towards ``f0_hz``. Different draws give audibly different voices."""
    accent = "en-GB" if british and language == "en" else ACCENT_OF_LANGUAGE[language]
    gendered = [v for v in candidate_voices(stock, f0_hz) if _sounds_its_gender(v)]
    native = [v for v in gendered if v.accent == accent] or [v for v in gendered if v.language == language]
    mix: tuple[tuple[StockVoice, float], ...]
    if len(native) >= 2:
        first, second = rng.sample(native, 2)
        share = rng.uniform(0.55, 0.85)
        mix = ((first, share), (second, 1 - share))
    else:
        # Too few voices of this gender speak the language (French has one, feminine): take the
        # timbre from voices of that gender elsewhere and the prosody partly from the native one.
        foreign = [v for v in gendered if v not in native]
        first, second = rng.sample(foreign, 2)
        own = native[0] if native else next(v for v in stock if v.language == language)
        share = rng.uniform(0.45, 0.7) * (1 - NATIVE_SHARE)
        mix = ((first, share), (second, 1 - NATIVE_SHARE - share), (own, NATIVE_SHARE))
    mixed_f0 = float(np.exp(sum(weight * np.log(v.f0_hz) for v, weight in mix)))
    pitch = min(max(f0_hz / mixed_f0, MIN_PITCH_FACTOR), MAX_PITCH_FACTOR)
    voices = tuple((v.name, round(weight, 3)) for v, weight in mix)
    return NeuralVoice(ENGINE, voices, accent, round(pitch, 3))


def _sounds_its_gender(voice: StockVoice) -> bool:
    """Some stock voices speak far from their gender's pitch (af_alloy 138 Hz, am_santa 153 Hz):
    a designed "woman" or "man" should not start from them."""
    return voice.f0_hz >= 155 if voice.feminine else voice.f0_hz <= 140


def neural_voice_to_json(voice: NeuralVoice) -> dict[str, object]:
    mix = voice.voice
    return {
        "engine": voice.engine,
        "voice": mix if isinstance(mix, str) else [[name, round(w, 3)] for name, w in mix],
        "accent": voice.accent,
        "pitch_factor": voice.pitch_factor,
        **({} if voice.eq_db is None else {"eq_db": list(voice.eq_db)}),
    }


# The two voices an embedding's gender axis runs between, per language (the flagships' voices).
GENDER_ANCHORS = {
    "en": ("af_heart", "am_michael"),
    "es": ("ef_dora", "em_alex"),
    "pt": ("pf_dora", "pm_alex"),
    "fr": ("ff_siwis", "em_alex"),
}


def gender_blend(gender: float, pitch_semitones: float, language: str) -> NeuralVoice | None:
    """The neural voice at a point of a gender axis (-1 masculine .. +1 feminine): the feminine and
    masculine anchor voices mixed in proportion, pitch moved by ``pitch_semitones``. None where no
    mixing engine speaks ``language``."""
    anchors = GENDER_ANCHORS.get(language)
    if anchors is None:
        return None
    share = min(max((gender + 1) / 2, 0.0), 1.0)
    parts = ((anchors[0], round(share, 3)), (anchors[1], round(1 - share, 3)))
    mix = tuple(part for part in parts if part[1] > 0)
    pitch = min(max(2 ** (pitch_semitones / 12), MIN_PITCH_FACTOR), MAX_PITCH_FACTOR)
    return NeuralVoice(ENGINE, mix, ACCENT_OF_LANGUAGE[language], round(pitch, 3))
