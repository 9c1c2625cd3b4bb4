"""Errors the protocol adapters turn into WebSocket ``error`` messages or HTTP ``{"detail": ...}``."""

from __future__ import annotations


class ProtocolError(Exception):
    """A request the server refuses: sent as ``{"type": "error", "message", "code"}``, then close.

    Code 1008 is a client or policy error (bad key, bad input, no credits), 1011 an internal one.
    """

    def __init__(self, message: str, *, code: int = 1008, client_req_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.client_req_id = client_req_id
