"""Gradium HTTP routes: credits and usage, one-shot ``post/speech/tts``, and (from ``voice_routes``)
voices and the voice designer."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from gradium.accounts.store import ApiKey
from gradium.audio.output import wav_with_sizes
from gradium.server.admission import TRY_AGAIN_LATER
from gradium.server.auth import require_api_key
from gradium.server.billing import RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.protocols.gradium.account_routes import router as account_router
from gradium.server.protocols.gradium.tts_ws import VoiceNotFound, open_tts_stream
from gradium.server.protocols.gradium.voice_routes import router as voice_router
from gradium.server.runtime import Runtime
from gradium.speech.tts import TtsStream

router = APIRouter()
router.include_router(voice_router)
router.include_router(account_router)
Key = Annotated[ApiKey, Depends(require_api_key)]


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


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


@router.get("/models")
async def models(key: Key, request: Request) -> dict[str, Any]:
    """What this server speaks and recognises with: engines, model names, languages."""
    return runtime_of(request).describe_models()


@router.post("/post/speech/tts")
async def post_tts(body: HttpTtsBody, key: Key, request: Request) -> Response:
    """One-shot TTS: the whole audio file in the response body."""
    runtime = runtime_of(request)
    limit = runtime.settings.limits.max_http_tts_chars
    if len(body.text) > limit:
        raise HTTPException(400, f"text is longer than {limit} characters; use the speech/tts WebSocket")
    meter = RequestMeter(runtime.store, key.org_id, "tts")
    stream: TtsStream | None = None
    delivered = False
    try:
        stream, _ = await open_tts_stream(runtime, body.model_dump(), meter, limit)
        stream.push_text(body.text)
        stream.end()
        audio = bytearray()
        async for rendered in stream.output():
            for chunk in rendered.chunks:
                audio += chunk
        delivered = True
    except VoiceNotFound as exc:
        raise HTTPException(404, exc.message) from None
    except ProtocolError as exc:
        if exc.code == TRY_AGAIN_LATER:  # the engine is at capacity: another replica may serve it
            retry = str(runtime.settings.cluster.retry_after_s)
            raise HTTPException(503, exc.message, headers={"Retry-After": retry}) from None
        status = 402 if exc.message.startswith("insufficient credits") else 400
        raise HTTPException(status, exc.message) from None
    except ValueError as exc:  # a malformed tag, invalid text, a word or text past its limit
        raise HTTPException(400, str(exc)) from None
    finally:
        if not delivered:
            # The file is sent whole or not at all: a request that fails part-way (credits ran
            # out, bad input, an internal error) gets no audio, so it keeps none of its charges.
            await asyncio.shield(meter.refund(meter.credits))
        elif stream is not None:
            meter.characters = stream.billed_chars
            meter.audio_seconds = stream.audio_seconds
        await asyncio.shield(meter.record())
    # The format as the stream's encoder resolved it (an empty output_format means the default).
    fmt = stream.renderer.encoder.format
    # The whole file is known here, so a WAV carries its real sizes, not the streaming placeholder.
    data = wav_with_sizes(bytes(audio)) if fmt.codec.startswith("wav") else bytes(audio)
    return Response(data, media_type=fmt.content_type)
