"""Structured log lines for protocol errors, and secret redaction for every log line.

Every error a client is sent is logged once as ``protocol error`` with key=value fields (protocol,
route, request id, status, message), so that an operator can find a failing client's requests. API
keys never reach the log: :class:`SecretFilter` rewrites any ``gd_…`` key, ``x-api-key`` or
``Authorization`` header value and ``api_key=`` query parameter in a record before it is written.
"""

from __future__ import annotations

import json
import logging
import re

from gradium import metrics

log = logging.getLogger("gradium.protocol")

_SECRETS = (
    re.compile(r"\bgd_[A-Za-z0-9_-]{6,}"),
    re.compile(r"(?i)((?:x-api-key|authorization)['\"]?\s*[:=,]\s*\(?\s*b?['\"]?(?:bearer\s+)?)([^'\"\s,)]+)"),
    re.compile(r"(?i)((?:api_key|access_token|key)=)([^&\s'\"]+)"),
)


def redact(text: str) -> str:
    """``text`` with API keys and credential headers replaced by a short masked form."""
    text = _SECRETS[0].sub(lambda m: m.group(0)[:6] + "…", text)
    for pattern in _SECRETS[1:]:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
    return text


class SecretFilter(logging.Filter):
    """Redacts secrets in a record's formatted message (installed on the root handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's own problem to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_secret_filter() -> None:
    """Put the filter on every handler of the root and the uvicorn loggers."""
    secret_filter = SecretFilter()
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "websockets", "httpx"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, SecretFilter) for f in handler.filters):
                handler.addFilter(secret_filter)


def log_protocol_error(
    protocol: str, route: str, request_id: str | None, message: str, code: int | str | None
) -> None:
    """One ``protocol error`` line: ``protocol=… route=… request_id=… code=… message="…"``.

    Every error a client is sent passes here, so this also counts them (``gradium_errors_total``)."""
    metrics.ERRORS.labels(metrics.error_kind(code)).inc()
    log.warning(
        "protocol error protocol=%s route=%s request_id=%s code=%s message=%s",
        protocol,
        route,
        request_id or "-",
        code if code is not None else "-",
        json.dumps(redact(message), ensure_ascii=False),
    )
