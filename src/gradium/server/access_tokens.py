"""Access tokens: short-lived, scoped credentials minted from an API key, for any protocol.

A token is stateless: ``ctk_<payload>.<signature>``, where the payload names the minting key, its
organisation, the grants and the expiry, and the signature is an HMAC-SHA256 under a random
per-server secret kept in the data directory (so tokens survive restarts, and deleting the file
revokes them all), or under ``GRADIUM_TOKEN_SECRET`` when several replicas must accept each other's
tokens (changing it revokes them all). A token dies with the key that minted it: revoking the key
ends its tokens too.

Cartesia's ``POST /access-token`` mints them (``protocols/cartesia``); every Cartesia route takes
them, and the Gradium WebSockets take them in ``?access_token=`` for browsers, which cannot set the
``x-api-key`` header on a WebSocket.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from gradium.accounts.store import AccountStore, ApiKey
from gradium.server.runtime import Runtime

TOKEN_PREFIX = "ctk_"
SECRET_FILENAME = "cartesia_token_secret"  # the name it had when only Cartesia used tokens
GRANTS = ("tts", "stt")


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
