"""A socket's outgoing messages, bounded in bytes: back-pressure for clients that do not read.

Without a bound, a client that never reads made the server queue a whole request's audio in
memory (about 600 MB for 100,000 characters; four such clients held 1.5 GB). Here a producer
(a TTS request emitting audio) waits while more than ``max_bytes`` are queued, so synthesis for
that socket pauses instead of piling audio up; if the client frees no room for ``max_wait_s``, the
producer gets a ``ProtocolError`` (1008) that ends the socket with a clear reason. Control
messages (``ready``, ``error``, ``end_of_stream``...) are small and never wait.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from gradium.server.errors import ProtocolError

Owner = TypeVar("Owner")  # what a message belongs to (a request, a context): the writer may drop it

SLOW_READER_CLOSE_REASON = "client not reading"  # the close frame's reason (at most 123 bytes)


class SlowReader(ProtocolError):
    """The client left the socket's queue full for too long."""


class Outbox(Generic[Owner]):
    def __init__(self, max_bytes: int, max_wait_s: float) -> None:
        self.max_bytes = max_bytes
        self.max_wait_s = max_wait_s
        self.queued_bytes = 0
        self._queue: asyncio.Queue[tuple[str, Owner | None] | None] = asyncio.Queue()
        self._room = asyncio.Event()
        self._room.set()

    async def put(self, text: str, owner: Owner | None = None, *, wait: bool = True) -> None:
        """Queue one encoded message of ``owner``; with ``wait``, first wait for room (SlowReader on
        timeout)."""
        if wait and self.queued_bytes >= self.max_bytes:
            try:
                await asyncio.wait_for(self._wait_for_room(), self.max_wait_s)
            except TimeoutError:
                raise SlowReader(
                    f"the client is not reading: {self.queued_bytes} bytes of messages waited "
                    f"more than {self.max_wait_s:g} s (read faster, or open fewer requests at once)"
                ) from None
        self.queued_bytes += len(text)
        if self.queued_bytes >= self.max_bytes:
            self._room.clear()
        self._queue.put_nowait((text, owner))

    def close(self) -> None:
        """The writer stops after the messages already queued."""
        self._queue.put_nowait(None)

    async def get(self) -> tuple[str, Owner | None] | None:
        """The next message for the writer and its owner; None once closed."""
        item = await self._queue.get()
        if item is not None:
            self.queued_bytes -= len(item[0])
            if self.queued_bytes < self.max_bytes:
                self._room.set()
        return item

    async def _wait_for_room(self) -> None:
        while self.queued_bytes >= self.max_bytes:
            await self._room.wait()
