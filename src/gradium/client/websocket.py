"""WebSocket sessions: a receive loop that never spins, and the one-shot request stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from gradium import errors

_NORMAL_CLOSE_CODES = (1000, 1001, None)


class Channel:
    """One WebSocket with JSON framing, error mapping and an idle timeout.

    ``recv`` returns None once the server has closed the socket cleanly (or after an
    ``end_of_stream``, whatever happens next); any other ending raises, so a dropped connection is
    an exception instead of the official client's endless loop over "closed" messages.
    """

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, *, idle_timeout: float | None) -> None:
        self.ws = ws
        self.idle_timeout = idle_timeout
        self.request_id: str | None = None
        self.saw_end_of_stream = False
        self._last_activity = time.monotonic()
        self._send_lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def send(self, message: dict[str, Any]) -> None:
        if self.ws.closed:
            raise errors.ConnectionClosedError("the connection is closed", code=self.ws.close_code)
        # json.dumps defaults (ASCII escapes) keep frames identical to the official client's.
        payload = json.dumps(message)
        try:
            async with self._send_lock:
                await self.ws.send_str(payload)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise errors.ConnectionClosedError(f"sending failed: {exc}", code=self.ws.close_code) from exc
        self._last_activity = time.monotonic()

    async def _receive(self) -> aiohttp.WSMessage:
        while True:
            if self.idle_timeout is None:
                return await self.ws.receive()
            # Idle means no traffic in either direction: a slow text generator that keeps
            # sending is not idle even though the server has nothing to say yet.
            remaining = self._last_activity + self.idle_timeout - time.monotonic()
            if remaining <= 0:
                raise errors.GradiumTimeoutError(
                    f"no message from the server for {self.idle_timeout:g} s", request_id=self.request_id
                )
            try:
                msg = await self.ws.receive(timeout=remaining)
            except asyncio.TimeoutError:
                continue
            self._last_activity = time.monotonic()
            return msg

    async def recv(self) -> dict[str, Any] | None:
        while True:
            msg = await self._receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = self._parse(msg.data)
                if data is None:
                    continue
                kind = data.get("type")
                if kind == "error":
                    await self.close()
                    raise errors.error_from_ws_message(data, request_id=self.request_id)
                if kind == "ready" and self.request_id is None:
                    rid = data.get("request_id")
                    self.request_id = rid if isinstance(rid, str) else None
                elif kind == "end_of_stream":
                    self.saw_end_of_stream = True
                return data
            if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.PING, aiohttp.WSMsgType.PONG):
                continue  # the protocol carries everything as JSON text; nothing to read here
            self._ended(msg)
            return None

    def _parse(self, text: str) -> dict[str, Any] | None:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise errors.ServerError(f"the server sent a frame that is not JSON: {text[:80]!r}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise errors.ServerError(f"the server sent a message without a type: {text[:80]!r}")
        return data

    def _ended(self, msg: aiohttp.WSMessage) -> None:
        """Return if the socket ended cleanly, raise otherwise."""
        code = msg.data if msg.type == aiohttp.WSMsgType.CLOSE else self.ws.close_code
        if self.saw_end_of_stream or (msg.type == aiohttp.WSMsgType.CLOSE and code in _NORMAL_CLOSE_CODES):
            return
        if msg.type == aiohttp.WSMsgType.CLOSE:
            reason = (msg.extra or "").strip()
            if reason:
                raise errors.error_from_ws_message(
                    {"message": reason, "code": code}, request_id=self.request_id
                )
            raise errors.ConnectionClosedError(
                f"the server closed the connection with code {code}", code=code, request_id=self.request_id
            )
        detail = f": {msg.data}" if msg.type == aiohttp.WSMsgType.ERROR and msg.data else ""
        raise errors.ConnectionClosedError(
            f"the connection was lost before the end of the stream{detail}",
            code=code if isinstance(code, int) else None,
            request_id=self.request_id,
        )

    async def close(self) -> None:
        if not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.close()


class MessageStream:
    """The server messages of a one-shot request, while its inputs are sent in the background.

    Iterating yields every server message as a dict (audio still base64) and stops after the
    request's ``end_of_stream`` or at a clean close, so a server that keeps the socket open
    (``close_ws_on_eos: false``) does not hang the caller. The ``ready`` message is read by
    ``start`` and not yielded again.
    """

    def __init__(self, channel: Channel, inputs: AsyncIterator[dict[str, Any]]) -> None:
        self._channel = channel
        self._inputs = inputs
        self._send_error: BaseException | None = None
        self._sender: asyncio.Task[None] | None = None
        self._done = False
        self.ready: dict[str, Any] = {}

    async def start(self, setup: dict[str, Any]) -> dict[str, Any]:
        """Send the setup, start streaming inputs and wait for ``ready``."""
        try:
            await self._channel.send(setup)
            self._sender = asyncio.create_task(self._send_inputs())
            first = await self._channel.recv()
        except BaseException:
            await self.aclose()
            self._raise_send_error()
            raise
        if first is None:
            await self.aclose()
            self._raise_send_error()
            raise errors.ConnectionClosedError("the server closed the connection before `ready`")
        if first.get("type") != "ready":
            await self.aclose()
            raise errors.ServerError(f"expected a `ready` message first, got `{first.get('type')}`")
        self.ready = first
        return first

    @property
    def request_id(self) -> str | None:
        return self._channel.request_id

    async def _send_inputs(self) -> None:
        try:
            async for message in self._inputs:
                await self._channel.send(message)
            await self._channel.send({"type": "end_of_stream"})
        except asyncio.CancelledError:
            raise
        except errors.ConnectionClosedError:
            pass  # the receive side reports why the connection ended
        except BaseException as exc:
            # A failing input iterator (or bad audio) must surface to the reader, which is
            # otherwise blocked waiting for a server that waits for more input: close to wake it.
            self._send_error = exc
            await self._channel.close()

    def _raise_send_error(self) -> None:
        if self._send_error is not None:
            raise self._send_error

    def __aiter__(self) -> MessageStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._done:
            raise StopAsyncIteration
        try:
            message = await self._channel.recv()
        except BaseException:
            await self.aclose()
            self._raise_send_error()
            raise
        if message is None:
            await self.aclose()
            self._raise_send_error()
            raise StopAsyncIteration
        if message.get("type") == "end_of_stream":
            # Deliver the end_of_stream itself, stop on the next call.
            self._done = True
            await self.aclose()
        return message

    async def aclose(self) -> None:
        self._done = True
        sender, self._sender = self._sender, None
        if sender is not None and not sender.done():
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
        await self._channel.close()
        aclose_inputs = getattr(self._inputs, "aclose", None)
        if aclose_inputs is not None:
            with contextlib.suppress(Exception):
                await aclose_inputs()

    async def __aenter__(self) -> MessageStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
