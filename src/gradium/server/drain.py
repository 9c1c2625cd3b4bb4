"""Graceful drain on SIGTERM: stop taking work, let the streams in flight finish, then exit.

Plain uvicorn stops at once on SIGTERM: it closes every open WebSocket with code 1012, cutting
streams mid-sentence. :class:`DrainingServer` first drains (``Admission.drain``): readiness
(``/api/health``) answers 503 so that load balancers stop sending traffic, new streams are refused
with 503/1013 so that clients retry on another replica, and the streams already running continue
until they end or ``drain_timeout_s`` passes. Only then does uvicorn's own shutdown run. A second
SIGTERM or SIGINT during the drain exits at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import signal
import socket
from types import FrameType

import uvicorn

from gradium.server.admission import Admission

log = logging.getLogger("gradium.drain")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, admission: Admission, drain_timeout_s: float) -> None:
        super().__init__(config)
        self.admission = admission
        self.drain_timeout_s = drain_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self._loop is None or self._drain is not None or self.should_exit:
            # Not a SIGTERM, not started yet, or a second signal: uvicorn's immediate shutdown.
            super().handle_exit(sig, frame)
            return
        # Signal handlers run between two bytecodes of the loop's thread: hand the work to the loop,
        # in a fresh context (not that of whichever request was running, e.g. its request id).
        self._loop.call_soon_threadsafe(self._start_drain, context=contextvars.Context())

    def _start_drain(self) -> None:
        if self._drain is None:
            self._drain = asyncio.ensure_future(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        log.info(
            "SIGTERM: draining %d stream(s) for up to %g s", self.admission.active, self.drain_timeout_s
        )
        waited = await self.admission.drain(self.drain_timeout_s)
        log.info("drained in %.2f s (%d stream(s) still open); shutting down", waited, self.admission.active)
        self.should_exit = True
