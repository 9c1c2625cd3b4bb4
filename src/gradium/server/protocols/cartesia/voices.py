"""Cartesia ``/voices``: list (cursor pages), get and mix over the catalog; writes answer 501.

Custom voices (create, clone, localize, update, delete) need the voice store of the voice-cloning
work; until the account store offers it, those routes say so with a 501 instead of pretending.
Literal routes are declared before ``/voices/{id}`` so that ``clone``/``mix``... never match an id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from gradium.catalog import CatalogVoice, load_catalog

from .auth import Principal, requires
from .voicing import EMBEDDING_SIZE, VoiceSpecError, catalog_embedding, check_embedding

router = APIRouter()
Caller = Annotated[Principal, Depends(requires(None))]
CATALOG_CREATED_AT = "2025-01-01T00:00:00Z"  # catalog voices ship with the server
DEFAULT_PAGE_SIZE = 10
_GENDERS = {"Feminine": "feminine", "Masculine": "masculine", "Neutral": "gender_neutral"}
NO_CUSTOM_VOICES = (
    "custom voices are not available on this server yet: creating, cloning, localizing, "
    "updating and deleting voices arrive with voice cloning; catalog voices are read-only"
)


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


def _matches(voice: CatalogVoice, gender: str | None, query: str | None) -> bool:
    if gender is not None and _GENDERS.get(voice.gender) != gender:
        return False
    return query is None or query.casefold() in f"{voice.name} {voice.description}".casefold()


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
    if gender is not None and gender not in _GENDERS.values():
        raise HTTPException(400, f"gender must be one of {', '.join(_GENDERS.values())}")
    expand = set(request.query_params.getlist("expand[]")) | set(request.query_params.getlist("expand"))
    voices = list(load_catalog().values())
    ids = {v.uid: i for i, v in enumerate(voices)}
    after = _position(ids, starting_after, "starting_after")
    before = _position(ids, ending_before, "ending_before")
    # Nothing here is owned or starred: the catalog is shared and starring is not offered.
    if _flag(is_owner, "is_owner") or _flag(is_starred, "is_starred"):
        voices = []
    window = [
        v
        for v in voices
        if _matches(v, gender, q)
        and (after is None or ids[v.uid] > after)
        and (before is None or ids[v.uid] < before)
    ]
    # ending_before alone pages backwards: the voices right before the cursor.
    page = window[-limit:] if before is not None and after is None else window[:limit]
    has_more = len(window) > len(page)
    return {
        "data": [voice_json(v, expand) for v in page],
        "has_more": has_more,
        "next_page": page[-1].uid if has_more and page else None,
    }


@router.post("/voices/mix")
async def mix_voices(principal: Caller, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """The weighted mean of the voices' embeddings (a real blend: see ``voicing``)."""
    specs = body.get("voices")
    if not isinstance(specs, list) or not specs:
        raise HTTPException(400, 'voices must be a non-empty list of {"id" or "embedding", "weight"}')
    total = [0.0] * EMBEDDING_SIZE
    weights = 0.0
    for spec in specs:
        embedding, weight = _mix_part(spec)
        for index, value in enumerate(embedding[:EMBEDDING_SIZE]):
            total[index] += weight * value
        weights += weight
    if weights <= 0:
        raise HTTPException(400, "the weights must add up to more than 0")
    return {"embedding": [round(v / weights, 6) for v in total]}


def _mix_part(spec: Any) -> tuple[list[float], float]:
    if not isinstance(spec, dict):
        raise HTTPException(400, 'each voice must be an object with "id" or "embedding" and "weight"')
    weight = spec.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
        raise HTTPException(400, "weight must be a number of at least 0")
    if "id" in spec:
        voice = load_catalog().get(str(spec["id"]))
        if voice is None:
            raise HTTPException(404, f"voice '{spec['id']}' not found")
        return catalog_embedding(voice), float(weight)
    try:
        return check_embedding(spec.get("embedding")), float(weight)
    except VoiceSpecError as exc:
        raise HTTPException(400, exc.message) from None


@router.post("/voices/clone")
@router.post("/voices/localize")
@router.post("/voices/")
@router.post("/voices", include_in_schema=False)
async def create_voice(principal: Caller) -> Response:
    raise HTTPException(501, NO_CUSTOM_VOICES)


@router.get("/voices/{voice_id:path}")
async def get_voice(voice_id: str, principal: Caller, request: Request) -> dict[str, Any]:
    voice = load_catalog().get(voice_id)
    if voice is None:
        raise HTTPException(404, f"voice '{voice_id}' not found")
    expand = set(request.query_params.getlist("expand[]"))
    return voice_json(voice, expand)


@router.patch("/voices/{voice_id:path}")
@router.delete("/voices/{voice_id:path}")
async def change_voice(voice_id: str, principal: Caller) -> Response:
    if voice_id in load_catalog():
        raise HTTPException(403, f"voice '{voice_id}' is a catalog voice and cannot be changed")
    raise HTTPException(404, f"voice '{voice_id}' not found")
