"""Gradium voice routes: the catalog, custom (cloned) voices and the voice designer (protocol §9).

Every custom voice and draft belongs to the caller's organisation; another organisation's is a 404,
exactly like one that never existed.
"""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from gradium import metrics
from gradium.accounts.errors import InsufficientCredits, UnknownDraft, UnknownVoice, VoiceConflict
from gradium.accounts.store import AccountStore, ApiKey
from gradium.catalog import describe_voice, load_catalog
from gradium.server.auth import require_api_key
from gradium.server.runtime import Runtime
from gradium.speech.custom_voices import (
    LANGUAGES,
    MAX_SAMPLE_BYTES,
    SampleError,
    check_input_format,
    clone_voice,
    describe_custom_voice,
    normalise_language,
    reanalyse_voice,
)
from gradium.speech.voice_designer import CREDITS_PER_SAMPLE, MAX_PROMPT_CHARS, MAX_SAMPLES, design_profiles
from gradium.speech.voice_profile import VoiceProfile

router = APIRouter()
Key = Annotated[ApiKey, Depends(require_api_key)]
DRAFT_LIFETIME = timedelta(hours=24)


def store_of(request: Request) -> AccountStore:
    store: AccountStore = request.app.state.runtime.store
    return store


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() in {"1", "true", "yes"}


def _not_found(uid: str) -> HTTPException:
    return HTTPException(404, f"voice '{uid}' not found")


# Catalog and custom voices ---------------------------------------------------------------------


@router.get("/voices/")
@router.get("/voices", include_in_schema=False)
async def list_voices(
    key: Key, request: Request, limit: int | None = None, skip: int = 0, include_catalog: str | None = None
) -> list[dict[str, Any]]:
    """The organisation's voices; ``include_catalog=1`` adds the catalog. ``limit=0`` means all."""
    custom = await asyncio.to_thread(store_of(request).list_voices, key.org_id)
    voices = [describe_custom_voice(v) for v in custom]
    if _flag(include_catalog):
        voices += [describe_voice(v) for v in load_catalog().values()]
    voices = voices[max(skip, 0) :]
    return voices if not limit or limit < 0 else voices[:limit]


@router.get("/voices/{uid}")
async def get_voice(uid: str, key: Key, request: Request) -> dict[str, Any]:
    catalog_voice = load_catalog().get(uid)
    if catalog_voice is not None:
        return describe_voice(catalog_voice)
    try:
        voice = await asyncio.to_thread(store_of(request).get_voice, key.org_id, uid)
    except UnknownVoice:
        raise _not_found(uid) from None
    return describe_custom_voice(voice)


def _start_s(value: str | None) -> float:
    if value is None or value.strip() == "":
        return 0.0
    try:
        start = float(value)
    except ValueError:
        raise HTTPException(400, f"start_s must be a number of seconds, got {value!r}") from None
    if not math.isfinite(start) or start < 0:
        raise HTTPException(400, f"start_s must be a non-negative number of seconds, got {value!r}")
    return start


@router.post("/voices/", status_code=201)
@router.post("/voices", status_code=201, include_in_schema=False)
async def create_voice(
    key: Key,
    request: Request,
    audio_file: Annotated[UploadFile, File(description="wav, flac, mp3 or ogg/opus; <= 10 MB, <= 60 s")],
    name: Annotated[str | None, Form()] = None,
    language: Annotated[str | None, Form()] = None,
    start_s: Annotated[str | None, Form()] = None,
    description: Annotated[str | None, Form()] = None,
    input_format: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    """Clone a voice from about 10 s of speech starting at ``start_s``."""
    data = await audio_file.read(MAX_SAMPLE_BYTES + 1)
    if len(data) > MAX_SAMPLE_BYTES:
        raise HTTPException(413, f"audio_file is larger than {MAX_SAMPLE_BYTES // (1024 * 1024)} MB")
    if not data:
        raise HTTPException(400, "audio_file is empty")
    voice_name = (name or "").strip() or (audio_file.filename or "").strip() or "custom voice"
    try:
        check_input_format(input_format)
        voice = await clone_voice(
            store_of(request),
            key.org_id,
            data,
            name=voice_name[:200],
            language=language,
            start_s=_start_s(start_s),
            description=description,
            match=_runtime(request).match_neural_voice,
        )
    except SampleError as exc:
        raise HTTPException(400, str(exc)) from None
    except VoiceConflict as exc:
        raise HTTPException(409, str(exc)) from None
    # The hosted API answers {"uid", "error", "was_updated"}; the whole voice comes along.
    return {**describe_custom_voice(voice), "error": None, "was_updated": False}


class VoiceUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    description: str | None = None
    start_s: float | None = None
    language: str | None = None


@router.put("/voices/{uid}")
async def update_voice(uid: str, body: VoiceUpdate, key: Key, request: Request) -> dict[str, Any]:
    if uid in load_catalog():
        raise HTTPException(403, f"voice '{uid}' is a catalog voice and cannot be changed")
    store = store_of(request)
    try:
        voice = await asyncio.to_thread(store.get_voice, key.org_id, uid)
        language = None if body.language is None else normalise_language(body.language)
        profile = None
        match = _runtime(request).match_neural_voice
        if body.start_s is not None and body.start_s != voice.start_s:
            if not math.isfinite(body.start_s) or body.start_s < 0:
                raise SampleError("start_s must be a non-negative number of seconds")
            profile = (await reanalyse_voice(store, voice, body.start_s, match, language)).to_json()
        elif language is not None and language != voice.language and voice.profile:
            # The neural voice speaks the voice's language (its accent): match it again.
            profile = (await match(VoiceProfile.from_json(voice.profile), language)).to_json()
        if body.name is not None and not body.name.strip():
            raise SampleError("name must not be empty")
        voice = await asyncio.to_thread(
            store.update_voice, key.org_id, uid, name=body.name, description=body.description,
            language=language, start_s=body.start_s, profile=profile,
        )
    except UnknownVoice:
        raise _not_found(uid) from None
    except SampleError as exc:
        raise HTTPException(400, str(exc)) from None
    return describe_custom_voice(voice)


@router.delete("/voices/{uid}")
async def delete_voice(uid: str, key: Key, request: Request) -> Response:
    if uid in load_catalog():
        raise HTTPException(403, f"voice '{uid}' is a catalog voice and cannot be deleted")
    try:
        await asyncio.to_thread(store_of(request).delete_voice, key.org_id, uid)
    except UnknownVoice:
        raise _not_found(uid) from None
    # The client parses every 2xx as JSON: an empty 204 still needs a JSON content type (§13.30).
    return Response(status_code=204, media_type="application/json")


# Voice designer --------------------------------------------------------------------------------


class GenerateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt: str
    language: str = "en"
    n_samples: int = 1


@router.post("/voice-generator/generate")
async def generate(body: GenerateBody, key: Key, request: Request) -> dict[str, Any]:
    """Design ``n_samples`` draft voices from a prompt; billed per draft, drafts expire in 24 h."""
    prompt = body.prompt.strip()
    if not prompt:
        raise HTTPException(400, "prompt must describe the voice, e.g. 'a calm, deep-voiced older man'")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise HTTPException(400, f"prompt is longer than {MAX_PROMPT_CHARS} characters")
    if not 1 <= body.n_samples <= MAX_SAMPLES:
        raise HTTPException(400, f"n_samples must be between 1 and {MAX_SAMPLES}")
    if body.language.strip().lower() not in LANGUAGES:
        raise HTTPException(400, f"unsupported language {body.language!r}: use one of {', '.join(LANGUAGES)}")
    language = body.language.strip().lower()
    store = store_of(request)
    cost = CREDITS_PER_SAMPLE * body.n_samples
    try:
        # Charged and booked as usage in one transaction (gradium.accounts.ledger).
        await asyncio.to_thread(store.charge_usage, key.org_id, "voice_design", cost)
    except InsufficientCredits as exc:
        raise HTTPException(402, f"insufficient credits: {cost} needed, {exc.remaining} remaining") from None
    metrics.CREDITS_CHARGED.labels("voice_design").inc(cost)
    profiles = design_profiles(prompt, language, body.n_samples)
    drafts = await asyncio.to_thread(
        store.create_drafts, key.org_id, prompt=prompt, language=language,
        profiles=[p.to_json() for p in profiles], ttl=DRAFT_LIFETIME,
    )
    return {"embeddings": [draft.to_json() for draft in drafts]}


@router.get("/voice-generator/embeddings")
async def get_embedding(key: Key, request: Request, embedding_id: str = "") -> dict[str, Any]:
    if not embedding_id:
        raise HTTPException(400, "embedding_id query parameter is required")
    try:
        draft = await asyncio.to_thread(store_of(request).get_draft, key.org_id, embedding_id)
    except UnknownDraft as exc:
        raise HTTPException(404, str(exc)) from None
    return {"embeddings": [draft.to_json()]}


class FromEmbeddingBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    voxium_embedding_id: str
    name: str
    description: str | None = None


@router.post("/voices/from-embedding", status_code=201)
async def from_embedding(body: FromEmbeddingBody, key: Key, request: Request) -> JSONResponse:
    """Promote a draft to a permanent voice (free)."""
    if not body.name.strip():
        raise HTTPException(400, "name must not be empty")
    try:
        voice = await asyncio.to_thread(
            store_of(request).promote_draft, key.org_id, body.voxium_embedding_id,
            name=body.name[:200], description=body.description,
        )
    except UnknownDraft as exc:
        raise HTTPException(404, str(exc)) from None
    except VoiceConflict as exc:
        raise HTTPException(409, str(exc)) from None
    return JSONResponse(describe_custom_voice(voice), status_code=201)
