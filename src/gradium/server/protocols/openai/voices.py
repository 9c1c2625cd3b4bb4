"""OpenAI's voice names, mapped to catalog voices (README: "OpenAI voices").

OpenAI's voices are English; each maps to a US or British catalog voice of the same perceived
gender. Any catalog voice id or name, a framework alias or an organisation's custom voice id works
as the ``voice`` too.
"""

from __future__ import annotations

from typing import Any

from gradium.catalog import load_catalog
from gradium.catalog.aliases import canonical_voice_id

OPENAI_VOICES: dict[str, str] = {
    "alloy": "YTpq7expH9539ERJ",  # Emma, en-US, feminine
    "ash": "KWJiFWu2O9nMPYcR",  # John, en-US, masculine
    "ballad": "m86j6D7UZpGzHsNu",  # Jack, en-GB, masculine
    "coral": "jtEKaLYNn6iif5PR",  # Sydney, en-US, feminine
    "echo": "LFZvm12tW_z0xfGo",  # Kent, en-US, masculine
    "fable": "P0GYBrxlhTy5CC87",  # Charles, en-GB, masculine
    "onyx": "dh0EzP6jCroK6prq",  # Mark, en-US, masculine
    "nova": "kr-Om35JRqmA3Hzq",  # Olivia, en-US, feminine
    "sage": "ubuXFxVQwVYnZQhy",  # Eva, en-GB, feminine
    "shimmer": "KNYHZTB8ZqdAZv5Q",  # Maria, en-US, feminine
    "verse": "XJc-Y9tkSd1UA7s4",  # Logan, en-US, masculine
    "marin": "56DcpvEI0Gawpidh",  # Kaitlyn, en-US, feminine
    "cedar": "c8BzreHTk1GG2R4z",  # Cameron, en-US, masculine
}


def voice_setup(voice: Any) -> dict[str, str]:
    """The ``voice_id``/``voice`` fields of a TTS setup for OpenAI's ``voice`` (a name, an id, or
    ``{"id": ...}``)."""
    if isinstance(voice, dict):
        voice = voice.get("id")
    if not isinstance(voice, str) or not voice.strip():
        return {}
    wanted = voice.strip()
    if wanted.lower() in OPENAI_VOICES:
        return {"voice_id": OPENAI_VOICES[wanted.lower()]}
    catalog = load_catalog()
    if canonical_voice_id(wanted) in catalog:
        return {"voice_id": wanted}
    if any(v.name.casefold() == wanted.casefold() for v in catalog.values()):
        return {"voice": wanted}
    return {"voice_id": wanted}  # a custom voice of the organisation, or unknown (400)
