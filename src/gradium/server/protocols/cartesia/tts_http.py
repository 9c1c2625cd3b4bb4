"""``POST /tts/bytes`` (audio bytes, streamed) and ``POST /tts/sse`` (Server-Sent Events)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from gradium.audio.output import wav_with_sizes
from gradium.server.billing import RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.protocols.json_frames import encode_frame
from gradium.server.runtime import Runtime
from gradium.text.tags import TagError

from .auth import Principal, requires
from .tts_core import (
    CartesiaTts,
    TimedAudio,
    TtsRequestError,
    base_message,
    piece_messages,
    prepare_tts_request,
)

router = APIRouter()
TtsCaller = Annotated[Principal, Depends(requires("tts"))]
JsonBody = Annotated[dict[str, Any], Body()]


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def http_error(exc: Exception, retry_after_s: int = 1) -> HTTPException:
    """The HTTP status for a failure before any byte of the response was sent."""
    if isinstance(exc, TtsRequestError):
        headers = {"Retry-After": str(retry_after_s)} if exc.status == 503 else None
        return HTTPException(exc.status, exc.message, headers=headers)
    if isinstance(exc, ProtocolError):
        return HTTPException(402 if exc.message.startswith("insufficient credits") else 400, exc.message)
    return HTTPException(400, str(exc))


async def start_generation(
    runtime: Runtime, body: dict[str, Any], principal: Principal, service: str
) -> CartesiaTts:
    """Validate, open and feed a one-shot generation (the whole transcript at once)."""
    transcript = body.get("transcript")
    if not isinstance(transcript, str):
        raise HTTPException(400, "transcript must be a string")
    limit = runtime.settings.limits.max_http_tts_chars
    if len(transcript) > limit:
        raise HTTPException(400, f"transcript is longer than {limit} characters; use the TTS WebSocket")
    meter = RequestMeter(runtime.store, principal.org_id, service)
    try:
        spec = await prepare_tts_request(runtime, body, principal.org_id)
        tts = CartesiaTts(runtime, spec, meter, limit)
        tts.push(transcript)
        tts.end()
    except (TtsRequestError, TagError, ValueError) as exc:
        raise http_error(exc, runtime.settings.cluster.retry_after_s) from None
    return tts


async def primed(tts: CartesiaTts) -> tuple[list[TimedAudio], AsyncIterator[TimedAudio]]:
    """Run up to the first piece before answering, so that early failures (credits) get a status."""
    pieces = tts.pieces()
    try:
        first = [await anext(pieces)]
    except StopAsyncIteration:
        first = []
    except (ProtocolError, TagError) as exc:
        await refund_all(tts)
        raise http_error(exc) from None
    return first, pieces


async def refund_all(tts: CartesiaTts) -> None:
    """No audio reached the client: give back every credit the generation took, and record it."""
    await asyncio.shield(tts.meter.refund(tts.meter.credits))
    tts.stream.billed_chars = 0
    await asyncio.shield(tts.record_usage())


async def _whole_file(tts: CartesiaTts, first: list[TimedAudio], rest: AsyncIterator[TimedAudio]) -> bytes:
    """All the audio of a response sent only once complete (WAV, for its real sizes); if the
    generation fails before that, the client receives nothing and is charged nothing."""
    try:
        return b"".join([chunk async for chunk in _audio(tts, first, rest)])
    except BaseException:
        await refund_all(tts)
        raise


async def _audio(
    tts: CartesiaTts, first: list[TimedAudio], rest: AsyncIterator[TimedAudio]
) -> AsyncIterator[bytes]:
    try:
        for piece in first:
            for chunk in piece.chunks:
                if chunk:
                    yield chunk
        async for piece in rest:
            for chunk in piece.chunks:
                if chunk:
                    yield chunk
    finally:
        with contextlib.suppress(Exception):
            await tts.record_usage()


async def audio_response(tts: CartesiaTts) -> Response:
    """The generation's audio: streamed, except WAV, which is sent whole with its real sizes."""
    first, rest = await primed(tts)
    content_type = tts.encoder.format.content_type
    if tts.spec.container == "wav":
        # A complete WAV with its real sizes: pydub and `wave` users get a normal file.
        try:
            audio = await _whole_file(tts, first, rest)
        except (ProtocolError, TagError) as exc:
            raise http_error(exc) from None
        return Response(wav_with_sizes(audio), media_type=content_type)
    return StreamingResponse(_audio(tts, first, rest), media_type=content_type)


@router.post("/tts/bytes")
async def tts_bytes(body: JsonBody, principal: TtsCaller, request: Request) -> Response:
    return await audio_response(await start_generation(runtime_of(request), body, principal, "tts"))


def sse_event(message: dict[str, Any]) -> bytes:
    return f"event: {message['type']}\ndata: {encode_frame(message, 'data')}\n\n".encode()


async def _events(
    tts: CartesiaTts, body: dict[str, Any], first: list[TimedAudio], rest: AsyncIterator[TimedAudio]
) -> AsyncIterator[bytes]:
    context_id = str(body.get("context_id") or uuid.uuid4())
    words, phonemes = bool(body.get("add_timestamps")), bool(body.get("add_phoneme_timestamps"))
    try:
        for piece in first:
            for message in piece_messages(piece, context_id, words=words, phonemes=phonemes):
                yield sse_event(message)
        async for piece in rest:
            for message in piece_messages(piece, context_id, words=words, phonemes=phonemes):
                yield sse_event(message)
        yield sse_event(base_message("done", context_id, done=True))
    except (ProtocolError, TagError) as exc:
        # Too late for a status code: the error travels as the stream's last event.
        error = base_message("error", context_id, done=True)
        yield sse_event({**error, "status_code": 402 if "credits" in str(exc) else 400, "error": str(exc)})
    finally:
        with contextlib.suppress(Exception):
            await tts.record_usage()


@router.post("/tts/sse")
async def tts_sse(body: JsonBody, principal: TtsCaller, request: Request) -> StreamingResponse:
    output_format = body.get("output_format")
    if isinstance(output_format, dict) and output_format.get("container", "raw") != "raw":
        raise HTTPException(400, 'tts/sse streams raw audio only: use output_format.container "raw"')
    tts = await start_generation(runtime_of(request), body, principal, "tts")
    first, rest = await primed(tts)
    return StreamingResponse(
        _events(tts, body, first, rest),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
