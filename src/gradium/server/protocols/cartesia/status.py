"""``GET /`` (API status) and ``POST /access-token``."""

from __future__ import annotations

from functools import cache
from importlib import metadata
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request

from .auth import Principal, parse_expires_in, parse_grants, requires, signer_of

router = APIRouter()


@cache
def server_version() -> str:
    try:
        return metadata.version("gradium")
    except metadata.PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


@router.get("/")
async def api_status() -> dict[str, Any]:
    """Public, like Cartesia's: a liveness probe needs no key."""
    return {"ok": True, "version": server_version()}


@router.post("/access-token")
async def access_token(
    principal: Annotated[Principal, Depends(requires(None))],
    request: Request,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> dict[str, Any]:
    body = body or {}
    try:
        grants = parse_grants(body.get("grants"))
        expires_in = parse_expires_in(body.get("expires_in"))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    signer = signer_of(request.app.state.runtime)
    token = signer.mint(principal.api_key, grants, expires_in)
    return {"token": token, "expires_in": expires_in, "grants": {g: True for g in sorted(grants)}}
