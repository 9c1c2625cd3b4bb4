"""Refuse JSON request bodies holding lone surrogates before any route sees them.

One check at the edge instead of one per field: ``"\\ud800"`` is valid JSON but not valid text,
and a route that stores or speaks it would fail with a 500 (after charging, for TTS). The body is
buffered (JSON bodies are small: the largest, a TTS request, is capped at 20,000 characters) and
replayed to the application unchanged when it is clean.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gradium.text.validate import TextError, check_json_strings


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return b"json" in value.lower()
    return False


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    body = bytearray()
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
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


class RejectInvalidJsonText:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
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
