"""``Authorization: Bearer <api key>`` (the OpenAI SDK's header), or our ``x-api-key``."""

from __future__ import annotations

import asyncio

from fastapi import Request

from gradium.accounts.store import ApiKey

from .errors import OpenAIError


async def require_bearer_key(request: Request) -> ApiKey:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else ""
    key = key or request.headers.get("x-api-key", "")
    if not key:
        raise OpenAIError(
            401, "missing API key: send it as 'Authorization: Bearer <key>'", code="invalid_api_key"
        )
    api_key: ApiKey | None = await asyncio.to_thread(request.app.state.runtime.store.authenticate, key)
    if api_key is None:
        raise OpenAIError(401, "invalid or revoked API key", code="invalid_api_key")
    return api_key
