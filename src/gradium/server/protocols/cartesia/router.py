"""All Cartesia routes in one router, mounted at the server root (the SDK's ``base_url``)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from gradium.server.runtime import Runtime

from . import audio_edit, status, stt, tts_http, voice_creation, voices
from .auth import authenticate_websocket
from .stt_turns import TurnsSocket
from .tts_ws import TtsSocket


def cartesia_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()
    router.include_router(status.router)
    router.include_router(tts_http.router)
    router.include_router(stt.router)
    router.include_router(voice_creation.router)  # literal /voices/... routes first
    router.include_router(voices.router)
    router.include_router(audio_edit.router)

    @router.websocket("/tts/websocket")
    async def tts_websocket(websocket: WebSocket) -> None:
        principal = await authenticate_websocket(websocket, runtime, "tts")
        if principal is not None:
            await TtsSocket(websocket, runtime, principal).serve()

    @router.websocket("/stt/websocket")
    async def stt_websocket(websocket: WebSocket) -> None:
        principal = await authenticate_websocket(websocket, runtime, "stt")
        if principal is not None:
            await stt.SttSocket(websocket, runtime, principal).serve()

    @router.websocket("/stt/turns/websocket")
    async def stt_turns_websocket(websocket: WebSocket) -> None:
        principal = await authenticate_websocket(websocket, runtime, "stt")
        if principal is not None:
            await TurnsSocket(websocket, runtime, principal).serve()

    return router
