"""The OpenAI audio API under ``/v1``."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from gradium.accounts.store import ApiKey

from .auth import require_bearer_key
from .speech import router as speech_router
from .transcriptions import router as transcription_router

# What /v1/models lists: OpenAI's audio model names (all served by our engines) and our own.
TTS_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "default", "fast", "formant")
STT_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "whisper", "pocketsphinx")
_CREATED = int(time.mktime((2026, 1, 1, 0, 0, 0, 0, 0, 0)))


def openai_router() -> APIRouter:
    router = APIRouter()
    router.include_router(speech_router)
    router.include_router(transcription_router)

    @router.get("/models")
    async def models(key: Annotated[ApiKey, Depends(require_bearer_key)]) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": _CREATED, "owned_by": "gradium"}
                for name in (*TTS_MODELS, *STT_MODELS)
            ],
        }

    return router
