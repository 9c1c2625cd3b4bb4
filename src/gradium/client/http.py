"""The shared transport: one aiohttp session per client, HTTP requests and WebSocket connects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping
from importlib import metadata
from typing import Any, Literal

import aiohttp

from gradium import errors
from gradium.client import urls

try:
    _VERSION = metadata.version("gradium")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    _VERSION = "0"

API_SOURCE = f"gradium-python/{_VERSION}"
# Server frames above 4 MiB are refused by aiohttp's default; ours are 80 ms chunks, but a long
# one-shot TTS over HTTP may carry more, so allow more rather than fail on a valid answer.
MAX_WS_MESSAGE = 64 * 1024 * 1024


async def _close_on_loop_shutdown(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    # An async generator that is never finished: asyncio.run() (and any runner) calls
    # loop.shutdown_asyncgens() on exit, which runs this ``finally``, so a client used without
    # ``async with`` still closes its session instead of warning "Unclosed client session".
    try:
        yield
    finally:
        if not session.closed:
            await session.close()


class Transport:
    """Owns the aiohttp session (created lazily, per event loop) and the auth headers."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        connect_timeout: float | None,
        read_timeout: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = urls.normalize_base_url(base_url)
        self.api_key = api_key
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.headers = {"x-api-key": api_key, "x-api-source": API_SOURCE, **(headers or {})}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._keeper: AsyncGenerator[None, None] | None = None

    async def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        # A session is bound to the loop it was created on; scripts that call asyncio.run()
        # several times with one client get a fresh session per loop instead of a crash.
        if self._session is None or self._session.closed or self._loop is not loop:
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self.connect_timeout, sock_read=self.read_timeout
            )
            self._session = aiohttp.ClientSession(headers=self.headers, timeout=timeout)
            self._loop = loop
            self._keeper = _close_on_loop_shutdown(self._session)
            await self._keeper.__anext__()
        return self._session

    async def aclose(self) -> None:
        session, keeper = self._session, self._keeper
        self._session, self._keeper, self._loop = None, None, None
        if session is not None and not session.closed:
            await session.close()
        if keeper is not None:
            await keeper.aclose()

    async def request(
        self,
        method: str,
        route: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        data: aiohttp.FormData | None = None,
        expect: Literal["json", "bytes"] = "json",
    ) -> Any:
        """Send an HTTP request; return parsed JSON (None for an empty body) or raw bytes."""
        session = await self.session()
        url = urls.http_url(self.base_url, route)
        try:
            async with session.request(method, url, params=params, json=json_body, data=data) as response:
                body = await response.read()
                request_id = response.headers.get("x-request-id")
                if response.status >= 400:
                    raise errors.error_from_http(
                        response.status,
                        _decode_error_body(body, response.content_type),
                        reason=response.reason,
                        request_id=request_id,
                    )
                if expect == "bytes":
                    return body
                if not body.strip():
                    return None
                try:
                    return json.loads(body)
                except ValueError as exc:
                    raise errors.ServerError(
                        f"{method} {route}: the server answered {response.content_type}, not JSON",
                        status=response.status,
                        request_id=request_id,
                    ) from exc
        except asyncio.TimeoutError as exc:
            raise errors.GradiumTimeoutError(f"{method} {url} timed out") from exc
        except aiohttp.ClientConnectionError as exc:
            raise errors.ConnectionClosedError(f"{method} {url} failed: {exc}") from exc

    async def ws_connect(self, route: str) -> aiohttp.ClientWebSocketResponse:
        session = await self.session()
        url = urls.ws_url(self.base_url, route)
        try:
            return await session.ws_connect(
                url,
                autoping=True,
                heartbeat=None,
                max_msg_size=MAX_WS_MESSAGE,
                timeout=aiohttp.ClientWSTimeout(ws_close=10.0),
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise errors.error_from_http(exc.status, exc.message) from exc
        except asyncio.TimeoutError as exc:
            raise errors.GradiumTimeoutError(f"connecting to {url} timed out") from exc
        except aiohttp.ClientConnectionError as exc:
            raise errors.ConnectionClosedError(f"cannot connect to {url}: {exc}") from exc


def _decode_error_body(body: bytes, content_type: str) -> Any:
    text = body.decode("utf-8", errors="replace")
    # Unlike the official client we also parse application/problem+json and JSON sent as text.
    if "json" in content_type or text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text.strip()
