"""Module-level voice helpers, as documented: ``await gradium.voices.get(client)``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradium.client.core import GradiumClient
    from gradium.client.results import TTSResult

# Prefix of draft voice ids made by the voice designer; usable as ``voice_id`` for previews.
EMBEDDING_ID_PREFIX = "vox_emb_"


async def get(client: GradiumClient, voice_uid: str | None = None, include_catalog: bool = False) -> Any:
    """One voice by uid, or the list of the organisation's voices (plus the catalog on request)."""
    return await client.voice_get(voice_uid, include_catalog=include_catalog)


async def create(
    client: GradiumClient,
    audio_file: str | os.PathLike[str],
    *,
    name: str | None = None,
    description: str | None = None,
    start_s: float = 0.0,
    language: str | None = None,
    input_format: str | None = None,
) -> Any:
    """Clone a voice from an audio file. ``language`` is optional (required by the official 0.6.4)."""
    return await client.voice_create(
        audio_file,
        language=language,
        name=name,
        description=description,
        start_s=start_s,
        input_format=input_format,
    )


async def update(
    client: GradiumClient,
    voice_uid: str,
    name: str | None = None,
    description: str | None = None,
    start_s: float | None = None,
    language: str | None = None,
) -> Any:
    return await client.voice_update(
        voice_uid, name=name, description=description, start_s=start_s, language=language
    )


async def delete(client: GradiumClient, voice_uid: str) -> Any:
    return await client.voice_delete(voice_uid)


async def generate(
    client: GradiumClient,
    prompt: str,
    *,
    language: str,
    n_samples: int = 1,
    wait: bool = False,
    timeout: float = 120.0,
    poll_interval: float = 1.0,
) -> Any:
    return await client.voice_generate(
        prompt,
        language=language,
        n_samples=n_samples,
        wait=wait,
        timeout=timeout,
        poll_interval=poll_interval,
    )


async def embedding_get(client: GradiumClient, embedding_id: str) -> Any:
    return await client.voice_embedding_get(embedding_id)


async def tts(
    client: GradiumClient,
    embedding_id: str,
    text: str,
    *,
    output_format: str = "wav",
    model_name: str | None = None,
    json_config: Mapping[str, Any] | str | None = None,
) -> TTSResult:
    return await client.voice_tts(
        embedding_id, text, output_format=output_format, model_name=model_name, json_config=json_config
    )


async def from_embedding(
    client: GradiumClient, embedding_id: str, *, name: str, description: str | None = None
) -> Any:
    return await client.voice_from_embedding(embedding_id, name=name, description=description)
