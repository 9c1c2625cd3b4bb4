"""gradium: a self-hostable speech platform, and the Python client of its Gradium-compatible API.

This module stays light on purpose (only the client is imported): ``gradium serve`` and the
engines live in subpackages that are imported on demand.
"""

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
