"""Collapse repeated slashes in request paths.

The Cartesia SDK joins its relative paths to ``base_url + "/"``, so a base URL given with a
trailing slash produces ``//tts/bytes`` (and ``GET //`` for the status). Normalising the path
before routing makes both spellings of the base URL work.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

_SLASHES = re.compile(r"/{2,}")


class CollapseSlashes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "//" in scope.get("path", ""):
            path = _SLASHES.sub("/", scope["path"])
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)
