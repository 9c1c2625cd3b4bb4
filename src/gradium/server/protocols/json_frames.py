"""JSON text of server messages that carry base64 audio, without scanning the audio.

An audio message is mostly its base64 payload, which holds no character that JSON escapes, so it
is spliced in verbatim instead of being scanned by the JSON encoder (which took a tenth of the
event loop's time on TTS streams).
"""

from __future__ import annotations

import json
from typing import Any


def encode_frame(message: dict[str, Any], payload_key: str) -> str:
    """``json.dumps(message)`` (compact); a string under ``payload_key`` must be base64."""
    payload = message.get(payload_key)
    if not isinstance(payload, str):
        return json.dumps(message, separators=(",", ":"))
    rest = json.dumps({k: v for k, v in message.items() if k != payload_key}, separators=(",", ":"))
    separator = "," if len(rest) > 2 else ""
    return f'{rest[:-1]}{separator}"{payload_key}":"{payload}"}}'
