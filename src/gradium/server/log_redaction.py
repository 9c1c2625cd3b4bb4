"""Keep credentials out of the server log.

The Cartesia SDK sends its API key as ``?api_key=`` on WebSockets, and the docs put access tokens
in ``?access_token=``; uvicorn logs every request line with its query string, so without this a
log reader could take any caller's key. The filter rewrites those values before a record is
formatted, on uvicorn's access and error loggers (the WebSocket ``[accepted]`` lines are errors').
"""

from __future__ import annotations

import logging
import re

_CREDENTIAL_PARAMETER = re.compile(r"((?:api_key|access_token|x-api-key)=)[^&\s\"']+", re.IGNORECASE)
REDACTED = "[redacted]"
_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    return _CREDENTIAL_PARAMETER.sub(rf"\g<1>{REDACTED}", text)


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install() -> None:
    """Add the filter to uvicorn's loggers (idempotent; after uvicorn configured its logging)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(RedactCredentials())
