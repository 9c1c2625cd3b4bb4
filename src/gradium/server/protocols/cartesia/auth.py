"""Cartesia authentication: API keys and short-lived access tokens, over HTTP and WebSockets.

The SDK (2.0.17) sends its ``api_key`` as ``X-API-Key`` on HTTP and as ``?api_key=`` on
WebSockets; Cartesia's docs add ``Authorization: Bearer`` and ``?access_token=``. Any of these may
carry either one of our API keys or an access token minted by ``POST /access-token``.

Access tokens are stateless: ``ctk_<payload>.<signature>``, where the payload names the minting key,
its organisation, the grants and the expiry, and the signature is an HMAC-SHA256 under a random
per-server secret kept in the data directory (so tokens survive restarts, and deleting the file
revokes them all), or under ``GRADIUM_TOKEN_SECRET`` when several replicas must accept each other's
tokens (changing it revokes them all). A token dies with the key that minted it: revoking the key
ends its tokens too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocket

from gradium.accounts.store import AccountStore, ApiKey
from gradium.server.credentials import CredentialWatch
from gradium.server.runtime import Runtime

TOKEN_PREFIX = "ctk_"
SECRET_FILENAME = "cartesia_token_secret"
GRANTS = ("tts", "stt")
MAX_EXPIRES_IN_S = 3600  # Cartesia's documented maximum
DEFAULT_EXPIRES_IN_S = 60


class AuthError(Exception):
    """A request without valid credentials (401) or whose token lacks the grant (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Principal:
    """Who is calling: the API key (or the key that minted the token) and what it may do."""

    api_key: ApiKey
    grants: frozenset[str] | None  # None: a full API key; otherwise a token's grants

    @property
    def org_id(self) -> int:
        return self.api_key.org_id


class TokenSigner:
    """Mints and checks access tokens with the server's secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def mint(self, key: ApiKey, grants: frozenset[str], expires_in: int, now: float | None = None) -> str:
        payload = {
            "k": key.id,
            "o": key.org_id,
            "g": sorted(grants),
            "exp": int((now or time.time()) + expires_in),
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{TOKEN_PREFIX}{body}.{_b64(self._sign(body))}"

    def verify(self, token: str, now: float | None = None) -> dict[str, Any] | None:
        """The payload of a genuine, unexpired token, else None."""
        body, _, signature = token.removeprefix(TOKEN_PREFIX).partition(".")
        try:
            given = _unb64(signature)
            payload = json.loads(_unb64(body))
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(given, self._sign(body)) or not isinstance(payload, dict):
            return None
        if not isinstance(payload.get("exp"), int) or payload["exp"] <= (now or time.time()):
            return None
        return payload

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signer_of(runtime: Runtime) -> TokenSigner:
    """The server's signer: the configured shared secret, else the data directory's own."""
    cluster = runtime.settings.cluster
    if cluster.token_secret is not None:
        return _shared_signer(cluster.token_secret)
    return signer_for(runtime.settings.data_dir)


@cache
def _shared_signer(secret: str) -> TokenSigner:
    return TokenSigner(secret.encode("utf-8"))


@cache
def signer_for(data_dir: Path) -> TokenSigner:
    """The signer of one data directory; the secret is created (mode 0600) on first use."""
    path = data_dir / SECRET_FILENAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return TokenSigner(bytes.fromhex(path.read_text().strip()))


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


def _key_by_id(store: AccountStore, org_id: int, key_id: int) -> ApiKey | None:
    return next((k for k in store.list_keys(org_id) if k.id == key_id and k.revoked_at is None), None)


def resolve_credential(runtime: Runtime, credential: str | None) -> Principal:
    """Blocking (database): the principal for a key or token, or AuthError(401)."""
    if not credential:
        raise AuthError(401, "missing API key: send it in the X-API-Key header")
    if not credential.startswith(TOKEN_PREFIX):
        key = runtime.store.authenticate(credential)
        if key is None:
            raise AuthError(401, "invalid or revoked API key")
        return Principal(key, None)
    payload = signer_of(runtime).verify(credential)
    if payload is None:
        raise AuthError(401, "invalid or expired access token")
    key = _key_by_id(runtime.store, int(payload["o"]), int(payload["k"]))
    if key is None:
        raise AuthError(401, "the API key that minted this access token was revoked")
    return Principal(key, frozenset(str(g) for g in payload.get("g", [])))


def check_grant(principal: Principal, grant: str | None) -> None:
    """``grant=None``: only a full API key may call (voices, minting tokens...)."""
    if principal.grants is None:
        return
    if grant is None:
        raise AuthError(403, "access tokens cannot call this endpoint: use an API key")
    if grant not in principal.grants:
        raise AuthError(403, f"this access token has no '{grant}' grant")


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
