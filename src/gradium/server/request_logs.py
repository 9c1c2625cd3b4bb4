"""Request ids and structured (JSON) log lines.

Every HTTP request and WebSocket gets a request id: the client's ``x-request-id`` header when it
sends a sane one (so that a trace crosses the load balancer), else a new random one. It is echoed
in the HTTP response's ``x-request-id`` header and attached to every log line written while the
request is served (a context variable, so tasks the request starts inherit it). With
``GRADIUM_LOG_FORMAT=json`` each log line is one JSON object: ``ts``, ``level``, ``logger``,
``message``, ``request_id`` (when inside a request) and ``exc`` (a traceback, when there is one).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import datetime, timezone

from gradium.server.admission import App, Receive, Scope, Send

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("gradium_request_id", default=None)
_SANE_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,128}$")


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _SANE_ID.match(text):
                return text
    return uuid.uuid4().hex


class RequestIds:
    """ASGI middleware: sets :data:`REQUEST_ID` for the request and echoes it on HTTP responses."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: dict[str, object]) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))  # type: ignore[call-overload]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)  # type: ignore[arg-type]
        finally:
            REQUEST_ID.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(level: str) -> None:
    """Root logging for ``gradium serve --log-format json``: one JSON object a line with the request
    id; uvicorn's own loggers (started with ``log_config=None``) write through the root handler."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
