"""``POST /v1/audio/speech``: OpenAI's TTS request over ``open_tts_stream``, streamed as it is made.

The engine renders 24 kHz int16 (``pcm_24000``); :class:`SpeechEncoder` turns it into the requested
``response_format``. ``stream_format: "sse"`` sends ``speech.audio.delta`` events and a final
``speech.audio.done`` with usage. The first piece is rendered before the response starts, so that
a bad voice, a busy engine or an empty balance is an HTTP error and not a cut stream.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import AsyncIterator
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from gradium.accounts.store import ApiKey
from gradium.server.admission import TRY_AGAIN_LATER
from gradium.server.billing import RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.protocol_log import log_protocol_error
from gradium.server.protocols.gradium.tts_ws import VoiceNotFound, open_tts_stream
from gradium.server.runtime import Runtime
from gradium.speech.tts import RenderedAudio, TtsStream

from .auth import require_bearer_key
from .errors import OpenAIError
from .speech_formats import SPEECH_FORMATS, SpeechEncoder
from .voices import voice_setup

router = APIRouter()
Key = Annotated[ApiKey, Depends(require_bearer_key)]
OPENAI_MAX_INPUT = 4096


class SpeechBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = "tts-1"
    input: str
    voice: str | dict[str, Any] | None = None
    instructions: str | None = None  # accepted; our engines have no style prompt
    response_format: str = "mp3"
    speed: float = 1.0
    stream_format: str = "audio"


def padding_for_speed(speed: float) -> float:
    """OpenAI's speed (0.25-4) as our padding_bonus (each 4 points halve or double the rate)."""
    return max(-4.0, min(4.0, -4.0 * math.log2(speed)))


def _setup(body: SpeechBody) -> dict[str, Any]:
    if not body.input.strip():
        raise OpenAIError(400, "input must not be empty", param="input")
    if body.response_format not in SPEECH_FORMATS:
        formats = ", ".join(SPEECH_FORMATS)
        raise OpenAIError(400, f"response_format must be one of {formats}", param="response_format")
    if body.stream_format not in ("audio", "sse"):
        raise OpenAIError(400, "stream_format must be 'audio' or 'sse'", param="stream_format")
    if not 0.25 <= body.speed <= 4.0:
        raise OpenAIError(400, "speed must be between 0.25 and 4.0", param="speed")
    return {
        **voice_setup(body.voice),
        # OpenAI's model names (tts-1, tts-1-hd, gpt-4o-mini-tts) mean our default (best) voices;
        # our own model names (fast, formant, ...) pick those families.
        "model_name": body.model,
        "output_format": "pcm_24000",
        "json_config": {"padding_bonus": padding_for_speed(body.speed)},
    }


def _status_of_message(message: str) -> int:
    if message.startswith("insufficient credits"):
        return 402
    return 503 if "capacity" in message or "busy" in message else 400


def _status_of(exc: ProtocolError) -> int:
    return 503 if exc.code == TRY_AGAIN_LATER else _status_of_message(exc.message)


@router.post("/audio/speech")
async def speech(body: SpeechBody, key: Key, request: Request) -> StreamingResponse:
    runtime: Runtime = request.app.state.runtime
    limit = runtime.settings.limits.max_http_tts_chars
    if len(body.input) > limit:
        raise OpenAIError(400, f"input is longer than {limit} characters", param="input")
    setup = _setup(body)
    meter = RequestMeter(runtime.store, key.org_id, "tts")
    encoder = SpeechEncoder(body.response_format)
    try:
        stream, _ = await open_tts_stream(runtime, setup, meter, limit)
        stream.push_text(body.input)
        stream.end()
        pieces = stream.output()
        first = await anext(pieces, None)
    except VoiceNotFound as exc:
        await meter.record()
        raise OpenAIError(400, exc.message, param="voice") from None
    except ProtocolError as exc:
        await meter.record()
        raise OpenAIError(_status_of(exc), exc.message) from None
    except ValueError as exc:  # a malformed tag, a word too long to speak
        await meter.record()
        raise OpenAIError(400, str(exc), param="input") from None
    failure: list[str] = []  # why the stream stopped early (credits ran out mid-text)
    audio = _audio_bytes(stream, meter, encoder, first, pieces, failure)
    if body.stream_format == "sse":
        return StreamingResponse(_sse(audio, stream, failure), media_type="text/event-stream")
    return StreamingResponse(audio, media_type=encoder.content_type)


async def _audio_bytes(
    stream: TtsStream,
    meter: RequestMeter,
    encoder: SpeechEncoder,
    first: RenderedAudio | None,
    rest: AsyncIterator[RenderedAudio],
    failure: list[str],
) -> AsyncIterator[bytes]:
    """The encoded audio; an error after the response started ends it early (the status is
    already sent), recorded in ``failure`` and in the log."""
    try:
        piece = first
        while piece is not None:
            for chunk in piece.chunks:
                if data := encoder.encode(np.frombuffer(chunk, dtype="<i2")):
                    yield data
            try:
                piece = await anext(rest, None)
            except (ProtocolError, ValueError) as exc:
                message = exc.message if isinstance(exc, ProtocolError) else str(exc)
                failure.append(message)
                log_protocol_error("openai", "/v1/audio/speech", None, message, _status_of_message(message))
                piece = None
        if tail := encoder.finish():
            yield tail
    finally:
        meter.characters = stream.billed_chars
        meter.audio_seconds = stream.audio_seconds
        await meter.record()


async def _sse(audio: AsyncIterator[bytes], stream: TtsStream, failure: list[str]) -> AsyncIterator[bytes]:
    async for data in audio:
        event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")}
        yield f"data: {json.dumps(event)}\n\n".encode()
    if failure:
        error = {"type": "error", "error": {"message": failure[0], "type": "invalid_request_error"}}
        yield f"data: {json.dumps(error)}\n\n".encode()
        return  # no speech.audio.done: the text was not all spoken
    characters = stream.billed_chars
    done = {
        "type": "speech.audio.done",
        # Our unit is the character: input_tokens counts billed characters, output_tokens 0.
        "usage": {"input_tokens": characters, "output_tokens": 0, "total_tokens": characters},
    }
    yield f"data: {json.dumps(done)}\n\n".encode()
