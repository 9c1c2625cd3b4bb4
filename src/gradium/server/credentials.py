"""Credentials checked again while a socket is open, not only when it opens.

A WebSocket authenticates once, in its handshake; without more, a revoked key or a revoked or
expired access token kept working on an open socket for new requests, for as long as the client
kept it open. A ``CredentialWatch`` checks the credential again before every new request on the
socket and every ``interval_s`` (30 s by default, ``GRADIUM_CREDENTIAL_RECHECK_S``) while one runs;
a credential that is no longer valid ends the socket with an error (code 1008).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from gradium.server.errors import ProtocolError

# Why the credential is no longer valid, or None while it still is (may hit the database).
Check = Callable[[], Awaitable[str | None]]
OnInvalid = Callable[[ProtocolError], Awaitable[None]]


class CredentialWatch:
    def __init__(self, check: Check, interval_s: float) -> None:
        self._check = check
        self.interval_s = interval_s
        self.checked_at = time.monotonic()  # the handshake has just checked it

    async def revalidate(self) -> None:
        """ProtocolError (1008) when the credential was revoked or has expired since."""
        problem = await self._check()
        self.checked_at = time.monotonic()
        if problem is not None:
            raise ProtocolError(problem)

    async def watch(self, on_invalid: OnInvalid) -> None:
        """Run for the socket's life: revalidate every ``interval_s``, report the first failure."""
        while True:
            wait = self.checked_at + self.interval_s - time.monotonic()
            if wait > 0:  # a new request may have checked it meanwhile: sleep until due again
                await asyncio.sleep(wait)
                continue
            try:
                await self.revalidate()
            except ProtocolError as exc:
                await on_invalid(exc)
                return
