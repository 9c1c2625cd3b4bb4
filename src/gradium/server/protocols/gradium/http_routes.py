"""Gradium HTTP routes: voices, credits and usage, and one-shot ``post/speech/tts``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from gradium.accounts.store import ApiKey
from gradium.audio.output import OUTPUT_FORMATS
from gradium.catalog import describe_voice, load_catalog
from gradium.server.auth import require_api_key
from gradium.server.billing import RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.protocols.gradium.tts_ws import build_tts_stream
from gradium.server.runtime import Runtime
from gradium.text.tags import TagError

router = APIRouter()
Key = Annotated[ApiKey, Depends(require_api_key)]


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() in {"1", "true", "yes"}


@router.get("/voices/")
@router.get("/voices", include_in_schema=False)
async def list_voices(
    key: Key, limit: int | None = None, skip: int = 0, include_catalog: str | None = None
) -> list[dict[str, Any]]:
    """Custom voices of the organisation; ``include_catalog=1`` adds the catalog. ``limit=0``: all."""
    voices: list[dict[str, Any]] = []  # custom voices arrive with voice cloning
    if _flag(include_catalog):
        voices += [describe_voice(v) for v in load_catalog().values()]
    voices = voices[max(skip, 0) :]
    return voices if not limit or limit < 0 else voices[:limit]


@router.get("/voices/{uid}")
async def get_voice(uid: str, key: Key) -> dict[str, Any]:
    voice = load_catalog().get(uid)
    if voice is None:
        raise HTTPException(404, f"voice '{uid}' not found")
    return describe_voice(voice)


@router.put("/voices/{uid}")
@router.delete("/voices/{uid}")
async def change_voice(uid: str, key: Key) -> dict[str, Any]:
    if uid in load_catalog():
        raise HTTPException(403, f"voice '{uid}' is a catalog voice and cannot be changed")
    raise HTTPException(404, f"voice '{uid}' not found")


@router.get("/usages/credits")
async def credits(key: Key, request: Request) -> dict[str, Any]:
    balance = await asyncio.to_thread(runtime_of(request).store.credits, key.org_id)
    return balance.to_json()


@router.get("/usages/summary")
async def usage_summary(key: Key, request: Request) -> dict[str, Any]:
    summary: dict[str, Any] = await asyncio.to_thread(runtime_of(request).store.usage_summary, key.org_id)
    return summary


class HttpTtsBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    text: str
    voice_id: str | None = None
    voice: str | None = None
    output_format: str = "wav"
    model_name: str | None = None
    json_config: Any = None
    only_audio: bool = True


@router.post("/post/speech/tts")
async def post_tts(body: HttpTtsBody, key: Key, request: Request) -> Response:
    """One-shot TTS: the whole audio file in the response body."""
    runtime = runtime_of(request)
    limit = runtime.settings.limits.max_http_tts_chars
    if len(body.text) > limit:
        raise HTTPException(400, f"text is longer than {limit} characters; use the speech/tts WebSocket")
    meter = RequestMeter(runtime.store, key.org_id, "tts")
    try:
        stream, _ = build_tts_stream(runtime, body.model_dump(), meter, limit)
        stream.push_text(body.text)
        stream.end()
        audio = bytearray()
        async for rendered in stream.output():
            for chunk in rendered.chunks:
                audio += chunk
    except ProtocolError as exc:
        status = 402 if exc.message.startswith("insufficient credits") else 400
        raise HTTPException(status, exc.message) from None
    except TagError as exc:
        raise HTTPException(400, str(exc)) from None
    finally:
        meter.characters = stream.billed_chars if "stream" in locals() else 0
        meter.audio_seconds = stream.audio_seconds if "stream" in locals() else 0.0
        await meter.record()
    fmt = OUTPUT_FORMATS[body.output_format]
    return Response(bytes(audio), media_type=fmt.content_type)
