"""The ASGI application: the Gradium API under ``/api/``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gradium.server.admission import StreamAdmission
from gradium.server.json_guard import GuardJsonBodies
from gradium.server.operations import operations_router
from gradium.server.protocol_log import install_secret_filter, log_protocol_error
from gradium.server.protocols.cartesia.router import cartesia_router
from gradium.server.protocols.cartesia.slashes import CollapseSlashes
from gradium.server.protocols.gradium.asr_ws import asr_factory
from gradium.server.protocols.gradium.connection import GradiumConnection
from gradium.server.protocols.gradium.http_routes import router as gradium_http
from gradium.server.protocols.gradium.s2s_ws import s2s_factory
from gradium.server.protocols.gradium.tts_ws import tts_factory
from gradium.server.protocols.openai.errors import install_openai_errors
from gradium.server.protocols.openai.router import openai_router
from gradium.server.request_logs import RequestIds
from gradium.server.runtime import Runtime
from gradium.server.settings import Settings
from gradium.server.studio import install_studio

log = logging.getLogger("gradium.server")


def _gradium_websockets(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.websocket("/speech/tts")
    async def speech_tts(websocket: WebSocket) -> None:
        await GradiumConnection(websocket, runtime, tts_factory(runtime), ("tts",)).serve()

    @router.websocket("/speech/asr")
    async def speech_asr(websocket: WebSocket) -> None:
        await GradiumConnection(websocket, runtime, asr_factory(runtime), ("stt",)).serve()

    @router.websocket("/speech/s2s")
    async def speech_s2s(websocket: WebSocket) -> None:
        await GradiumConnection(websocket, runtime, s2s_factory(runtime), ("stt", "tts")).serve()

    return router


def _install_error_handlers(app: FastAPI) -> None:
    """Every error is a JSON object with a human-readable string ``detail`` (§13.31)."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        request_id = request.headers.get("x-request-id")
        log_protocol_error("http", request.url.path, request_id, str(exc.detail), exc.status_code)
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body') or 'body'}: {err.get('msg')}"
            for err in exc.errors()
        )
        return JSONResponse({"detail": f"invalid request: {problems}"}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s", request.url.path)
        return JSONResponse({"detail": "internal server error"}, status_code=500)


def create_app(settings: Settings) -> FastAPI:
    runtime = Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_secret_filter()  # uvicorn has set up its handlers by now
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(title="gradium", lifespan=lifespan, redirect_slashes=False)
    app.state.runtime = runtime

    app.include_router(operations_router(runtime))
    app.include_router(gradium_http, prefix="/api")
    app.include_router(_gradium_websockets(runtime), prefix="/api")
    # The Cartesia API lives at the root: the SDK's base_url is the server's root URL.
    app.include_router(cartesia_router(runtime))
    app.add_middleware(GuardJsonBodies)
    app.include_router(openai_router(), prefix="/v1")
    install_studio(app)
    # Inside CollapseSlashes (paths are clean), outside the routes: refusals cost no route work.
    app.add_middleware(StreamAdmission, admission=runtime.admission)
    app.add_middleware(RequestIds)
    app.add_middleware(CollapseSlashes)
    _install_error_handlers(app)
    install_openai_errors(app)
    return app
