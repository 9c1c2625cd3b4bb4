"""API-key authentication for HTTP routes (WebSockets authenticate in their connection)."""

from __future__ import annotations

import asyncio

from fastapi import HTTPException, Request

from gradium.accounts.store import ApiKey


async def require_api_key(request: Request) -> ApiKey:
    """The ``x-api-key`` header names an active key, else 401 with a JSON ``detail``."""
    key = request.headers.get("x-api-key")
    if not key:
        raise HTTPException(401, "missing API key: send it in the x-api-key header")
    api_key: ApiKey | None = await asyncio.to_thread(request.app.state.runtime.store.authenticate, key)
    if api_key is None:
        raise HTTPException(401, "invalid or revoked API key")
    return api_key
