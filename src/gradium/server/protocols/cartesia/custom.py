"""The organisation's custom voices on the Cartesia API: their Voice objects and their rendering.

Custom voices are the Gradium API's (``AccountStore``, scoped by organisation): a cloned, designed,
localized or embedding-made ``VoiceProfile`` rendered by the closest base voice plus the WORLD
transform (``gradium.speech.voice_selection``). Another organisation's voice is unknown here (404).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import timezone
from typing import Any

from gradium.accounts.models import CustomVoice
from gradium.catalog import load_catalog
from gradium.engines.base import VoiceParams
from gradium.server.runtime import Runtime
from gradium.speech.custom_voices import LANGUAGES as BASE_LANGUAGES
from gradium.speech.installed_voices import installed_voice
from gradium.speech.tts import SynthesisTransform
from gradium.speech.voice_profile import VoiceProfile
from gradium.speech.voice_selection import (
    ResolvedVoice,
    UnknownVoiceError,
    prepare_rendering,
    resolve_request_voice,
)

from .voicing import EMBEDDING_SIZE, VoiceSpecError, accented, embedding_from_profile

CLONE_MODES = ("similarity", "stability")
# cfg_coef per clone mode: 2 renders the measured profile, stability stays closer to the clean
# base voice (strength 0.6), the DSP counterpart of Cartesia's "studio-like but less similar".
CLONE_CFG = {"similarity": 2.0, "stability": 1.6}
_FEMININE_HZ, _MASCULINE_HZ = 165.0, 140.0


@dataclass(frozen=True)
class CustomRendering:
    """Engine parameters and the per-segment transform of one request's custom voice."""

    params: VoiceParams
    transform: SynthesisTransform | None


def profile_of(voice: CustomVoice) -> VoiceProfile | None:
    return VoiceProfile.from_json(voice.profile) if voice.profile else None


def gender_of(profile: VoiceProfile | None) -> str:
    if profile is None:
        return "gender_neutral"
    if profile.f0_median_hz >= _FEMININE_HZ:
        return "feminine"
    return "masculine" if profile.f0_median_hz <= _MASCULINE_HZ else "gender_neutral"


def iso_utc(voice: CustomVoice) -> str:
    return voice.created_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def custom_voice_json(voice: CustomVoice, expand: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """A Voice (and VoiceMetadata: ``user_id``, ``is_public``) for one of the caller's voices."""
    profile = profile_of(voice)
    data: dict[str, Any] = {
        "id": voice.uid,
        "user_id": f"org_{voice.org_id}",
        "is_owner": True,
        "is_public": False,
        "name": voice.name,
        "description": voice.description or "",
        "created_at": iso_utc(voice),
        "language": voice.language or "en",
        "gender": gender_of(profile),
        "country": None,
    }
    if "embedding" in expand:
        data["embedding"] = embedding_from_profile(profile, voice.uid) if profile else [0.0] * EMBEDDING_SIZE
    if "is_starred" in expand:
        data["is_starred"] = False  # starring is not offered
    return data


def custom_voice_id(voice: Any) -> str | None:
    """The id of a ``{"mode": "id"}`` specifier that is not a catalog voice (so maybe a custom one)."""
    if not isinstance(voice, dict) or voice.get("mode", "id" if "id" in voice else "embedding") != "id":
        return None
    uid = voice.get("id")
    if not isinstance(uid, str) or not uid or uid in load_catalog() or installed_voice(uid) is not None:
        return None
    return uid


def speak_in(voice: ResolvedVoice, language: str | None) -> ResolvedVoice:
    """The voice speaking ``language`` (its own when None); base voices exist for 5 languages only,
    so other languages keep the base voice's variant and take that language's espeak accent."""
    target = language or voice.language
    if target == voice.language and target in BASE_LANGUAGES:
        return voice
    return replace(voice, language=target, params=accented(voice.params, target))


def clone_cfg(voice: ResolvedVoice) -> float:
    mode = voice.profile.extra.get("clone_mode") if voice.profile else None
    return CLONE_CFG.get(mode if isinstance(mode, str) else "", CLONE_CFG["similarity"])


async def custom_rendering(runtime: Runtime, org_id: int, uid: str, language: str | None) -> CustomRendering:
    """Resolve the organisation's voice (or draft) ``uid``; VoiceSpecError(404) when it has none."""
    try:
        resolved = await asyncio.to_thread(
            resolve_request_voice, runtime.store, org_id, uid, None, flite=runtime.flite_enabled
        )
    except UnknownVoiceError:
        raise VoiceSpecError(f"voice '{uid}' not found: list voices with GET /voices/", 404) from None
    resolved = speak_in(resolved, language)
    slot = runtime.engine_for(resolved.params)
    # The first request for a base voice synthesizes its calibration text: engine thread only.
    loop = asyncio.get_running_loop()
    params, transform = await loop.run_in_executor(
        slot.executor, prepare_rendering, resolved, slot.engine, clone_cfg(resolved)
    )
    return CustomRendering(params, transform)
