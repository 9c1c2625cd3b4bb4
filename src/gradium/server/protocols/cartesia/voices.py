"""Cartesia ``/voices``: list (cursor pages), get, update, delete and mix, over the catalog and the
caller's organisation's custom voices (the Gradium API's). Creating voices is ``voice_creation``.

Catalog voices are read-only (403 on update/delete); another organisation's voice is a 404, exactly
like one that never existed. Literal routes are matched before ``/voices/{id}``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from gradium.accounts.errors import UnknownVoice
from gradium.accounts.models import CustomVoice
from gradium.accounts.store import AccountStore
from gradium.catalog import CatalogVoice, load_catalog

from .auth import Principal, requires
from .custom import custom_voice_json, profile_of
from .voicing import (
    EMBEDDING_SIZE,
    VoiceSpecError,
    catalog_embedding,
    check_embedding,
    embedding_from_profile,
)

router = APIRouter()
Caller = Annotated[Principal, Depends(requires(None))]
JsonBody = Annotated[dict[str, Any], Body()]
CATALOG_CREATED_AT = "2025-01-01T00:00:00Z"  # catalog voices ship with the server
DEFAULT_PAGE_SIZE = 10
_GENDERS = {"Feminine": "feminine", "Masculine": "masculine", "Neutral": "gender_neutral"}


def store_of(request: Request) -> AccountStore:
    store: AccountStore = request.app.state.runtime.store
    return store


def not_found(voice_id: str) -> HTTPException:
    return HTTPException(404, f"voice '{voice_id}' not found")


async def own_voice(request: Request, principal: Principal, voice_id: str) -> CustomVoice:
    """The caller's custom voice ``voice_id``, or 404 (another organisation's voice included)."""
    try:
        return await asyncio.to_thread(store_of(request).get_voice, principal.org_id, voice_id)
    except UnknownVoice:
        raise not_found(voice_id) from None


def voice_json(voice: CatalogVoice, expand: set[str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": voice.uid,
        "is_owner": False,
        "is_public": True,
        "name": voice.name,
        "description": voice.description,
        "created_at": CATALOG_CREATED_AT,
        "language": voice.language,
        "gender": _GENDERS.get(voice.gender, "gender_neutral"),
        "country": voice.country,
    }
    if "embedding" in expand:
        data["embedding"] = catalog_embedding(voice)
    if "is_starred" in expand:
        data["is_starred"] = False  # starring is not offered
    return data


def _expand_of(request: Request) -> set[str]:
    return set(request.query_params.getlist("expand[]")) | set(request.query_params.getlist("expand"))


def _matches(voice: dict[str, Any], gender: str | None, query: str | None) -> bool:
    if gender is not None and voice["gender"] != gender:
        return False
    return query is None or query.casefold() in f"{voice['name']} {voice['description']}".casefold()


def _position(ids: dict[str, int], cursor: str | None, name: str) -> int | None:
    if cursor is None:
        return None
    if cursor not in ids:
        raise HTTPException(400, f"{name} '{cursor}' is not a voice id")
    return ids[cursor]


def _flag(raw: str | None, name: str) -> bool | None:
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise HTTPException(400, f"{name} must be true or false")
    return raw.lower() == "true"


def _expanded(voice: dict[str, Any], expand: set[str], custom: dict[str, CustomVoice]) -> dict[str, Any]:
    """Page entries get their expansions only once paged (catalog embeddings are not free)."""
    if not expand:
        return voice
    own = custom.get(voice["id"])
    if own is not None:
        return custom_voice_json(own, expand)
    return voice_json(load_catalog()[voice["id"]], expand)


@router.get("/voices/")
@router.get("/voices", include_in_schema=False)
async def list_voices(
    request: Request,
    principal: Caller,
    limit: Annotated[int, Query(ge=1, le=100)] = DEFAULT_PAGE_SIZE,
    starting_after: str | None = None,
    ending_before: str | None = None,
    is_owner: str | None = None,
    is_starred: str | None = None,
    gender: str | None = None,
    q: str | None = None,
) -> dict[str, Any]:
    """The organisation's own voices first (oldest first), then the catalog."""
    if gender is not None and gender not in _GENDERS.values():
        raise HTTPException(400, f"gender must be one of {', '.join(_GENDERS.values())}")
    owned_only, starred_only = _flag(is_owner, "is_owner"), _flag(is_starred, "is_starred")
    custom = {v.uid: v for v in await asyncio.to_thread(store_of(request).list_voices, principal.org_id)}
    voices = [custom_voice_json(v) for v in custom.values()]
    voices += [voice_json(v, set()) for v in load_catalog().values()]
    ids = {v["id"]: i for i, v in enumerate(voices)}
    after = _position(ids, starting_after, "starting_after")
    before = _position(ids, ending_before, "ending_before")
    if owned_only:
        voices = voices[: len(custom)]
    if starred_only:
        voices = []  # starring is not offered
    window = [
        v
        for v in voices
        if _matches(v, gender, q)
        and (after is None or ids[v["id"]] > after)
        and (before is None or ids[v["id"]] < before)
    ]
    # ending_before alone pages backwards: the voices right before the cursor.
    page = window[-limit:] if before is not None and after is None else window[:limit]
    has_more = len(window) > len(page)
    expand = _expand_of(request)
    return {
        "data": [_expanded(v, expand, custom) for v in page],
        "has_more": has_more,
        "next_page": page[-1]["id"] if has_more and page else None,
    }


@router.post("/voices/mix")
async def mix_voices(principal: Caller, request: Request, body: JsonBody) -> dict[str, Any]:
    """The weighted mean of the voices' embeddings (a real blend: see ``voicing``)."""
    specs = body.get("voices")
    if not isinstance(specs, list) or not specs:
        raise HTTPException(400, 'voices must be a non-empty list of {"id" or "embedding", "weight"}')
    total = [0.0] * EMBEDDING_SIZE
    weights = 0.0
    for spec in specs:
        embedding, weight = await _mix_part(request, principal, spec)
        for index, value in enumerate(embedding[:EMBEDDING_SIZE]):
            total[index] += weight * value
        weights += weight
    if weights <= 0:
        raise HTTPException(400, "the weights must add up to more than 0")
    return {"embedding": [round(v / weights, 6) for v in total]}


async def _mix_part(request: Request, principal: Principal, spec: Any) -> tuple[list[float], float]:
    if not isinstance(spec, dict):
        raise HTTPException(400, 'each voice must be an object with "id" or "embedding" and "weight"')
    weight = spec.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
        raise HTTPException(400, "weight must be a number of at least 0")
    if "id" in spec:
        return await embedding_of(request, principal, str(spec["id"])), float(weight)
    try:
        return check_embedding(spec.get("embedding")), float(weight)
    except VoiceSpecError as exc:
        raise HTTPException(400, exc.message) from None


async def embedding_of(request: Request, principal: Principal, voice_id: str) -> list[float]:
    """A catalog or own voice's embedding (404 otherwise)."""
    catalog_voice = load_catalog().get(voice_id)
    if catalog_voice is not None:
        return catalog_embedding(catalog_voice)
    voice = await own_voice(request, principal, voice_id)
    profile = profile_of(voice)
    return embedding_from_profile(profile, voice.uid) if profile else [0.0] * EMBEDDING_SIZE


@router.get("/voices/{voice_id:path}")
async def get_voice(voice_id: str, principal: Caller, request: Request) -> dict[str, Any]:
    expand = _expand_of(request)
    catalog_voice = load_catalog().get(voice_id)
    if catalog_voice is not None:
        return voice_json(catalog_voice, expand)
    return custom_voice_json(await own_voice(request, principal, voice_id), expand)


def _catalog_is_read_only(voice_id: str) -> None:
    if voice_id in load_catalog():
        raise HTTPException(403, f"voice '{voice_id}' is a catalog voice and cannot be changed")


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise HTTPException(400, f"{key} must be a string")
    return value


@router.patch("/voices/{voice_id:path}")
async def update_voice(voice_id: str, principal: Caller, request: Request, body: JsonBody) -> dict[str, Any]:
    """Rename or re-describe one of the organisation's voices (``{name, description}``)."""
    _catalog_is_read_only(voice_id)
    name, description = _text(body, "name"), _text(body, "description")
    if name is not None and not name.strip():
        raise HTTPException(400, "name must not be empty")
    try:
        voice = await asyncio.to_thread(
            store_of(request).update_voice, principal.org_id, voice_id,
            name=None if name is None else name[:200], description=description,
        )  # fmt: skip
    except UnknownVoice:
        raise not_found(voice_id) from None
    return custom_voice_json(voice)


@router.delete("/voices/{voice_id:path}")
async def delete_voice(voice_id: str, principal: Caller, request: Request) -> Response:
    _catalog_is_read_only(voice_id)
    try:
        await asyncio.to_thread(store_of(request).delete_voice, principal.org_id, voice_id)
    except UnknownVoice:
        raise not_found(voice_id) from None
    return Response(status_code=204, media_type="application/json")
