"""Typed exceptions raised by the gradium client.

The official client raises bare ``Exception``/``RuntimeError``/``aiohttp.ClientResponseError``
depending on the transport; we raise one hierarchy for both HTTP and WebSocket failures so that
callers can write ``except gradium.errors.InsufficientCreditsError`` whatever the route.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "ConnectionClosedError",
    "GradiumError",
    "GradiumTimeoutError",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "error_from_http",
    "error_from_ws_message",
]


class GradiumError(Exception):
    """Base class of every error raised by the client for a failed request.

    ``status`` is the HTTP status (None for WebSocket errors), ``code`` the WebSocket error or
    close code (None for HTTP errors), ``message`` the server's human-readable reason.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.body = body

    def __str__(self) -> str:
        where = []
        if self.status is not None:
            where.append(f"HTTP {self.status}")
        if self.code is not None:
            where.append(f"code {self.code}")
        return f"{self.message} ({', '.join(where)})" if where else self.message


class AuthenticationError(GradiumError):
    """The API key is missing, unknown or revoked (HTTP 401/403, WebSocket 1008 auth errors)."""


class InsufficientCreditsError(GradiumError):
    """The organisation has not enough credits left for the request (HTTP 402)."""


class NotFoundError(GradiumError):
    """The voice, embedding or route does not exist (HTTP 404)."""


class InvalidRequestError(GradiumError):
    """The request was rejected as malformed (HTTP 400/409/422, WebSocket 1008)."""


class RateLimitError(GradiumError):
    """Too many requests or concurrent sessions (HTTP 429)."""


class ServerError(GradiumError):
    """The server failed while handling a valid request (HTTP 5xx, WebSocket 1011)."""


class ConnectionClosedError(GradiumError, ConnectionError):
    """The connection failed or ended before the request completed (refused, dropped, closed early).

    Also a builtin ``ConnectionError`` so that generic network error handling keeps working.
    """


class GradiumTimeoutError(GradiumError, TimeoutError):
    """No traffic within the configured connect or idle-read timeout.

    Also a builtin ``TimeoutError`` so that generic timeout handling keeps working.
    """


# Lower-cased fragments that identify the error kind when only a WebSocket code is available;
# 1008 covers both bad keys and bad setups, so the message is the only discriminator.
_AUTH_WORDS = ("api key", "api-key", "apikey", "unauthori", "authenticat", "forbidden", "revoked")
_CREDIT_WORDS = ("insufficient credit", "not enough credit", "out of credit", "credits exhausted")
_RATE_WORDS = ("rate limit", "too many")
_NOT_FOUND_WORDS = ("not found", "unknown voice", "no such")


def _classify_message(message: str) -> type[GradiumError] | None:
    lowered = message.lower()
    if any(word in lowered for word in _CREDIT_WORDS):
        return InsufficientCreditsError
    if any(word in lowered for word in _AUTH_WORDS):
        return AuthenticationError
    if any(word in lowered for word in _RATE_WORDS):
        return RateLimitError
    if any(word in lowered for word in _NOT_FOUND_WORDS):
        return NotFoundError
    return None


def _class_for_status(status: int) -> type[GradiumError]:
    if status in (401, 403):
        return AuthenticationError
    if status == 402:
        return InsufficientCreditsError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    if 400 <= status < 500:
        return InvalidRequestError
    return GradiumError


def _message_from_body(body: Any, fallback: str) -> str:
    # Servers answer errors as {"detail": ...} (FastAPI) or {"error": ...}; FastAPI's 422 detail
    # is a list of problems, which we flatten into one readable line.
    if isinstance(body, dict):
        detail = body.get("detail")
        if detail is None:
            detail = body.get("error")
        if detail is None:
            detail = body.get("message")
        body = detail
    if isinstance(body, list):
        parts = []
        for item in body:
            if isinstance(item, dict) and "msg" in item:
                loc = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts) or fallback
    if body is None or body == "":
        return fallback
    return str(body)


def error_from_http(
    status: int, body: Any, *, reason: str | None = None, request_id: str | None = None
) -> GradiumError:
    """Build the exception for a non-2xx HTTP response (``body``: parsed JSON or text)."""
    message = _message_from_body(body, reason or f"HTTP error {status}")
    cls = _class_for_status(status)
    # A 400 or 403 whose text says "credits" is still a credit problem for the caller.
    if cls in (InvalidRequestError, GradiumError):
        cls = _classify_message(message) or cls
    return cls(message, status=status, request_id=request_id, body=body)


def error_from_ws_message(data: dict[str, Any], *, request_id: str | None = None) -> GradiumError:
    """Build the exception for a server ``{"type": "error", "message", "code"}`` message."""
    raw_message = data.get("message")
    message = str(raw_message) if raw_message is not None else "error from server"
    code = data.get("code")
    code = code if isinstance(code, int) else None
    cls = _classify_message(message)
    if cls is None:
        if code == 1013:  # "try again later"
            cls = RateLimitError
        elif code in (1011, 1012, 1014):
            cls = ServerError
        elif code in (1003, 1007, 1008, 1009):
            cls = InvalidRequestError
        else:
            cls = GradiumError
    elif cls is NotFoundError and code == 1011:
        cls = ServerError
    return cls(message, code=code, request_id=request_id or data.get("request_id"), body=data)
