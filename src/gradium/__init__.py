"""gradium: a self-hostable speech platform, and the Python client of its Gradium-compatible API.

The client's names (``gradium.GradiumClient``, ``gradium.client``, ``gradium.voices``...) are
imported on first use (PEP 562), not with the package: the server's STT worker processes import
``gradium`` too, and the client's HTTP stack (aiohttp) was most of their start-up time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradium import client, errors, usages, voices
    from gradium.client import GradiumClient, S2SSetup, STTSetup, TTSSetup
    from gradium.sync import SyncGradiumClient

__all__ = [
    "GradiumClient",
    "S2SSetup",
    "STTSetup",
    "SyncGradiumClient",
    "TTSSetup",
    "client",
    "errors",
    "usages",
    "voices",
]

_SUBMODULES = frozenset({"client", "errors", "usages", "voices"})
_DEFINED_IN = {
    "GradiumClient": "gradium.client",
    "S2SSetup": "gradium.client",
    "STTSetup": "gradium.client",
    "TTSSetup": "gradium.client",
    "SyncGradiumClient": "gradium.sync",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"gradium.{name}")
    if name in _DEFINED_IN:
        value = getattr(importlib.import_module(_DEFINED_IN[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'gradium' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
