"""``POST /infill/bytes`` and ``POST /voice-changer/bytes|sse`` (multipart uploads).

Infill speaks the transcript in the chosen voice, to be placed between ``left_audio`` and
``right_audio`` (the SDK's ``tts.infill`` helper does the joining). The voice changer has no
neural conversion to run: it recognises the clip's words with the STT pool and speaks them again
in the target voice, so the words survive but not the original intonation (documented).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from starlette.datastructures import FormData, UploadFile

from gradium.audio.errors import AudioFormatError
from gradium.server.billing import RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.runtime import Runtime
from gradium.speech.stt_pipeline import Step, Word
from gradium.workers.stt_pool import StreamError

from .auth import Principal, requires
from .stt_audio import file_to_wav
from .tts_core import (
    CartesiaTts,
    TtsRequestError,
    TtsSpec,
    base_message,
    chunk_message,
    prepare_tts_request,
)
from .tts_http import audio_response, http_error

router = APIRouter()
TtsCaller = Annotated[Principal, Depends(requires("tts"))]
INFILL_FIXED_CREDITS = 300
VOICE_CHANGER_CREDITS_PER_SECOND = 15


def _output_format(form: FormData) -> dict[str, Any]:
    """``output_format[container]``... form fields -> the JSON ``output_format`` object."""
    fmt: dict[str, Any] = {"container": form.get("output_format[container]") or "raw"}
    for key in ("sample_rate", "bit_rate"):
        value = form.get(f"output_format[{key}]")
        if value is not None:
            try:
                fmt[key] = int(str(value))
            except ValueError:
                raise HTTPException(400, f"output_format[{key}] must be an integer") from None
    if form.get("output_format[encoding]") is not None:
        fmt["encoding"] = str(form.get("output_format[encoding]"))
    return fmt


def _controls(form: FormData) -> dict[str, Any]:
    controls: dict[str, Any] = {}
    speed = form.get("voice[__experimental_controls][speed]")
    if speed is not None:
        text = str(speed)
        try:
            controls["speed"] = float(text)
        except ValueError:
            controls["speed"] = text
    emotions = form.getlist("voice[__experimental_controls][emotion][]")
    if emotions:
        controls["emotion"] = [str(e) for e in emotions]  # accepted; the engines have no emotions
    return controls


class PrepaidMeter(RequestMeter):
    """A meter paid once up front (infill's fixed fee, the voice changer's per-second price)."""

    def __init__(self, meter: RequestMeter, per_character: bool) -> None:
        super().__init__(meter.store, meter.org_id, meter.service)
        self.per_character = per_character

    async def prepay(self, amount: int) -> None:
        try:
            await super().charge(amount)
        except ProtocolError as exc:
            raise http_error(exc) from None

    async def charge(self, amount: int) -> None:
        if self.per_character:
            await super().charge(amount)


async def _spec(runtime: Runtime, body: dict[str, Any], principal: Principal) -> TtsSpec:
    """The request's format and voice (catalog, embedding or the organisation's custom voice)."""
    try:
        return await prepare_tts_request(runtime, body, principal.org_id)
    except TtsRequestError as exc:
        raise http_error(exc) from None


def _generation(runtime: Runtime, spec: TtsSpec, meter: RequestMeter, text: str) -> CartesiaTts:
    limit = runtime.settings.limits.max_http_tts_chars
    if len(text) > limit:
        raise HTTPException(400, f"transcript is longer than {limit} characters")
    try:
        tts = CartesiaTts(runtime, spec, meter, limit)
        tts.push(text)
        tts.end()
    except (TtsRequestError, ValueError) as exc:
        raise http_error(exc) from None
    return tts


@router.post("/infill/bytes")
async def infill(request: Request, principal: TtsCaller) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await request.form()
    if not any(isinstance(form.get(part), UploadFile) for part in ("left_audio", "right_audio")):
        raise HTTPException(400, "send left_audio, right_audio or both")
    transcript = str(form.get("transcript") or "")
    body = {
        "model_id": str(form.get("model_id") or "sonic-2"),
        "language": form.get("language"),
        "voice": {
            "mode": "id",
            "id": str(form.get("voice_id") or ""),
            "__experimental_controls": _controls(form),
        },
        "output_format": _output_format(form),
    }
    spec = await _spec(runtime, body, principal)
    meter = PrepaidMeter(RequestMeter(runtime.store, principal.org_id, "infill"), per_character=True)
    tts = _generation(runtime, spec, meter, transcript)
    await meter.prepay(INFILL_FIXED_CREDITS)
    return await audio_response(tts)


async def _recognise(runtime: Runtime, clip: bytes) -> tuple[str, float]:
    """The words of a clip and its duration (STT pool; English)."""
    try:
        wav = await asyncio.to_thread(file_to_wav, clip, None, None)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    handle = runtime.stt_pool.open_stream("wav", "en")
    words: list[str] = []
    seconds = 0.0
    try:
        await handle.feed(wav)
        await handle.finish()
        async for event in handle:
            if isinstance(event, Word):
                words.append(event.text)
            elif isinstance(event, Step):
                seconds = event.total_duration_s
            elif isinstance(event, StreamError):
                raise HTTPException(400, event.message)
    except AudioFormatError as exc:
        raise HTTPException(400, str(exc)) from None
    finally:
        await handle.close()
    return " ".join(words), seconds


async def _changed_voice(request: Request, principal: Principal) -> CartesiaTts:
    runtime: Runtime = request.app.state.runtime
    form = await request.form()
    clip = form.get("clip")
    if not isinstance(clip, UploadFile):
        raise HTTPException(400, "the audio clip is missing: send it as the multipart part 'clip'")
    body = {
        "model_id": "sonic-2",
        "voice": {"mode": "id", "id": str(form.get("voice[id]") or "")},
        "output_format": _output_format(form),
    }
    spec = await _spec(runtime, body, principal)  # fail fast, before recognition
    text, seconds = await _recognise(runtime, await clip.read())
    # Priced per second of input, so the speech itself is not charged per character.
    meter = PrepaidMeter(RequestMeter(runtime.store, principal.org_id, "voice_changer"), per_character=False)
    await meter.prepay(math.ceil(VOICE_CHANGER_CREDITS_PER_SECOND * seconds))
    return _generation(runtime, spec, meter, text)


@router.post("/voice-changer/bytes")
async def voice_changer_bytes(request: Request, principal: TtsCaller) -> Response:
    return await audio_response(await _changed_voice(request, principal))


def _dual_line(message: dict[str, Any]) -> bytes:
    """SDK 2.0.17 reads one JSON object per line; SSE readers (4.x) read the event block after it."""
    text = json.dumps(message, separators=(",", ":"))
    return f"{text}\nevent: {message['type']}\ndata: {text}\n\n".encode()


async def _ndjson(tts: CartesiaTts) -> AsyncIterator[bytes]:
    try:
        async for piece in tts.pieces():
            for chunk in piece.chunks:
                if chunk:
                    yield _dual_line(chunk_message(chunk, piece.step_ms, None))
        yield _dual_line(base_message("done", None, done=True))
    except (ProtocolError, ValueError) as exc:
        yield _dual_line({**base_message("error", None, done=True), "status_code": 400, "error": str(exc)})
    finally:
        with contextlib.suppress(Exception):
            await tts.record_usage()


@router.post("/voice-changer/sse")
async def voice_changer_sse(request: Request, principal: TtsCaller) -> StreamingResponse:
    tts = await _changed_voice(request, principal)
    return StreamingResponse(_ndjson(tts), media_type="text/event-stream")
