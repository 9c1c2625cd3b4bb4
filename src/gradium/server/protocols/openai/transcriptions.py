"""``POST /v1/audio/transcriptions`` and ``/v1/audio/translations`` over the STT worker pool.

The upload is decoded to one WAV and streamed through the same pool as the WebSocket routes, billed
per second of audio like them. Translations run Whisper base with its ``translate`` task (English
text from French, German, Spanish or Portuguese speech; English speech is transcribed).
``stream=true`` answers with server-sent events: ``transcript.text.delta`` per committed word,
then ``transcript.text.done`` with the whole text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.datastructures import FormData, UploadFile

from gradium.accounts.store import ApiKey
from gradium.audio.errors import AudioFormatError
from gradium.server.billing import AudioSecondsBilling, RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.runtime import Runtime
from gradium.speech.stt_engines import MODEL_NAMES
from gradium.speech.stt_pipeline import Step, UtteranceEnd, Word
from gradium.workers.stt_pool import Finished, StreamError, SttStreamHandle

from .auth import require_bearer_key
from .errors import OpenAIError
from .transcript_formats import RESPONSE_FORMATS, Transcript, srt, usage, verbose_json, vtt
from .uploads import upload_to_wav

router = APIRouter()
Key = Annotated[ApiKey, Depends(require_bearer_key)]
FEED_BYTES = 256 * 1024  # slices handed to the pool
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # OpenAI's limit


def _engine_model(model: str) -> str | None:
    """whisper-1 and the gpt-4o transcribe models mean our default engine; our names pick theirs."""
    name = model.strip().lower()
    return name if name in MODEL_NAMES else None


def _field(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default


class _Request:
    """A validated transcription request."""

    def __init__(self, form: FormData) -> None:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise OpenAIError(
                400, "the audio file is missing: send it as the multipart part 'file'", param="file"
            )
        self.upload = upload
        self.model = _engine_model(_field(form, "model", "whisper-1"))
        language = _field(form, "language").strip()
        self.language = language or None
        self.response_format = _field(form, "response_format", "json") or "json"
        if self.response_format not in RESPONSE_FORMATS:
            raise OpenAIError(
                400, f"response_format must be one of {', '.join(RESPONSE_FORMATS)}", param="response_format"
            )
        self.granularities = {
            str(g)
            for g in [*form.getlist("timestamp_granularities[]"), *form.getlist("timestamp_granularities")]
        }
        if unknown := self.granularities - {"word", "segment"}:
            raise OpenAIError(
                400,
                f"timestamp_granularities must be word or segment, not {sorted(unknown)}",
                param="timestamp_granularities",
            )
        if self.granularities and self.response_format != "verbose_json":
            raise OpenAIError(
                400,
                "timestamp_granularities needs response_format verbose_json",
                param="timestamp_granularities",
            )
        self.stream = _field(form, "stream").strip().lower() in ("true", "1")
        temperature = _field(form, "temperature", "0") or "0"
        try:
            self.temperature = max(0.0, min(1.0, float(temperature)))
        except ValueError:
            raise OpenAIError(400, "temperature must be a number", param="temperature") from None


async def _events(
    handle: SttStreamHandle, wav: bytes, billing: AudioSecondsBilling, max_seconds: float
) -> AsyncIterator[Word | UtteranceEnd]:
    """Feed the whole file, yield its words and utterance ends; bills as the audio is recognised."""
    for start in range(0, len(wav), FEED_BYTES):
        await handle.feed(wav[start : start + FEED_BYTES])
    await handle.finish()
    async for event in handle:
        if isinstance(event, Step):
            if event.total_duration_s > max_seconds:
                raise ProtocolError(f"audio exceeds the limit of {max_seconds:g} s per request")
            await billing.until(event.total_duration_s)
        elif isinstance(event, Word | UtteranceEnd):
            yield event
        elif isinstance(event, StreamError):
            raise AudioFormatError(event.message)
        elif isinstance(event, Finished):
            await billing.until(billing.meter.audio_seconds, final=True)


class _Job:
    """One open recognition stream and its meter; ``close`` records the usage."""

    def __init__(self, runtime: Runtime, key: ApiKey, req: _Request, wav: bytes, task: str) -> None:
        self.runtime = runtime
        self.meter = RequestMeter(runtime.store, key.org_id, "stt")
        self.billing = AudioSecondsBilling(self.meter, runtime.settings.pricing.stt_credits_per_second)
        try:
            self.handle = runtime.stt_pool.open_stream(
                "wav", req.language, temp=req.temperature, model_name=req.model, task=task
            )
        except ValueError as exc:
            raise OpenAIError(400, str(exc), param="language") from None
        self.wav = wav
        language = "en" if task == "translate" else self.handle_language(req)
        self.transcript = Transcript(language=language)

    @staticmethod
    def handle_language(req: _Request) -> str:
        return (req.language or "auto").lower().split("-")[0]

    def events(self) -> AsyncIterator[Word | UtteranceEnd]:
        max_seconds = self.runtime.settings.limits.max_audio_seconds_per_request
        return _events(self.handle, self.wav, self.billing, max_seconds)

    def add(self, event: Word | UtteranceEnd) -> None:
        segments = self.transcript.segments
        if isinstance(event, Word):
            if not segments or segments[-1] is _CLOSED:
                segments.append([])
            segments[-1].append(event)
        elif segments and segments[-1]:
            segments.append(_CLOSED)

    def finish(self) -> Transcript:
        self.transcript.segments = [s for s in self.transcript.segments if s]
        self.transcript.duration_s = self.meter.audio_seconds
        return self.transcript

    async def close(self) -> None:
        await self.handle.close()
        with contextlib.suppress(Exception):
            await asyncio.shield(self.meter.record())


_CLOSED: list[Word] = []  # marks the end of a segment; the next word opens a new one


def _http_error(exc: Exception) -> OpenAIError:
    if isinstance(exc, ProtocolError):
        return OpenAIError(402 if exc.message.startswith("insufficient credits") else 400, exc.message)
    return OpenAIError(400, str(exc), param="file")


async def _transcribe(request: Request, key: ApiKey, task: str) -> Response:
    runtime: Runtime = request.app.state.runtime
    req = _Request(await request.form())
    data = await req.upload.read()
    if len(data) > MAX_UPLOAD_BYTES:
        raise OpenAIError(
            413, f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", param="file"
        )
    try:
        wav = await asyncio.to_thread(upload_to_wav, data)
    except AudioFormatError as exc:
        raise OpenAIError(400, str(exc), param="file") from None
    job = _Job(runtime, key, req, wav, task)
    if req.stream:
        return StreamingResponse(_stream(job), media_type="text/event-stream")
    try:
        async for event in job.events():
            job.add(event)
    except (ProtocolError, AudioFormatError) as exc:
        raise _http_error(exc) from None
    finally:
        await job.close()
    return _respond(job.finish(), req, task)


def _respond(transcript: Transcript, req: _Request, task: str) -> Response:
    if req.response_format == "text":
        return PlainTextResponse(transcript.text + "\n")
    if req.response_format == "srt":
        return PlainTextResponse(srt(transcript))
    if req.response_format == "vtt":
        return PlainTextResponse(vtt(transcript), media_type="text/vtt")
    if req.response_format == "verbose_json":
        return JSONResponse(verbose_json(transcript, req.granularities, task))
    return JSONResponse({"text": transcript.text, "usage": usage(transcript)})


def _event(body: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(body)}\n\n".encode()


async def _stream(job: _Job) -> AsyncIterator[bytes]:
    try:
        first = True
        async for event in job.events():
            job.add(event)
            if isinstance(event, Word):
                delta = event.text if first else " " + event.text
                first = False
                yield _event({"type": "transcript.text.delta", "delta": delta, "logprobs": []})
        transcript = job.finish()
        yield _event({"type": "transcript.text.done", "text": transcript.text, "usage": usage(transcript)})
    except (ProtocolError, AudioFormatError) as exc:
        error = _http_error(exc)
        yield _event({"type": "error", "error": {"message": error.message, "type": "invalid_request_error"}})
    finally:
        await job.close()


@router.post("/audio/transcriptions")
async def transcriptions(key: Key, request: Request) -> Response:
    return await _transcribe(request, key, "transcribe")


@router.post("/audio/translations")
async def translations(key: Key, request: Request) -> Response:
    return await _transcribe(request, key, "translate")
