"""One Gradium streaming WebSocket: auth, framing, request multiplexing, idle timeout, closing.

The TTS, STT and S2S routes share this lifecycle (protocol sheet §3, §7, §13); each supplies a
``RequestHandler`` factory that turns a ``setup`` message into a running request. Every server frame
goes through one writer task so that frames of concurrent requests never interleave mid-frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, MutableMapping
from functools import partial
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from gradium.accounts.store import ApiKey
from gradium.server.credentials import CredentialWatch
from gradium.server.errors import ProtocolError
from gradium.server.outbox import SLOW_READER_CLOSE_REASON, Outbox, SlowReader
from gradium.server.protocols.json_frames import encode_frame
from gradium.server.runtime import Runtime
from gradium.text.validate import TextError, check_json_strings

log = logging.getLogger("gradium.ws")

Message = dict[str, Any]


def encode_message(message: Message) -> str:
    """The JSON text of a server message (audio payloads spliced in unscanned)."""
    return encode_frame(message, "audio")


Emit = Callable[[Message], Awaitable[None]]
CLOSE_TIMEOUT_S = 5.0
INPUT_TYPES = frozenset({"text", "audio", "flush"})


class RequestHandler(ABC):
    """One request (one ``setup``) on a socket."""

    close_ws_on_eos: bool = True

    @abstractmethod
    async def start(self) -> Message:
        """Validate and prepare; return the ``ready`` message fields (without ``type``)."""

    @abstractmethod
    async def handle_input(self, message: Message) -> None:
        """A ``text``/``audio``/``flush`` message for this request."""

    @abstractmethod
    async def end_input(self) -> None:
        """The client sent ``end_of_stream`` for this request."""

    @abstractmethod
    async def run(self, emit: Emit) -> None:
        """Produce output messages until the request is complete."""

    @property
    def waiting_for_input(self) -> bool:
        """True while the request cannot finish without more client messages (for the idle timeout)."""
        return True

    async def cancel(self) -> None:  # noqa: B027 - a no-op is the right default for most requests
        """The client went away or another request failed: release resources."""


HandlerFactory = Callable[[Message, ApiKey], RequestHandler]


def ready_fields(request_id: str, setup: Message, sample_rate: int, **extra: Any) -> Message:
    """The ``ready`` message of a request (without ``type``): 80 ms frames at ``sample_rate``."""
    return {
        "request_id": request_id,
        "model_name": setup.get("model_name") or "default",
        "sample_rate": sample_rate,
        "frame_size": sample_rate * 80 // 1000,
        **extra,
        "text_stream_names": [],
    }


class _Request:
    def __init__(self, handler: RequestHandler, client_req_id: str | None) -> None:
        self.handler = handler
        self.client_req_id = client_req_id
        self.task: asyncio.Task[None] | None = None
        self.input_ended = False


class GradiumConnection:
    def __init__(self, websocket: WebSocket, runtime: Runtime, factory: HandlerFactory) -> None:
        self.ws = websocket
        self.runtime = runtime
        self.factory = factory
        limits = runtime.settings.limits
        # Bounded: a client that does not read pauses its requests, then is closed (SlowReader).
        self.outbox = Outbox(limits.max_send_queue_bytes, limits.slow_reader_timeout_s)
        self.requests: dict[str | None, _Request] = {}
        self.closing = False  # no more setups; close once outstanding requests finish
        self.failure: ProtocolError | None = None
        self.done = asyncio.Event()
        self.credentials: CredentialWatch  # set once the handshake's key is known

    # -- entry point -------------------------------------------------------------------------------
    async def serve(self) -> None:
        await self.ws.accept()
        writer = asyncio.create_task(self._write_loop())
        watcher: asyncio.Task[None] | None = None
        try:
            api_key = await self._authenticate()
            watcher = asyncio.create_task(self.credentials.watch(self._fail))
            await self._read_loop(api_key)
        except ProtocolError as exc:
            await self._fail(exc)
        except WebSocketDisconnect:
            pass  # a client close at any moment is a cancel, not an error (§13.25)
        except Exception:
            log.exception("internal error on %s", self.ws.url.path)
            await self._fail(ProtocolError("internal server error", code=1011))
        finally:
            if watcher is not None:
                watcher.cancel()
            await self._cancel_all()
            close_code = self.failure.code if self.failure else 1000
            self.outbox.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, timeout=10)
            await self._close(close_code)

    async def _authenticate(self) -> ApiKey:
        key = self.ws.headers.get("x-api-key")
        if not key:
            raise ProtocolError("missing API key: send it in the x-api-key header")
        api_key = await asyncio.to_thread(self.runtime.store.authenticate, key)
        if api_key is None:
            raise ProtocolError("invalid or revoked API key")
        self.credentials = CredentialWatch(
            partial(self._key_problem, key), self.runtime.settings.limits.credential_recheck_s
        )
        return api_key

    async def _key_problem(self, key: str) -> str | None:
        """Why the socket's key no longer authenticates (revoked since it opened), or None."""
        if await asyncio.to_thread(self.runtime.store.authenticate, key) is None:
            return "the API key of this socket was revoked: reconnect with a valid key"
        return None

    # -- reading -----------------------------------------------------------------------------------
    async def _read_loop(self, api_key: ApiKey) -> None:
        idle_timeout = self.runtime.settings.limits.idle_timeout_s
        while not self.done.is_set():
            receive = asyncio.ensure_future(self.ws.receive())
            finished = asyncio.ensure_future(self.done.wait())
            waited, _ = await asyncio.wait(
                {receive, finished}, timeout=idle_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if receive not in waited:
                receive.cancel()
                finished.cancel()
                if self.done.is_set():
                    return
                if self._is_idle():
                    raise ProtocolError(f"idle timeout: no message received for {idle_timeout:g} s")
                continue
            finished.cancel()
            frame = receive.result()
            if frame["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(frame.get("code", 1000))
            await self._dispatch(self._parse(frame), api_key)

    def _is_idle(self) -> bool:
        if not self.requests:
            return True
        return any(r.handler.waiting_for_input and not r.input_ended for r in self.requests.values())

    @staticmethod
    def _parse(frame: MutableMapping[str, Any]) -> Message:
        text = frame.get("text")
        if text is None:
            raise ProtocolError("binary frames are not supported: send JSON objects in text frames")
        try:
            message = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"invalid JSON: {exc.msg} at position {exc.pos}") from None
        if not isinstance(message, dict):
            raise ProtocolError("each message must be a JSON object")
        try:
            check_json_strings(message, "the message")
        except TextError as exc:
            raise ProtocolError(str(exc)) from None
        kind = message.get("type")
        if not isinstance(kind, str):
            raise ProtocolError('each message needs a string "type"')
        return message

    async def _dispatch(self, message: Message, api_key: ApiKey) -> None:
        kind = message["type"]
        if kind == "setup":
            await self._setup(message, api_key)
        elif kind in INPUT_TYPES:
            request = self._route(message)
            if request.input_ended:
                raise ProtocolError(f"'{kind}' message after end_of_stream")
            await request.handler.handle_input(message)
        elif kind == "end_of_stream":
            await self._end_of_stream(message)
        else:
            raise ProtocolError(f"unknown message type '{kind}'")

    def _route(self, message: Message) -> _Request:
        client_req_id = message.get("client_req_id")
        if client_req_id is not None:
            request = self.requests.get(str(client_req_id))
            if request is None:
                raise ProtocolError(f"no active request with client_req_id '{client_req_id}'")
            return request
        # Unstamped inputs belong to the single active request (§13.24).
        if not self.requests:
            raise ProtocolError(f"'{message['type']}' message before setup: send a setup message first")
        if len(self.requests) > 1:
            raise ProtocolError("several requests are active: stamp inputs with client_req_id")
        return next(iter(self.requests.values()))

    async def _setup(self, message: Message, api_key: ApiKey) -> None:
        if self.closing:
            raise ProtocolError("setup after the final end_of_stream")
        raw_id = message.get("client_req_id")
        client_req_id = None if raw_id is None else str(raw_id)
        if client_req_id in self.requests:
            if client_req_id is None:
                raise ProtocolError(
                    "a second setup on a socket that already has a request: "
                    "use client_req_id with close_ws_on_eos=false to multiplex"
                )
            raise ProtocolError(f"client_req_id '{client_req_id}' is already active")
        if len(self.requests) >= self.runtime.settings.limits.max_requests_per_socket:
            raise ProtocolError("too many concurrent requests on this socket")
        await self.credentials.revalidate()  # every new request, not only the socket's first
        close_on_eos = message.get("close_ws_on_eos")
        try:
            handler = self.factory(message, api_key)
            if close_on_eos is not None:
                handler.close_ws_on_eos = bool(close_on_eos)
            ready = await handler.start()
        except ProtocolError as exc:
            exc.client_req_id = exc.client_req_id or client_req_id
            raise
        request = _Request(handler, client_req_id)
        self.requests[client_req_id] = request
        await self.emit_for(request, {"type": "ready", **ready})
        request.task = asyncio.create_task(self._run_request(request))

    async def _end_of_stream(self, message: Message) -> None:
        client_req_id = message.get("client_req_id")
        if client_req_id is not None:
            request = self._route(message)
            request.input_ended = True
            await request.handler.end_input()
            return
        # An unscoped end_of_stream ends every request and closes once they are done (§13.23).
        if not self.requests:
            raise ProtocolError("end_of_stream before setup: send a setup message first")
        self.closing = True
        for request in list(self.requests.values()):
            if not request.input_ended:
                request.input_ended = True
                await request.handler.end_input()

    # -- requests ----------------------------------------------------------------------------------
    async def _run_request(self, request: _Request) -> None:
        try:
            await request.handler.run(lambda m: self.emit_for(request, m))
            await self.emit_for(request, {"type": "end_of_stream"})
        except ProtocolError as exc:
            exc.client_req_id = exc.client_req_id or request.client_req_id
            await self._fail(exc)
            return
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("internal error in request %s", request.client_req_id)
            await self._fail(
                ProtocolError("internal server error", code=1011, client_req_id=request.client_req_id)
            )
            return
        self.requests.pop(request.client_req_id, None)
        if request.handler.close_ws_on_eos or (self.closing and not self.requests):
            self.done.set()

    async def emit_for(self, request: _Request, message: Message) -> None:
        if request.client_req_id is not None:
            message["client_req_id"] = request.client_req_id
        # Waiting here is the back-pressure: the request's synthesis pauses while the queue is full.
        await self.outbox.put(encode_message(message))

    async def _fail(self, error: ProtocolError) -> None:
        if self.failure is not None:
            return
        self.failure = error
        message: Message = {"type": "error", "message": error.message, "code": error.code}
        if error.client_req_id is not None:
            message["client_req_id"] = error.client_req_id
        await self.outbox.put(encode_message(message), wait=False)
        self.done.set()

    async def _cancel_all(self) -> None:
        for request in list(self.requests.values()):
            if request.task is not None and request.task is not asyncio.current_task():
                request.task.cancel()
                with contextlib.suppress(BaseException):
                    await request.task
            with contextlib.suppress(Exception):
                await request.handler.cancel()
        self.requests.clear()

    # -- writing -----------------------------------------------------------------------------------
    async def _write_loop(self) -> None:
        while (text := await self.outbox.get()) is not None:
            if self.ws.application_state != WebSocketState.CONNECTED:
                continue
            try:
                await self.ws.send_text(text)
            except Exception:
                self.done.set()  # the client is gone; drain the queue quietly
            # A send that does not block never suspends this task, so one rendered sentence (a
            # dozen chunks) would go out in one go while other sockets wait for their first audio.
            # Yielding after each message makes the sockets take turns.
            await asyncio.sleep(0)

    async def _close(self, code: int) -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            reason = SLOW_READER_CLOSE_REASON if isinstance(self.failure, SlowReader) else None
            # A client that does not read may never take the close frame either: do not wait on it.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(code=code, reason=reason), CLOSE_TIMEOUT_S)
