"""Account routes of our own (the hosted API has none): usage per day, and the organisation's API
keys — listed for every key, created and revoked by admin keys only. The studio's Account page
uses them; ``gradium keys`` does the same on the data directory."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict

from gradium.accounts.store import AccountStore, ApiKey
from gradium.server.auth import require_api_key

router = APIRouter()
Key = Annotated[ApiKey, Depends(require_api_key)]
MAX_KEY_NAME_CHARS = 200  # the column's length
MAX_HISTORY_DAYS = 366


def _store(request: Request) -> AccountStore:
    store: AccountStore = request.app.state.runtime.store
    return store


def _require_admin(key: ApiKey) -> None:
    if not key.is_admin:
        raise HTTPException(403, "only an admin API key can create or revoke keys")


@router.get("/usages/history")
async def usage_history(
    key: Key, request: Request, days: Annotated[int, Query(ge=1, le=MAX_HISTORY_DAYS)] = 30
) -> dict[str, Any]:
    """Usage per UTC day and service over the last ``days`` days, oldest first."""
    entries = await asyncio.to_thread(_store(request).usage_by_day, key.org_id, days)
    return {"days": days, "usage": entries}


@router.get("/keys")
async def list_keys(key: Key, request: Request) -> dict[str, Any]:
    """The organisation's keys (never their secrets), and which one is calling."""
    keys = await asyncio.to_thread(_store(request).list_keys, key.org_id)
    return {"keys": [k.to_json() for k in keys], "current_key_id": key.id, "is_admin": key.is_admin}


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    admin: bool = False


@router.post("/keys", status_code=201)
async def create_key(body: NewKey, key: Key, request: Request) -> dict[str, Any]:
    """A new key of the caller's organisation; its secret is in this answer and never again."""
    _require_admin(key)
    name = body.name.strip()
    if not name or len(name) > MAX_KEY_NAME_CHARS:
        raise HTTPException(400, f"name must be 1 to {MAX_KEY_NAME_CHARS} characters")
    store = _store(request)
    created, plaintext = await asyncio.to_thread(store.create_key, key.org_id, name, admin=body.admin)
    return {**created.to_json(), "key": plaintext}


@router.delete("/keys/{key_id}")
async def revoke_key(key_id: int, key: Key, request: Request) -> dict[str, Any]:
    _require_admin(key)
    if key_id == key.id:
        raise HTTPException(400, "this is the key you are calling with: revoke it with another admin key")
    store = _store(request)
    own = {k.id for k in await asyncio.to_thread(store.list_keys, key.org_id)}
    if key_id not in own:  # another organisation's key is as unknown as one that never existed
        raise HTTPException(404, f"API key {key_id} not found")
    revoked = await asyncio.to_thread(store.revoke_key, key_id)
    return revoked.to_json()
