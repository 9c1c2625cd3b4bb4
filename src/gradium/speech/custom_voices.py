"""Instant voice cloning: validate an uploaded sample, profile it, store it; describe custom voices.

Protocol adapters (Gradium ``POST voices/``, Cartesia voice clone) call :func:`clone_voice` and map
:class:`SampleError` to a 400 and the store's ``VoiceConflict`` to a 409. Analysis is CPU-bound and
runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import numpy as np

from gradium.accounts.models import CustomVoice
from gradium.accounts.store import AccountStore
from gradium.audio.errors import AudioFormatError
from gradium.audio.files import read_audio_file, sniff_container
from gradium.engines.speaker_encoder import speaker_encoder
from gradium.speech.voice_profile import (
    ANALYSIS_RATE,
    VoiceAnalysisError,
    VoiceProfile,
    analyse_voice,
    pyworld_available,
)

# Gives a profile its neural voice for a language (rendering on the server's engines).
NeuralMatcher = Callable[[VoiceProfile, str], Awaitable[VoiceProfile]]

MAX_SAMPLE_BYTES = 10 * 1024 * 1024
MAX_SAMPLE_SECONDS = 60.0
ANALYSIS_WINDOW_S = 10.0  # the recommended sample length; longer uploads are analysed from start_s
MIN_WINDOW_S = 2.0
LANGUAGES = ("en", "fr", "de", "es", "pt")
DEFAULT_LANGUAGE = "en"
ACCEPTED_FORMATS = ("wav", "flac", "mp3", "ogg", "opus")
_EXTENSION_OF = {"wav": "wav", "flac": "flac", "mp3": "mp3", "ogg": "ogg", "opus": "ogg"}


class SampleError(ValueError):
    """An upload the server refuses, with a message that says why and what is accepted."""


def normalise_language(language: str | None) -> str:
    """"en", "EN", "en-US" -> "en"; None/"" -> the default; anything else is a SampleError."""
    if language is None or not language.strip():
        return DEFAULT_LANGUAGE
    code = language.strip().lower().replace("_", "-").split("-")[0]
    if code not in LANGUAGES:
        raise SampleError(f"unsupported language {language!r}: use one of {', '.join(LANGUAGES)}")
    return code


def check_input_format(input_format: str | None) -> None:
    """The declared format is advisory (the content decides) but must be one we can decode."""
    if input_format and input_format.strip().lower() not in ACCEPTED_FORMATS:
        raise SampleError(
            f"unsupported input_format {input_format!r}: upload {', '.join(ACCEPTED_FORMATS)}"
        )


def analyse_sample(data: bytes, start_s: float) -> tuple[VoiceProfile, str]:
    """Decode ``data`` and profile ANALYSIS_WINDOW_S seconds from ``start_s``; returns the profile
    and the file extension to store the sample under. Blocking: run it in a thread."""
    if len(data) > MAX_SAMPLE_BYTES:
        raise SampleError(f"audio_file is larger than {MAX_SAMPLE_BYTES // (1024 * 1024)} MB")
    if not pyworld_available():
        raise SampleError("voice cloning is unavailable: the server lacks pyworld (pip install pyworld)")
    kind = sniff_container(data[:64])
    try:
        samples, rate = read_audio_file(data, ANALYSIS_RATE)
    except AudioFormatError as exc:
        raise SampleError(f"audio_file: {exc}") from None
    duration = len(samples) / rate
    if duration > MAX_SAMPLE_SECONDS:
        raise SampleError(f"audio_file is {duration:.1f} s long; the limit is {MAX_SAMPLE_SECONDS:g} s")
    if not 0.0 <= start_s < duration:
        raise SampleError(f"start_s must be between 0 and the sample's length ({duration:.1f} s)")
    window = samples[round(start_s * rate) : round((start_s + ANALYSIS_WINDOW_S) * rate)]
    if len(window) < MIN_WINDOW_S * rate:
        raise SampleError(f"less than {MIN_WINDOW_S:g} s of audio after start_s; about 10 s is recommended")
    try:
        profile = analyse_voice(np.asarray(window), rate)
        embedding = speaker_encoder().embed(np.asarray(window, dtype=np.float32), rate)
    except (VoiceAnalysisError, ValueError) as exc:
        raise SampleError(f"audio_file: {exc}") from None
    profile = replace(profile, speaker_embedding=tuple(float(v) for v in embedding))
    return profile, _EXTENSION_OF.get(kind or "", "bin")


async def clone_voice(
    store: AccountStore,
    org_id: int,
    data: bytes,
    *,
    name: str,
    language: str | None = None,
    start_s: float = 0.0,
    description: str | None = None,
    match: NeuralMatcher | None = None,
) -> CustomVoice:
    """Profile and store a new cloned voice (raises SampleError or the store's VoiceConflict).
    ``match`` gives the profile its neural voice (the server's :meth:`Runtime.match_neural_voice`)."""
    code = normalise_language(language)
    profile, extension = await asyncio.to_thread(analyse_sample, data, start_s)
    if match is not None:
        profile = await match(profile, code)
    return await asyncio.to_thread(
        store.create_voice,
        org_id,
        name=name,
        language=code,
        audio=data,
        extension=extension,
        start_s=start_s,
        description=description,
        profile=profile.to_json(),
    )


async def reanalyse_voice(
    store: AccountStore,
    voice: CustomVoice,
    start_s: float,
    match: NeuralMatcher | None = None,
    language: str | None = None,
) -> VoiceProfile:
    """A stored sample's profile from a new ``start_s`` (PUT voices/{uid} with start_s)."""
    path = store.sample_path(voice)
    if path is None:
        raise SampleError("this voice has no audio sample (it was designed), so start_s cannot change")
    data = await asyncio.to_thread(path.read_bytes)
    profile, _ = await asyncio.to_thread(analyse_sample, data, start_s)
    return profile if match is None else await match(profile, language or voice.language or DEFAULT_LANGUAGE)


def describe_custom_voice(voice: CustomVoice) -> dict[str, Any]:
    """The JSON object the HTTP API returns for a custom voice (same keys as catalog voices)."""
    profile = VoiceProfile.from_json(voice.profile) if voice.profile else None
    source = profile.source if profile else "sample"
    return {
        "uid": voice.uid,
        "name": voice.name,
        "description": voice.description,
        "language": voice.language,
        "filename": voice.filename or None,
        "start_s": voice.start_s,
        "is_catalog": False,
        "is_pro_clone": False,
        "created_at": voice.created_at.isoformat(),
        "updated_at": voice.updated_at.isoformat(),
        "tags": [{"category": "language", "value": voice.language},
                 {"category": "origin", "value": "designed" if source == "designer" else "cloned"}],
        "profile": profile.summary() if profile else None,
    }
