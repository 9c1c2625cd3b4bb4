"""Base-URL normalisation and route joining, compatible with the official client's rules."""

from __future__ import annotations

import urllib.parse

DEFAULT_BASE_URL = "http://127.0.0.1:8000/api/"


def normalize_base_url(base_url: str) -> str:
    """Add a trailing slash, then a scheme when none is given.

    Same rules as the official client so that the same strings work with both: hosts that start
    with ``127`` or ``local`` get ``http://``, anything else ``https://``.
    """
    base_url = base_url.strip()
    if not base_url.endswith("/"):
        base_url += "/"
    if not base_url.startswith(("http://", "https://", "ws://", "wss://")):
        scheme = "http" if base_url.startswith(("127", "local")) else "https"
        base_url = f"{scheme}://{base_url}"
    return base_url


def http_url(base_url: str, route: str) -> str:
    """Join a relative route onto the base (RFC 3986), keeping any path prefix of the base."""
    return urllib.parse.urljoin(base_url, route)


def ws_url(base_url: str, route: str) -> str:
    """The WebSocket URL of a route.

    Only the scheme is rewritten; the official client replaces every ``http`` substring in the URL,
    which corrupts hosts or paths that contain it (``myhttphost``).
    """
    parts = urllib.parse.urlsplit(http_url(base_url, route))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urllib.parse.urlunsplit(parts._replace(scheme=scheme))
