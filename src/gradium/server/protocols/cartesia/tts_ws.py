"""``WS /tts/websocket``: many contexts on one socket, continuations, flushes and cancels.

Each context is one ``CartesiaTts`` and one runner task; every frame leaves through a single
writer so frames of interleaved contexts never mix. Flush ids are 0-based segment indices carried
by every chunk and timestamps message (``done`` carries none): the async SDK files a message under
queue ``flush_id`` and opens queue k+1 as soon as it *sends* flush k, so this routes audio that
was already in flight to the right generator (see the protocol sheet §7.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from gradium.server.billing import RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.outbox import Outbox, SlowReader
from gradium.server.protocol_log import log_protocol_error
from gradium.server.protocols.json_frames import encode_frame
from gradium.server.runtime import Runtime
from gradium.text.tags import TagError
from gradium.text.validate import TextError, check_json_strings

from .auth import Principal, credential_watch
from .tts_core import CartesiaTts, TtsRequestError, base_message, piece_messages, prepare_tts_request

log = logging.getLogger("gradium.cartesia.tts_ws")
Message = dict[str, Any]
_DELAY_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:ms)?\s*$")


@dataclass
class _Context:
    context_id: str
    tts: CartesiaTts
    words: bool
    phonemes: bool
    segment: int = 0  # index of the flush segment now being produced
    buffer_delay_ms: int | None = None  # max_buffer_delay_ms; None: wait for the rest of a word
    cancelled: bool = False  # a cancel: frames already queued for it are dropped, not sent
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    release: asyncio.TimerHandle | None = field(default=None, repr=False)


def _buffer_delay(message: Message) -> int | None:
    """``max_buffer_delay_ms`` (0 to 5000, Cartesia's range; "0ms" too), or None when absent."""
    value = message.get("max_buffer_delay_ms")
    if value is None:
        return None
    if isinstance(value, str) and (match := _DELAY_TEXT.match(value)):
        value = float(match.group(1))
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 5000:
        raise ValueError("max_buffer_delay_ms must be a number of milliseconds from 0 to 5000")
    return int(value)


class TtsSocket:
    def __init__(self, websocket: WebSocket, runtime: Runtime, principal: Principal) -> None:
        self.ws = websocket
        self.runtime = runtime
        self.principal = principal
        self.contexts: dict[str, _Context] = {}
        limits = runtime.settings.limits
        # Bounded: a client that does not read pauses its contexts, then is closed (SlowReader).
        # Frames carry their context: a cancelled context's queued frames are dropped.
        self.outbox: Outbox[_Context] = Outbox(limits.max_send_queue_bytes, limits.slow_reader_timeout_s)
        self.credentials = credential_watch(runtime, websocket, "tts")
        self.close_code = 1000
        self._reader: asyncio.Task[None] | None = None

    async def serve(self) -> None:
        await self.ws.accept()
        writer = asyncio.create_task(self._write_loop())
        self._reader = reader = asyncio.create_task(self._read_loop())
        watcher = asyncio.create_task(self.credentials.watch(self._credentials_lapsed))
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await reader  # cancelled by the watcher when the credential lapses
        finally:
            watcher.cancel()
            reader.cancel()
            for context in list(self.contexts.values()):
                await self._cancel(context)
            self.outbox.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, timeout=10)
            if self.ws.application_state == WebSocketState.CONNECTED:
                # A client that does not read may never take the close frame: do not wait on it.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.ws.close(self.close_code), 5.0)

    async def _read_loop(self) -> None:
        try:
            while True:
                await self._handle(await self._receive_text())
        except WebSocketDisconnect:
            pass  # the client closed: its contexts are cancelled by serve()
        except ProtocolError as exc:
            # A frame the protocol cannot carry, or a lapsed credential: say why, then close 1008.
            await self._error("", exc.message)
            self.close_code = exc.code
        except Exception:
            log.exception("internal error on the Cartesia TTS WebSocket")
            await self._error("", "internal server error", 500)
            self.close_code = 1011

    async def _credentials_lapsed(self, error: ProtocolError) -> None:
        await self._error("", error.message, 401)
        await self._close_socket(error)

    async def _close_socket(self, error: ProtocolError) -> None:
        """End the whole socket (not one context) with ``error``'s code."""
        if isinstance(error, SlowReader):
            await self._error("", error.message, 429)
        self.close_code = error.code
        for context in list(self.contexts.values()):
            await self._cancel(context)
        if self._reader is not None:
            self._reader.cancel()  # it waits in receive(); serve() then closes with close_code

    async def _receive_text(self) -> str:
        """The next text frame; a binary frame is a ProtocolError (``receive_text`` would KeyError)."""
        frame = await self.ws.receive()
        if frame["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(frame.get("code", 1000))
        text = frame.get("text")
        if text is None:
            raise ProtocolError("binary frames are not supported: send JSON objects in text frames")
        return str(text)

    # -- input -------------------------------------------------------------------------------------
    async def _handle(self, text: str) -> None:
        try:
            message = json.loads(text)
        except json.JSONDecodeError as exc:
            await self._error("", f"invalid JSON: {exc.msg}")
            return
        if not isinstance(message, dict):
            await self._error("", "each message must be a JSON object")
            return
        try:
            check_json_strings(message, "the message")
        except TextError as exc:
            await self._error(str(message.get("context_id") or ""), str(exc))
            return
        context_id = str(message.get("context_id") or uuid.uuid4())
        if message.get("cancel") is True:
            context = self.contexts.get(context_id)
            if context is not None:
                await self._cancel(context)
            return
        transcript = message.get("transcript", "")
        if not isinstance(transcript, str):
            await self._error(context_id, "transcript must be a string")
            return
        context = self.contexts.get(context_id)
        if context is None and transcript == "":
            await self._control_without_context(context_id, message)
            return
        if context is None:
            context = await self._open(context_id, message)
            if context is None:
                return
        await self._feed(context, message, transcript)

    async def _control_without_context(self, context_id: str, message: Message) -> None:
        """A flush or end for a context that has nothing pending (never started, or finished)."""
        if message.get("flush") is True:
            await self._send({**base_message("flush_done", context_id), "flush_id": 0, "flush_done": True})
        elif message.get("continue") is not True:
            await self._send(base_message("done", context_id, done=True))

    async def _open(self, context_id: str, message: Message) -> _Context | None:
        if len(self.contexts) >= self.runtime.settings.limits.max_requests_per_socket:
            await self._error(context_id, "too many active contexts on this socket")
            return None
        await self.credentials.revalidate()  # a new context is a new request: ProtocolError ends the socket
        meter = RequestMeter(self.runtime.store, self.principal.org_id, "tts")
        try:
            spec = await prepare_tts_request(self.runtime, message, self.principal.org_id)
        except TtsRequestError as exc:
            await self._error(context_id, exc.message, exc.status)
            return None
        if spec.container != "raw":
            await self._error(
                context_id, 'the WebSocket streams raw audio only: use output_format.container "raw"'
            )
            return None
        limit = self.runtime.settings.limits.max_text_chars_per_request
        context = _Context(
            context_id,
            CartesiaTts(self.runtime, spec, meter, limit),
            words=bool(message.get("add_timestamps")),
            phonemes=bool(message.get("add_phoneme_timestamps")),
        )
        self.contexts[context_id] = context
        context.task = asyncio.create_task(self._run(context))
        return context

    async def _feed(self, context: _Context, message: Message, transcript: str) -> None:
        if context.tts.ended:
            await self._error(context.context_id, "this context already received its final input")
            return
        try:
            if "max_buffer_delay_ms" in message:
                context.buffer_delay_ms = _buffer_delay(message)
            if transcript:
                context.tts.push(transcript, whole=context.buffer_delay_ms == 0)
                self._schedule_release(context)
            if message.get("flush") is True:
                context.tts.flush()
            if message.get("continue") is not True:
                context.tts.end()
        except (TagError, ValueError) as exc:
            await self._cancel(context)
            await self._error(context.context_id, str(exc))

    def _schedule_release(self, context: _Context) -> None:
        """Speak held-back text once ``max_buffer_delay_ms`` passes without more text."""
        if context.release is not None:
            context.release.cancel()
            context.release = None
        delay = context.buffer_delay_ms
        if delay and context.tts.holding_text:
            context.release = asyncio.get_running_loop().call_later(
                delay / 1000, self._release, context
            )

    def _release(self, context: _Context) -> None:
        context.release = None
        if context.cancelled or context.tts.ended:
            return
        try:
            context.tts.release_held_text()
        except (TagError, ValueError) as exc:
            asyncio.get_running_loop().create_task(self._error(context.context_id, str(exc)))

    # -- output ------------------------------------------------------------------------------------
    async def _run(self, context: _Context) -> None:
        cid = context.context_id
        try:
            async for piece in context.tts.pieces():
                for message in piece_messages(piece, cid, words=context.words, phonemes=context.phonemes):
                    await self._send({**message, "flush_id": context.segment}, context)
                if piece.flush:
                    done = {
                        **base_message("flush_done", cid),
                        "flush_id": context.segment,
                        "flush_done": True,
                    }
                    await self._send(done, context)
                    context.segment += 1
            await self._send(base_message("done", cid, done=True), context)
        except SlowReader as exc:
            await self._close_socket(exc)
        except ProtocolError as exc:
            await self._error(cid, exc.message, 402 if "credits" in exc.message else 400)
        except (TagError, TextError) as exc:
            await self._error(cid, str(exc))
        except Exception:
            # Never the exception's own text: it may be an engine's internals (an encoding error).
            log.exception("internal error in Cartesia TTS context %s", cid)
            await self._error(cid, "internal server error", 500)
        finally:
            if self.contexts.get(cid) is context:
                del self.contexts[cid]
            with contextlib.suppress(Exception):
                await asyncio.shield(context.tts.record_usage())

    async def _cancel(self, context: _Context) -> None:
        context.cancelled = True
        if context.release is not None:
            context.release.cancel()
        self.contexts.pop(context.context_id, None)
        task = context.task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _error(self, context_id: str, text: str, status: int = 400) -> None:
        log_protocol_error("cartesia", "/tts/websocket", context_id, text, status)
        error = {**base_message("error", context_id, done=True), "status_code": status, "error": text}
        await self.outbox.put(encode_frame(error, "data"), wait=False)

    async def _send(self, message: Message, context: _Context | None = None) -> None:
        """Queue a message; waits while the client is behind (the context's synthesis pauses)."""
        await self.outbox.put(encode_frame(message, "data"), context)

    async def _write_loop(self) -> None:
        while (item := await self.outbox.get()) is not None:
            text, context = item
            if self.ws.application_state != WebSocketState.CONNECTED:
                continue
            if context is not None and context.cancelled:
                continue  # cancelled: audio rendered before the cancel is not sent either
            with contextlib.suppress(Exception):
                await self.ws.send_text(text)
