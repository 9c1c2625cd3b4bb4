"""Cartesia voice specifiers -> engine ``VoiceParams``: voices by id, embeddings and languages.

Cartesia voices are 192-float embeddings. Ours are catalog voices mapped to engine parameters, so
an embedding here is a small, documented coordinate system over those parameters:

    [0] gender (+1 feminine, -1 masculine)   [1] pitch   [2] speaking rate   [3] pitch range

each scaled to about -1..1, followed by 188 per-voice constants that only make ids distinguishable.
``voices.mix`` averages embeddings and a ``{"mode": "embedding"}`` voice renders through
``params_from_embedding``: mixing a low male and a high female voice really yields a voice in
between. ``voices.create`` turns the four leading values into a stored ``VoiceProfile``
(``profile_from_embedding``), and a custom voice's embedding is its profile read back the same way
(``embedding_from_profile``):

    median F0  = 115 Hz x (200 / 115) ** ((gender + 1) / 2) x 2 ** (pitch / 2)   (pitch: +-6 semitones)
    syllables/s = 5.0 x ((175 + 100 x rate) / 175) ** 0.5                          (wpm -> measured rate)
    intonation spread = 3.5 semitones x 2 ** pitch_range

The spectral envelope (timbre) of a cloned voice is not part of the embedding.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from typing import Any

from gradium.catalog import CatalogVoice, load_catalog, voice_params
from gradium.catalog.aliases import canonical_voice_id
from gradium.engines.base import VoiceParams
from gradium.speech.installed_voices import installed_voice, params_of
from gradium.speech.voice_match import gender_blend, neural_voice_to_json
from gradium.speech.voice_profile import VoiceProfile
from gradium.speech.voice_space import speaking

EMBEDDING_SIZE = 192
# Cartesia TTS languages -> espeak-ng voice file ids (Mandarin is "cmn" in espeak-ng).
ESPEAK_LANGUAGES = {
    "en": "en-us", "fr": "fr", "de": "de", "es": "es", "pt": "pt-br", "zh": "cmn", "ja": "ja",
    "hi": "hi", "it": "it", "ko": "ko", "nl": "nl", "pl": "pl", "ru": "ru", "sv": "sv", "tr": "tr",
}  # fmt: skip
_RATE_CENTER, _RATE_SPAN = 175.0, 100.0
# Profile <-> embedding head (see the module docstring); the designer's typical values.
_MALE_HZ, _FEMALE_HZ = 115.0, 200.0
_PITCH_SPAN_ST = 6.0
_TYPICAL_RATE, _TYPICAL_SPREAD_ST = 5.0, 3.5
_RATE_EXPONENT = 0.5  # measured syllable rate ~ wpm ** 0.5 (gradium.engines.voice_transform)


class VoiceSpecError(ValueError):
    """A voice specifier that cannot be used; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def check_language(language: Any) -> str | None:
    if language is None:
        return None
    if not isinstance(language, str) or language.lower() not in ESPEAK_LANGUAGES:
        raise VoiceSpecError(f"unsupported language {language!r}; use one of {', '.join(ESPEAK_LANGUAGES)}")
    return language.lower()


def catalog_embedding(voice: CatalogVoice) -> list[float]:
    """The embedding of a catalog voice: its rendering parameters plus per-voice constants."""
    params = voice_params(voice, flite=False)
    gender = {"Feminine": 1.0, "Masculine": -1.0}.get(voice.gender, 0.0)
    head = [
        gender,
        (params.pitch - 50) / 50,
        (params.rate_wpm - _RATE_CENTER) / _RATE_SPAN,
        (params.pitch_range - 50) / 50,
    ]
    return [round(v, 4) for v in head + _tail(voice.uid)]


def check_embedding(raw: Any) -> list[float]:
    if not isinstance(raw, list) or not raw or len(raw) > 4096:
        raise VoiceSpecError("embedding must be a non-empty list of numbers")
    values: list[float] = []
    for value in raw:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise VoiceSpecError("embedding must contain only finite numbers")
        values.append(float(value))
    return values


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def params_from_embedding(embedding: list[float], language: str, *, flite: bool) -> VoiceParams:
    head = (embedding + [0.0] * 4)[:4]
    gender, pitch, rate, pitch_range = head
    feminine = gender > 0.3
    masculine = gender < -0.3
    variant = "f2" if feminine else ("edward" if masculine else "klatt4")
    use_flite = flite and language == "en" and (feminine or masculine)
    return VoiceParams(
        language=language,
        espeak_voice=f"{ESPEAK_LANGUAGES[language]}+{variant}",
        flite_voice=("slt" if feminine else "rms") if use_flite else None,
        pitch=_clamp(50 + 50 * pitch, 0, 99),
        pitch_range=_clamp(50 + 50 * pitch_range, 0, 99),
        rate_wpm=_clamp(_RATE_CENTER + _RATE_SPAN * rate, 80, 450),
        # Neural engines speak the same point of the gender axis (a mix of two voices), pitch +-3 st.
        neural=gender_blend(gender, 3 * max(-1.0, min(1.0, pitch)), language),
    )


def relocalize(params: VoiceParams, language: str) -> VoiceParams:
    """The same voice speaking another language: keep pitch, pace and variant, swap the accent."""
    return params if params.language == language else accented(params, language)


def accented(params: VoiceParams, language: str) -> VoiceParams:
    """``params`` with the espeak accent of ``language`` (same variant); flite speaks English only."""
    _, _, variant = params.espeak_voice.partition("+")
    espeak = ESPEAK_LANGUAGES[language] + (f"+{variant}" if variant else "")
    flite_voice = params.flite_voice if language == "en" else None
    return replace(
        params, language=language, espeak_voice=espeak, flite_voice=flite_voice,
        neural=speaking(params.neural, language),
    )  # fmt: skip



def resolve_voice_spec(voice: Any, language: str | None, *, flite: bool) -> VoiceParams:
    """``{"mode": "id", "id"}`` or ``{"mode": "embedding", "embedding"}`` -> engine parameters."""
    if not isinstance(voice, dict):
        raise VoiceSpecError('voice must be an object: {"mode": "id", "id": "..."}')
    mode = voice.get("mode", "id" if "id" in voice else "embedding")
    if mode == "id":
        installed = installed_voice(voice.get("id"))
        if installed is not None:
            params = params_of(installed)
            return params if language is None else relocalize(params, language)
        catalog_voice = load_catalog().get(canonical_voice_id(str(voice.get("id"))))
        if catalog_voice is None:
            raise VoiceSpecError(f"voice '{voice.get('id')}' not found: list voices with GET /voices/", 404)
        params = voice_params(catalog_voice, flite=flite)
        return relocalize(params, language) if language else params
    if mode == "embedding":
        return params_from_embedding(check_embedding(voice.get("embedding")), language or "en", flite=flite)
    raise VoiceSpecError(f"unknown voice mode {mode!r}: use 'id' or 'embedding'")


def _unit(value: float) -> float:
    return max(-1.0, min(1.0, value))


def profile_from_embedding(embedding: list[float], language: str) -> VoiceProfile:
    """The voice profile that the embedding's four leading values describe (the tail is ignored),
    with the neural voice at the same point of the gender axis (``gender_blend``)."""
    gender, pitch, rate, pitch_range = (_unit(v) for v in (embedding + [0.0] * 4)[:4])
    neural = gender_blend(gender, pitch * _PITCH_SPAN_ST, language)
    centre = _MALE_HZ * (_FEMALE_HZ / _MALE_HZ) ** ((gender + 1) / 2)
    f0 = centre * 2 ** (pitch * _PITCH_SPAN_ST / 12)
    spread = _TYPICAL_SPREAD_ST * 2**pitch_range
    wpm_ratio = (_RATE_CENTER + _RATE_SPAN * rate) / _RATE_CENTER
    return VoiceProfile(
        f0_median_hz=round(f0, 2),
        f0_p10_hz=round(f0 * 2 ** (-1.28 * spread / 12), 2),
        f0_p90_hz=round(f0 * 2 ** (1.28 * spread / 12), 2),
        f0_spread_st=round(spread, 3),
        speech_rate=round(_TYPICAL_RATE * wpm_ratio**_RATE_EXPONENT, 3),
        source="designer",
        extra={"origin": "embedding"},
        neural_voice=None if neural is None else neural_voice_to_json(neural),
    )


def embedding_from_profile(profile: VoiceProfile, uid: str) -> list[float]:
    """A custom voice's embedding: ``profile_from_embedding`` read backwards, plus per-voice constants."""
    octaves = math.log2(_FEMALE_HZ / _MALE_HZ)
    gender = _unit(2 * math.log2(profile.f0_median_hz / _MALE_HZ) / octaves - 1)
    centre = _MALE_HZ * (_FEMALE_HZ / _MALE_HZ) ** ((gender + 1) / 2)
    pitch = _unit(12 * math.log2(profile.f0_median_hz / centre) / _PITCH_SPAN_ST)
    rate = 0.0
    if profile.speech_rate:
        wpm_ratio = (profile.speech_rate / _TYPICAL_RATE) ** (1 / _RATE_EXPONENT)
        rate = _unit((wpm_ratio - 1) * _RATE_CENTER / _RATE_SPAN)
    pitch_range = _unit(math.log2(max(profile.f0_spread_st, 0.1) / _TYPICAL_SPREAD_ST))
    return [round(v, 4) for v in [gender, pitch, rate, pitch_range, *_tail(uid)]]


def _tail(uid: str) -> list[float]:
    digest = hashlib.sha256(uid.encode()).digest() * 6  # 192 bytes of stable noise
    return [(digest[i] - 127.5) / 1275 for i in range(EMBEDDING_SIZE - 4)]
