"""Cartesia voice creation: ``voices.clone`` (a clip), ``voices.localize`` and ``voices.create``
(an embedding). Every new voice is one of the organisation's custom voices (``AccountStore``), so
it also works on the Gradium API; creating voices is free, like on the Gradium API.

Decoding, denoising and analysing audio, and calibrating a catalog voice, run off the event loop.
A full voice quota is 409, except on ``/voices/clone``: SDK 2.0.17 retries 409 without the form's
fields (protocol sheet §2), so that route answers 403.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from starlette.datastructures import FormData, UploadFile

from gradium.accounts.errors import VoiceConflict
from gradium.accounts.models import CustomVoice
from gradium.catalog import load_catalog, voice_params
from gradium.engines.voice_transform import calibrate
from gradium.server.runtime import Runtime
from gradium.speech.custom_voices import LANGUAGES as BASE_LANGUAGES
from gradium.speech.custom_voices import (
    MAX_SAMPLE_BYTES,
    SampleError,
    analyse_sample,
    normalise_language,
)
from gradium.speech.tts_models import FORMANT, for_family
from gradium.speech.voice_profile import VoiceProfile, pyworld_available

from .auth import Principal
from .custom import CLONE_MODES, custom_voice_json, profile_of
from .enhance import enhanced_wav
from .voices import Caller, own_voice, store_of
from .voicing import VoiceSpecError, check_embedding, check_language, profile_from_embedding

router = APIRouter()
JsonBody = Annotated[dict[str, Any], Body()]
MAX_NAME_CHARS = 200
# Localize dialects -> espeak-ng accents; the others keep the language's default accent.
DIALECT_ACCENTS = {
    ("en", "uk"): "en", ("en", "us"): "en-us", ("es", "mx"): "es-419", ("es", "pe"): "es-419",
    ("pt", "br"): "pt-br", ("pt", "eu"): "pt", ("fr", "eu"): "fr",
}  # fmt: skip


def _name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise HTTPException(400, "name is required and must not be empty")
    return raw.strip()[:MAX_NAME_CHARS]


def _description(raw: Any) -> str | None:
    if raw is not None and not isinstance(raw, str):
        raise HTTPException(400, "description must be a string")
    return raw


def _language(raw: Any, default: str | None = None) -> str:
    try:
        language = check_language(raw)
    except VoiceSpecError as exc:
        raise HTTPException(400, exc.message) from None
    if language is None and default is None:
        raise HTTPException(400, "language is required")
    return language or str(default)


async def _store_voice(
    request: Request, principal: Principal, quota_status: int, **fields: Any
) -> CustomVoice:
    try:
        return await asyncio.to_thread(store_of(request).create_voice, principal.org_id, **fields)
    except VoiceConflict as exc:
        raise HTTPException(quota_status, str(exc)) from None


# voices.create ---------------------------------------------------------------------------------


@router.post("/voices/")
@router.post("/voices", include_in_schema=False)
async def create_voice(principal: Caller, request: Request, body: JsonBody) -> dict[str, Any]:
    """A voice from an embedding: its four leading values become a stored voice profile."""
    try:
        embedding = check_embedding(body.get("embedding"))
    except VoiceSpecError as exc:
        raise HTTPException(400, exc.message) from None
    language = _language(body.get("language"), "en")
    profile = profile_from_embedding(embedding, language)
    voice = await _store_voice(
        request, principal, 409, name=_name(body.get("name")), language=language,
        description=_description(body.get("description")), profile=profile.to_json(),
    )  # fmt: skip
    return custom_voice_json(voice)


# voices.clone ----------------------------------------------------------------------------------


def _form_flag(form: FormData, key: str) -> bool:
    raw = str(form.get(key) or "false").strip().lower()
    if raw not in ("true", "false", "1", "0"):
        raise HTTPException(400, f"{key} must be true or false")
    return raw in ("true", "1")


def _analyse_clip(data: bytes, enhance: bool) -> tuple[VoiceProfile, str, bytes]:
    """Blocking: (profile, extension, sample to store); an enhanced clip is stored denoised."""
    if len(data) > MAX_SAMPLE_BYTES:
        raise SampleError(f"clip is larger than {MAX_SAMPLE_BYTES // (1024 * 1024)} MB")
    if enhance:
        data = enhanced_wav(data)
    profile, extension = analyse_sample(data, 0.0)
    return profile, extension, data


@router.post("/voices/clone")
async def clone_voice(principal: Caller, request: Request) -> dict[str, Any]:
    """Multipart ``clip``, ``name``, ``language``, ``mode`` and optional ``description``, ``enhance``
    and ``base_voice_id`` (accepted, unused: the base voice is chosen by pitch)."""
    form = await request.form()
    clip = form.get("clip")
    if not isinstance(clip, UploadFile):
        raise HTTPException(400, "the audio clip is missing: send it as the multipart part 'clip'")
    name, description = _name(form.get("name")), _description(form.get("description"))
    mode = str(form.get("mode") or "similarity").strip().lower()
    if mode not in CLONE_MODES:
        raise HTTPException(400, f"mode must be one of {', '.join(CLONE_MODES)}, got {mode!r}")
    enhance = _form_flag(form, "enhance")
    data = await clip.read(MAX_SAMPLE_BYTES + 1)
    try:
        language = normalise_language(str(form.get("language") or "") or None)
        profile, extension, sample = await asyncio.to_thread(_analyse_clip, data, enhance)
    except SampleError as exc:
        raise HTTPException(400, str(exc)) from None
    extra = {**profile.extra, "clone_mode": mode, "enhanced": enhance}
    runtime: Runtime = request.app.state.runtime
    profile = await runtime.match_neural_voice(profile, language)
    voice = await _store_voice(
        request, principal, 403, name=name, language=language, audio=sample, extension=extension,
        description=description, profile=replace(profile, extra=extra).to_json(),
    )  # fmt: skip
    return custom_voice_json(voice)


# voices.localize -------------------------------------------------------------------------------


async def _catalog_profile(runtime: Runtime, voice_id: str) -> VoiceProfile | None:
    """A catalog voice measured as a profile (its calibration: engine thread, cached per process)."""
    catalog_voice = load_catalog().get(voice_id)
    if catalog_voice is None:
        return None
    if not pyworld_available():
        raise HTTPException(400, "localizing a catalog voice needs pyworld on the server")
    # Profiles (and the DSP voices made from them) live on the formant engines: measure the
    # catalog voice's formant rendering.
    params = for_family(voice_params(catalog_voice, flite=runtime.flite_enabled), FORMANT)
    slot = runtime.engine_for(params)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(slot.executor, calibrate, slot.engine, params)


async def _source_profile(request: Request, principal: Principal, voice_id: str) -> VoiceProfile:
    profile = await _catalog_profile(request.app.state.runtime, voice_id)
    if profile is not None:
        return profile
    profile = profile_of(await own_voice(request, principal, voice_id))
    if profile is None:
        raise HTTPException(400, f"voice '{voice_id}' has no voice profile to localize")
    return profile


def localized_profile(profile: VoiceProfile, voice_id: str, language: str, dialect: Any) -> VoiceProfile:
    """The same speaker's traits; the accent is the dialect's (or the language's own)."""
    extra = {k: v for k, v in profile.extra.items() if k != "accent"}
    extra["localized_from"] = voice_id
    accent = DIALECT_ACCENTS.get((language, str(dialect).lower())) if dialect else None
    if accent is not None and language in BASE_LANGUAGES:
        extra["accent"] = accent
    return replace(profile, extra=extra)


@router.post("/voices/localize")
async def localize_voice(principal: Caller, request: Request, body: JsonBody) -> dict[str, Any]:
    """``{voice_id, name, description, language, original_speaker_gender, dialect?}``: a new voice."""
    voice_id = body.get("voice_id")
    if not isinstance(voice_id, str) or not voice_id:
        raise HTTPException(400, "voice_id is required")
    name, description = _name(body.get("name")), _description(body.get("description"))
    language = _language(body.get("language"))
    profile = await _source_profile(request, principal, voice_id)
    new_profile = localized_profile(profile, voice_id, language, body.get("dialect"))
    voice = await _store_voice(
        request, principal, 409, name=name, language=language, description=description,
        profile=new_profile.to_json(),
    )  # fmt: skip
    return custom_voice_json(voice)
