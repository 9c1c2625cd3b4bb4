"""Admission control and drain: which new streams a replica takes, and waiting for those it has.

A *stream* is a WebSocket (any route) or a speech HTTP request (``STREAM_PATHS``: syntheses,
transcriptions, voice changes). :class:`StreamAdmission`, an ASGI middleware in front of every
route, counts them per route (``gradium_active_streams``) and refuses a new one at once when

- the replica is draining (SIGTERM received: ``gradium.server.drain``), or
- it already serves ``max_streams`` streams (``GRADIUM_MAX_STREAMS``; 0 means no limit).

A refusal is quick and says so plainly, so that a load balancer or client tries another replica:
HTTP ``503`` with ``Retry-After`` and a JSON ``detail``; on a WebSocket, the handshake is accepted,
one ``{"type": "error", "code": 1013, "message": ...}`` frame is sent and the socket is closed with
code 1013 ("try again later", RFC 6455 §7.4.1). Engines that are too busy to meet the first-audio
deadline refuse their requests the same way (``EngineSlot.capacity_error``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from gradium import metrics
from gradium.server.protocol_log import log_protocol_error

# RFC 6455 close code 1013, "Try Again Later": the server is overloaded or restarting.
TRY_AGAIN_LATER = 1013

# HTTP routes whose requests do speech work (and hold an engine for seconds); others (accounts,
# voice listings, health) are cheap and always admitted.
STREAM_PATHS = frozenset({
    "/api/post/speech/tts",
    "/tts/bytes",
    "/tts/sse",
    "/stt",
    "/infill/bytes",
    "/voice-changer/bytes",
    "/voice-changer/sse",
    "/v1/audio/speech",
    "/v1/audio/transcriptions",
    "/v1/audio/translations",
})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class Admission:
    """The replica's stream count, its limit, and whether it is draining (one event loop)."""

    def __init__(self, max_streams: int, retry_after_s: int) -> None:
        self.max_streams = max_streams
        self.retry_after_s = retry_after_s
        self.active = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    def refusal(self) -> tuple[str, str] | None:
        """(reason label, message) when a new stream must be refused now, else None."""
        if self.draining:
            return "draining", "this server is shutting down: retry, another replica will serve you"
        if self.max_streams and self.active >= self.max_streams:
            return "capacity", (
                f"this server is at capacity ({self.active} of {self.max_streams} streams): "
                f"retry in {self.retry_after_s} s or on another replica"
            )
        return None

    def enter(self) -> None:
        self.active += 1
        self._idle.clear()

    def leave(self) -> None:
        self.active -= 1
        if self.active == 0:
            self._idle.set()

    async def drain(self, timeout_s: float) -> float:
        """Refuse new streams, wait up to ``timeout_s`` for those in flight; returns the seconds waited."""
        self.draining = True
        began = time.monotonic()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        return time.monotonic() - began


def is_stream(scope: Scope) -> bool:
    if scope["type"] == "websocket":
        return True
    return scope["type"] == "http" and scope.get("method") == "POST" and scope["path"] in STREAM_PATHS


class StreamAdmission:
    """ASGI middleware: admits, counts and refuses streams (see the module docstring)."""

    def __init__(self, app: App, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_stream(scope):
            await self.app(scope, receive, send)
            return
        route = str(scope["path"])
        refused = self.admission.refusal()
        if refused is not None:
            reason, message = refused
            metrics.REFUSED.labels(reason).inc()
            if scope["type"] == "websocket":
                await _refuse_websocket(receive, send, message)
                log_protocol_error("ws", route, None, message, TRY_AGAIN_LATER)
            else:
                await _refuse_http(send, message, self.admission.retry_after_s)
                log_protocol_error("http", route, None, message, 503)
            return
        self.admission.enter()
        metrics.STREAMS.labels(route).inc()
        metrics.ACTIVE_STREAMS.labels(route).inc()
        try:
            await self.app(scope, receive, send)
        finally:
            metrics.ACTIVE_STREAMS.labels(route).dec()
            self.admission.leave()


async def _refuse_http(send: Send, message: str, retry_after_s: int) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({
        "type": "http.response.start",
        "status": 503,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after_s).encode()),
        ],
    })
    await send({"type": "http.response.body", "body": body})


async def _refuse_websocket(receive: Receive, send: Send, message: str) -> None:
    # Accept first: a handshake refused with an HTTP status reaches most clients as a bare
    # "403"/"invalid status", while an error frame and close code 1013 say what happened.
    connect = await receive()
    if connect.get("type") != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    frame = {"type": "error", "code": TRY_AGAIN_LATER, "message": message}
    await send({"type": "websocket.send", "text": json.dumps(frame)})
    await send({"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": "try again later"})
