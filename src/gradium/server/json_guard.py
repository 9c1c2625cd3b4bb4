"""Refuse oversized JSON request bodies, and those holding lone surrogates, before any route sees them.

One check at the edge instead of one per field: ``"\\ud800"`` is valid JSON but not valid text,
and a route that stores or speaks it would fail with a 500 (after charging, for TTS). The body is
buffered (JSON bodies are small: the largest, a TTS request, is capped at 20,000 characters) and
replayed to the application unchanged when it is clean. Buffering is bounded: a body over
MAX_JSON_BODY_BYTES is refused with 413 as soon as its ``content-length`` or its bytes so far say so,
without reading the rest. Requests without a content type count as JSON (FastAPI parses them so).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gradium.text.validate import TextError, check_json_strings

# 20,000 characters of TTS text written as JSON escapes take 120 KB; voice embeddings and
# pronunciation lists are smaller still. Uploads (multipart) have their own limits.
MAX_JSON_BODY_BYTES = 1024 * 1024
TOO_LARGE = f"the JSON request body is larger than {MAX_JSON_BODY_BYTES // 1024} KiB"


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return bytes(value)
    return None


def _is_json(scope: Scope) -> bool:
    content_type = _header(scope, b"content-type")
    return content_type is None or b"json" in content_type.lower()


def _declared_too_large(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    return length is not None and length.isdigit() and int(length) > MAX_JSON_BODY_BYTES


async def _read_body(receive: Receive) -> tuple[list[Message], bytes] | None:
    """The body's messages and bytes; None as soon as it passes MAX_JSON_BODY_BYTES."""
    messages: list[Message] = []
    body = bytearray()
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if len(body) > MAX_JSON_BODY_BYTES:
            return None
        if not message.get("more_body", False):
            break
    return messages, bytes(body)


def _problem(body: bytes) -> str | None:
    """Why the body is refused, or None (unparsable JSON is left to the route's own error)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    try:
        check_json_strings(document, "the request body")
    except TextError as exc:
        return str(exc)
    return None


class GuardJsonBodies:
    """ASGI middleware: JSON bodies over the size limit get 413, invalid text 400, both JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        read = None if _declared_too_large(scope) else await _read_body(receive)
        if read is None:
            await _send_json_error(send, 413, TOO_LARGE)
            return
        messages, body = read
        if (problem := _problem(body)) is not None:
            await _send_json_error(send, 400, problem)
            return
        await self.app(scope, _replay(messages, receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _send_json_error(send: Send, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
