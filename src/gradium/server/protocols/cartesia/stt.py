"""``POST /stt`` (batch transcription) and ``WS /stt/websocket``, over the shared STT pool."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import uuid
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.datastructures import UploadFile
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from gradium.audio.errors import AudioFormatError
from gradium.server.billing import RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.protocol_log import log_protocol_error
from gradium.server.runtime import Runtime
from gradium.speech.stt_pipeline import Partial, Step, UtteranceEnd, Word
from gradium.workers.stt_pool import Finished, Flushed, StreamError, SttStreamHandle, SttWorkerPool

from .auth import Principal, credential_watch, requires
from .stt_audio import RawStream, check_raw_format, file_to_wav

router = APIRouter()
BATCH_CREDITS_PER_SECOND = 0.5  # Cartesia's price: 1 credit per 2 s of audio
FEED_BYTES = 256 * 1024  # slices handed to the pool, so one upload never makes one huge pipe message


class SttBilling:
    """Charges whole credits as audio is recognised; the final partial credit is rounded up."""

    def __init__(self, meter: RequestMeter, credits_per_second: float, max_seconds: float) -> None:
        self.meter = meter
        self.rate = credits_per_second
        self.max_seconds = max_seconds

    async def until(self, seconds: float, *, final: bool = False) -> None:
        if seconds > self.max_seconds:
            raise ProtocolError(f"audio exceeds the limit of {self.max_seconds:g} s per request")
        self.meter.audio_seconds = max(self.meter.audio_seconds, seconds)
        due = self.rate * self.meter.audio_seconds
        owed = math.ceil(due - 1e-9) if final else math.floor(due)
        await self.meter.charge(owed - self.meter.credits)


def _language(pool: SttWorkerPool, raw: str | None, model_name: str | None = None) -> str:
    """Cartesia's language defaults to English; "any" asks for detection. Raises ValueError."""
    _, code = pool.validate((raw or "en").strip().lower(), model_name=model_name)
    return code


def _engine_model(model: str | None) -> str | None:
    # Cartesia's own model names (ink-whisper, ...) all mean our default engine.
    return None if model is None or model.startswith("ink") else model


def _word_json(word: Word) -> dict[str, Any]:
    return {"word": word.text, "start": round(word.start_s, 3), "end": round(word.stop_s, 3)}


# -- batch ------------------------------------------------------------------------------------------


async def _transcribe(handle: SttStreamHandle, wav: bytes, billing: SttBilling) -> list[Word]:
    for start in range(0, len(wav), FEED_BYTES):
        await handle.feed(wav[start : start + FEED_BYTES])
    await handle.finish()
    words: list[Word] = []
    async for event in handle:
        if isinstance(event, Step):
            await billing.until(event.total_duration_s)
        elif isinstance(event, Word):
            words.append(event)
        elif isinstance(event, StreamError):
            raise AudioFormatError(event.message)
        elif isinstance(event, Finished):
            await billing.until(billing.meter.audio_seconds, final=True)
    return words


@router.post("/stt")
async def transcribe(
    request: Request,
    principal: Annotated[Principal, Depends(requires("stt"))],
    encoding: str | None = None,
    sample_rate: int | None = None,
) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(400, "the audio file is missing: send it as the multipart part 'file'")
    granularities = [str(g) for g in form.getlist("timestamp_granularities[]")]
    try:
        model_name = _engine_model(str(form.get("model") or "") or None)
        language = _language(runtime.stt_pool, str(form.get("language") or "en"), model_name)
        wav = await asyncio.to_thread(file_to_wav, await upload.read(), encoding, sample_rate)
    except ValueError as exc:  # AudioFormatError is a ValueError too
        raise HTTPException(400, str(exc)) from None
    meter = RequestMeter(runtime.store, principal.org_id, "stt")
    billing = SttBilling(
        meter, BATCH_CREDITS_PER_SECOND, runtime.settings.limits.max_audio_seconds_per_request
    )
    handle = runtime.stt_pool.open_stream("wav", language, model_name=model_name)
    try:
        words = await _transcribe(handle, wav, billing)
    except ProtocolError as exc:
        raise HTTPException(402 if "credits" in exc.message else 400, exc.message) from None
    except AudioFormatError as exc:
        raise HTTPException(400, str(exc)) from None
    finally:
        await handle.close()
        await meter.record()
    result: dict[str, Any] = {
        "type": "transcript",
        "request_id": str(uuid.uuid4()),
        "text": " ".join(w.text for w in words),
        "language": language,
        "duration": round(meter.audio_seconds, 3),
        "is_final": True,
    }
    if "word" in granularities:
        result["words"] = [_word_json(w) for w in words]
    return result


# -- streaming --------------------------------------------------------------------------------------


class SttSocket:
    """One streaming session: binary audio, ``finalize`` and ``done`` in; transcripts out."""

    def __init__(self, websocket: WebSocket, runtime: Runtime, principal: Principal) -> None:
        self.ws = websocket
        self.runtime = runtime
        self.request_id = str(uuid.uuid4())
        self.meter = RequestMeter(runtime.store, principal.org_id, "stt")
        limits, pricing = runtime.settings.limits, runtime.settings.pricing
        self.billing = SttBilling(
            self.meter, pricing.stt_credits_per_second, limits.max_audio_seconds_per_request
        )
        self.language = "en"
        self.model: str | None = None
        self.flushes = 0
        self.utterance: list[Word] = []  # committed words not yet sent as a final transcript
        self.credentials = credential_watch(runtime, websocket, "stt")
        self.close_code = 1000
        self.reported_s = 0.0  # audio covered by the transcripts sent so far (their durations add up)

    async def serve(self) -> None:
        await self.ws.accept()
        try:
            raw = self._open()
        except ValueError as exc:
            await self._error(str(exc), 400)
            await self.ws.close(code=1008)
            return
        await self._opened()
        handle = self.runtime.stt_pool.open_stream("wav", self.language, model_name=self.model)
        relay = asyncio.create_task(self._relay(handle))
        watcher = asyncio.create_task(self.credentials.watch(partial(self._credentials_lapsed, relay)))
        try:
            await handle.feed(raw.header())
            await self._read(handle, raw, relay)
            await relay
        except (WebSocketDisconnect, asyncio.CancelledError):
            pass
        finally:
            watcher.cancel()
            relay.cancel()
            with contextlib.suppress(BaseException):
                await relay
            await handle.close()
            with contextlib.suppress(Exception):
                await asyncio.shield(self.meter.record())
            if self.ws.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await self.ws.close(self.close_code)

    async def _opened(self) -> None:
        """The query was valid and the stream is about to start (the turns API says so)."""

    async def _credentials_lapsed(self, relay: asyncio.Task[None], error: ProtocolError) -> None:
        """The key or token was revoked or expired during the stream: say so and end it (1008)."""
        await self._send({"type": "error", "message": error.message})
        self.close_code = error.code
        relay.cancel()  # the reader waits on the relay too, so the stream ends at once

    def _open(self) -> RawStream:
        query = self.ws.query_params
        self.model = _engine_model(query.get("model"))
        self.language = _language(self.runtime.stt_pool, query.get("language"), self.model)
        encoding, rate = check_raw_format(query.get("encoding"), query.get("sample_rate"))
        return RawStream(encoding, rate)

    async def _read(self, handle: SttStreamHandle, raw: RawStream, relay: asyncio.Task[None]) -> None:
        idle = self.runtime.settings.limits.idle_timeout_s
        while not relay.done():
            receive = asyncio.ensure_future(self.ws.receive())
            finished, _ = await asyncio.wait(
                {receive, relay}, timeout=idle, return_when=asyncio.FIRST_COMPLETED
            )
            if receive not in finished:
                receive.cancel()
                if not relay.done():
                    await self._error(f"idle timeout: no audio for {idle:g} s", 408)
                return
            frame = receive.result()
            if frame["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(frame.get("code", 1000))
            if frame.get("bytes") is not None:
                await handle.feed(await raw.convert(frame["bytes"]))
            elif await self._command(handle, str(frame.get("text", "")).strip()):
                return

    async def _command(self, handle: SttStreamHandle, command: str) -> bool:
        """Handle a text command; True once ``done`` (or LiveKit's ``close``) ended the input."""
        if command == "finalize":
            await handle.flush(self.flushes)
            self.flushes += 1
            return False
        if command in ("done", "close"):
            await handle.finish()
            return True
        await self._error(f"unknown command {command!r}: send 'finalize', 'done' or 'close'", 400)
        return False

    async def _relay(self, handle: SttStreamHandle) -> None:
        """Interim transcripts (``is_final`` false) while an utterance is spoken, one final
        transcript per utterance (or per ``finalize``)."""
        try:
            while batch := await handle.next_events():
                for event in batch:
                    if isinstance(event, Step):
                        await self.billing.until(event.total_duration_s)
                    elif isinstance(event, Word):
                        self.utterance.append(event)
                    elif isinstance(event, Partial):
                        await self._transcript(event.text, [], is_final=False)
                    elif isinstance(event, UtteranceEnd):
                        await self._final()
                    elif isinstance(event, Flushed):
                        await self._final()
                        await self._send({"type": "flush_done"})
                    elif isinstance(event, StreamError):
                        raise ProtocolError(event.message)
                    elif isinstance(event, Finished):
                        await self._final()
                        await self.billing.until(self.meter.audio_seconds, final=True)
                        await self._send({"type": "done"})
                        return
        except ProtocolError as exc:
            await self._error(exc.message, 402 if "credits" in exc.message else 400)

    async def _final(self) -> None:
        words, self.utterance = self.utterance, []
        if words:
            await self._transcript(" ".join(w.text for w in words), words, is_final=True)

    async def _transcript(self, text: str, words: list[Word], *, is_final: bool) -> None:
        # Each transcript's duration is the audio since the previous one: clients add them up to
        # place it on their timeline (LiveKit), so the total is the audio received.
        duration = max(0.0, self.meter.audio_seconds - self.reported_s)
        self.reported_s += duration
        message: dict[str, Any] = {
            "type": "transcript",
            "text": text,
            "is_final": is_final,
            "duration": round(duration, 3),
            "language": self.language,
        }
        if is_final:
            message["words"] = [_word_json(w) for w in words]
        await self._send(message)

    async def _error(self, message: str, code: int) -> None:
        """An error message with an HTTP-style ``code`` (clients retry codes of 500 and above)."""
        log_protocol_error("cartesia", "/stt/websocket", self.request_id, message, code)
        await self._send({"type": "error", "message": message, "code": code})

    async def _send(self, message: dict[str, Any]) -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.ws.send_text(json.dumps({**message, "request_id": self.request_id}))
