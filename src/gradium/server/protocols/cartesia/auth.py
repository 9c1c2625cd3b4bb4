"""Cartesia authentication: API keys and short-lived access tokens, over HTTP and WebSockets.

The SDK (2.0.17) sends its ``api_key`` as ``X-API-Key`` on HTTP and as ``?api_key=`` on
WebSockets; Cartesia's docs add ``Authorization: Bearer`` and ``?access_token=``. Any of these may
carry either one of our API keys or an access token minted by ``POST /access-token``.

The tokens themselves (minting, checking, grants) are protocol-neutral:
:mod:`gradium.server.access_tokens`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocket

from gradium.server.access_tokens import (
    GRANTS,
    AuthError,
    Principal,
    check_grant,
    resolve_credential,
    signer_of,
)
from gradium.server.credentials import CredentialWatch
from gradium.server.runtime import Runtime

MAX_EXPIRES_IN_S = 3600  # Cartesia's documented maximum
DEFAULT_EXPIRES_IN_S = 60

__all__ = [
    "AuthError",
    "Principal",
    "authenticate_websocket",
    "credential_watch",
    "parse_expires_in",
    "parse_grants",
    "requires",
    "signer_of",
]


def credential_from(headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> str | None:
    """The key or token a request presents, wherever the SDK or the docs put it."""
    if headers.get("x-api-key"):
        return headers["x-api-key"].strip()
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for name in ("api_key", "access_token"):
        if query and query.get(name):
            return query[name].strip()
    return None


async def authenticate(
    runtime: Runtime, headers: Mapping[str, str], query: Mapping[str, str] | None, grant: str | None
) -> Principal:
    principal = await asyncio.to_thread(resolve_credential, runtime, credential_from(headers, query))
    check_grant(principal, grant)
    return principal


def requires(grant: str | None) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller's principal, or a 401/403 JSON error."""

    async def dependency(request: Request) -> Principal:
        try:
            return await authenticate(request.app.state.runtime, request.headers, None, grant)
        except AuthError as exc:
            raise HTTPException(exc.status, exc.message) from None

    return dependency


async def authenticate_websocket(websocket: WebSocket, runtime: Runtime, grant: str) -> Principal | None:
    """Authenticate a WebSocket before accepting it; refuse the upgrade with 401/403 otherwise.

    The SDK turns an HTTP 401/403 during the handshake into a readable RuntimeError, so the
    refusal is a real HTTP response where the server supports it (uvicorn does).
    """
    try:
        return await authenticate(runtime, websocket.headers, websocket.query_params, grant)
    except AuthError as exc:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(JSONResponse({"detail": exc.message}, exc.status))
        else:
            await websocket.close(code=1008, reason=exc.message)
        return None


def credential_watch(runtime: Runtime, websocket: WebSocket, grant: str) -> CredentialWatch:
    """Re-checks the key or token a WebSocket opened with: revoked keys and revoked or expired
    tokens stop working on open sockets too (``gradium.server.credentials``)."""
    credential = credential_from(websocket.headers, websocket.query_params)

    async def problem() -> str | None:
        try:
            principal = await asyncio.to_thread(resolve_credential, runtime, credential)
            check_grant(principal, grant)
        except AuthError as exc:
            return f"{exc.message}: reconnect with a valid key or token"
        return None

    return CredentialWatch(problem, runtime.settings.limits.credential_recheck_s)


def parse_grants(raw: Any) -> frozenset[str]:
    """``grants`` of POST /access-token; omitted means every grant (tts and stt)."""
    if raw is None:
        return frozenset(GRANTS)
    if not isinstance(raw, dict):
        raise ValueError('grants must be an object such as {"tts": true, "stt": true}')
    unknown = set(raw) - set(GRANTS)
    if unknown:
        raise ValueError(f"unknown grants {sorted(unknown)}: use tts and/or stt")
    return frozenset(name for name, value in raw.items() if value is True)


def parse_expires_in(raw: Any) -> int:
    if raw is None:
        return DEFAULT_EXPIRES_IN_S
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_EXPIRES_IN_S:
        raise ValueError(f"expires_in must be an integer from 1 to {MAX_EXPIRES_IN_S} seconds")
    return raw
