"""Setup dictionaries for the streaming routes (the first message of each WebSocket session)."""

from __future__ import annotations

from typing import Any, TypedDict


class TTSSetup(TypedDict, total=False):
    """Text-to-speech setup. Every key is optional; the server fills in defaults.

    ``json_config`` may be a dict (serialised to a JSON string on the wire) or a JSON string.
    """

    model_name: str
    voice: str | None
    voice_id: str | None
    pronunciation_id: str | None
    output_format: str
    json_config: Any
    client_req_id: str | None
    close_ws_on_eos: bool | None


class STTSetup(TypedDict, total=False):
    """Speech-to-text setup: ``input_format`` is ``pcm`` (24 kHz s16le mono), ``wav`` or ``opus``."""

    model_name: str
    input_format: str
    json_config: Any
    client_req_id: str | None
    close_ws_on_eos: bool | None


class S2SSetup(TypedDict, total=False):
    """Speech-to-speech setup; ``json_config={"target_language": "fr"}`` translates."""

    model_name: str
    stt_model_name: str | None
    tts_model_name: str | None
    input_format: str
    output_format: str
    voice_id: str | None
    json_config: Any
    client_req_id: str | None
    close_ws_on_eos: bool | None
