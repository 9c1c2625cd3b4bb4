"""The voice designer: a text prompt ("a calm, deep-voiced older man with a British accent") becomes
``n`` distinct voice profiles (drafts), without any audio sample.

The prompt's words set the traits the DSP can render (see ``gradium.engines.voice_transform``):

| words | trait |
|---|---|
| woman, female, feminine, girl, lady / man, male, masculine, boy, guy | pitch centre (about 200 / 115 Hz) |
| child, kid, teen, young / old, elderly, senior, mature, aged | pitch, vocal-tract length, pace |
| high, high-pitched, bright / low, deep, bass, low-pitched | pitch +/- 3 semitones |
| fast, quick, rapid, brisk / slow, measured, relaxed, unhurried | speaking rate x1.2 / x0.85 |
| energetic, excited, lively, expressive, cheerful / calm, soothing, monotone, flat, soft | intonation range |
| british, scottish, american, latin american, mexican, brazilian, european/portugal | espeak accent |

Drafts of one request differ by deterministic offsets spread over the request (pitch, tract
length, pace, liveliness), plus a random part, so no two are alike.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from gradium.speech.voice_match import designed_voice, neural_voice_to_json
from gradium.speech.voice_profile import VoiceProfile
from gradium.speech.voice_space import ACCENT_OF_LANGUAGE, stock_voices

MAX_PROMPT_CHARS = 1000
MAX_SAMPLES = 5
TYPICAL_SPEECH_RATE = 5.0  # syllables/s: the median of the corpus's real speakers (docs/voices.md)
TYPICAL_SPREAD_ST = 3.5  # intonation spread of the corpus's read speech
CREDITS_PER_SAMPLE = 100  # designing is billed per draft, like the hosted service

_FEMALE = ("woman", "female", "feminine", "girl", "lady", "she", "her", "mother", "grandmother")
_MALE = ("man", "male", "masculine", "boy", "guy", "he", "his", "father", "grandfather", "gentleman")
_YOUNG = ("child", "kid", "teen", "teenage", "teenager", "young", "youthful")
_OLD = ("old", "older", "elderly", "senior", "mature", "aged", "grandmother", "grandfather")
_HIGH = ("high", "high-pitched", "bright", "squeaky", "shrill")
_LOW = ("low", "deep", "bass", "low-pitched", "gravelly", "husky")
_FAST = ("fast", "quick", "rapid", "brisk", "hurried", "energetic")
_SLOW = ("slow", "measured", "relaxed", "unhurried", "leisurely", "calm")
_LIVELY = ("energetic", "excited", "lively", "expressive", "cheerful", "animated", "enthusiastic")
_FLAT = ("calm", "soothing", "monotone", "flat", "soft", "gentle", "serious")
# (language, accent word) -> espeak voice id
_ACCENTS: dict[tuple[str, str], str] = {
    ("en", "british"): "en",
    ("en", "english"): "en",
    ("en", "scottish"): "en-gb-scotland",
    ("en", "american"): "en-us",
    ("es", "latin"): "es-419",
    ("es", "mexican"): "es-419",
    ("es", "spain"): "es",
    ("es", "castilian"): "es",
    ("pt", "brazilian"): "pt-br",
    ("pt", "european"): "pt",
    ("pt", "portugal"): "pt",
}


@dataclass(frozen=True)
class PromptTraits:
    """What a prompt asked for, as relative moves from a neutral adult voice."""

    f0_hz: float
    formant_scale: float
    rate_scale: float
    spread_scale: float
    accent: str | None


def _has(words: set[str], vocabulary: tuple[str, ...]) -> bool:
    return any(word in words for word in vocabulary)


def read_prompt(prompt: str, language: str) -> PromptTraits:
    words = set(re.findall(r"[a-z][a-z-]*", prompt.lower()))
    female, male = _has(words, _FEMALE), _has(words, _MALE)
    f0 = 200.0 if female and not male else 115.0 if male and not female else 155.0
    semitones, formant, rate, spread = 0.0, 1.0, 1.0, 1.0
    if _has(words, _YOUNG):
        semitones, formant, rate = semitones + 2.0, formant * 1.04, rate * 1.05
    if _has(words, _OLD):
        semitones, formant, rate = semitones - 1.5, formant * 0.97, rate * 0.9
    if _has(words, _HIGH):
        semitones += 3.0
    if _has(words, _LOW):
        semitones -= 3.0
    if _has(words, _FAST):
        rate *= 1.2
    if _has(words, _SLOW):
        rate *= 0.85
    if _has(words, _LIVELY):
        spread *= 1.4
    if _has(words, _FLAT):
        spread *= 0.7
    accents = [voice for (lang, word), voice in _ACCENTS.items() if lang == language and word in words]
    accent = accents[0] if accents else None
    return PromptTraits(f0 * 2 ** (semitones / 12), formant, rate, spread, accent)


def design_profiles(prompt: str, language: str, count: int, seed: int | None = None) -> list[VoiceProfile]:
    """``count`` distinct profiles for the prompt (a fresh random part per call unless ``seed``).
    Each carries a neural voice too (a mix of two stock voices of the asked gender and accent, moved
    to the draft's pitch) in the languages a mixing engine speaks."""
    traits = read_prompt(prompt, language)
    rng = random.Random(seed)
    profiles = []
    for index in range(count):
        # Spread drafts evenly over +/- 1.5 semitones and +/- 3 % tract length, then jitter.
        position = 0.0 if count == 1 else index / (count - 1) * 2 - 1
        semitones = 1.5 * position + rng.uniform(-0.4, 0.4)
        formant = traits.formant_scale * (1 + 0.03 * -position + rng.uniform(-0.01, 0.01))
        f0 = traits.f0_hz * 2 ** (semitones / 12)
        spread = TYPICAL_SPREAD_ST * traits.spread_scale * rng.uniform(0.85, 1.15)
        profiles.append(
            VoiceProfile(
                f0_median_hz=round(f0, 2),
                f0_p10_hz=round(f0 * 2 ** (-1.28 * spread / 12), 2),
                f0_p90_hz=round(f0 * 2 ** (1.28 * spread / 12), 2),
                f0_spread_st=round(spread, 3),
                speech_rate=round(TYPICAL_SPEECH_RATE * traits.rate_scale * rng.uniform(0.94, 1.06), 3),
                envelope_db=None,
                formant_scale=round(formant, 4),
                source="designer",
                extra={"accent": traits.accent} if traits.accent else {},
                neural_voice=_neural_draft(f0, language, traits.accent, rng),
            )
        )
    return profiles


def _neural_draft(
    f0_hz: float, language: str, accent: str | None, rng: random.Random
) -> dict[str, object] | None:
    if language not in ACCENT_OF_LANGUAGE:
        return None
    british = accent in ("en", "en-gb-scotland")
    return neural_voice_to_json(designed_voice(f0_hz, language, british, stock_voices(), rng))
