"""Voices from the operator's own engine files (``piper:<name>``, ``kokoro:<name>``) as voice ids.

The server registers what :func:`gradium.engines.voice_files.scan` found when it starts; voice
resolution (Gradium ``voice_id``, Cartesia ``{"mode": "id"}``) then knows them beside the catalog.
"""

from __future__ import annotations

from collections.abc import Iterable

from gradium.catalog import ESPEAK_LANGUAGE
from gradium.engines.base import NeuralVoice, VoiceParams
from gradium.engines.voice_files import VoiceFile

_installed: dict[str, VoiceFile] = {}


def register(voices: Iterable[VoiceFile]) -> None:
    """Make these voices resolvable (the set of one server process; replaces any earlier one)."""
    _installed.clear()
    _installed.update({voice.voice_id: voice for voice in voices})


def installed_voices() -> list[VoiceFile]:
    return list(_installed.values())


def installed_voice(voice_id: object) -> VoiceFile | None:
    return _installed.get(str(voice_id)) if voice_id is not None else None


def params_of(voice: VoiceFile) -> VoiceParams:
    """Engine parameters: the voice on its engine; its language's espeak-ng voice as the formant
    rendering (``model_name: "formant"`` or a server started without neural engines)."""
    return VoiceParams(
        language=voice.language,
        espeak_voice=ESPEAK_LANGUAGE[voice.language],
        neural=NeuralVoice(voice.engine, voice.name, voice.accent),
    )


def describe(voice: VoiceFile) -> dict[str, object]:
    return {
        "voice_id": voice.voice_id,
        "engine": voice.engine,
        "language": voice.language,
        "accent": voice.accent,
        "files": [str(file.path) for file in voice.files],
    }
