"""OpenAI-shaped errors that also carry our ``detail``.

The ``openai`` SDK raises ``APIStatusError`` subclasses by status code and reads the ``error``
object of the body (``message``, ``type``, ``param``, ``code``); every HTTP error of this server
also has a string ``detail``, so both readers find the message.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from gradium.server.protocol_log import log_protocol_error

_TYPES = {401: "invalid_request_error", 402: "insufficient_quota", 404: "invalid_request_error"}


class OpenAIError(HTTPException):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(status, message)
        self.message = message
        self.param = param
        self.code = code


def error_body(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> dict[str, object]:
    kind = _TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    return {
        "error": {"message": message, "type": kind, "param": param, "code": code},
        "detail": message,
    }


def install_openai_errors(app: FastAPI) -> None:
    @app.exception_handler(OpenAIError)
    async def openai_error(request: Request, exc: OpenAIError) -> JSONResponse:
        log_protocol_error(
            "openai", request.url.path, request.headers.get("x-request-id"), exc.message, exc.status_code
        )
        headers = None
        if exc.status_code == 503:  # at capacity: say when to retry (or a load balancer tries another)
            headers = {"Retry-After": str(request.app.state.runtime.settings.cluster.retry_after_s)}
        body = error_body(exc.status_code, exc.message, exc.param, exc.code)
        return JSONResponse(body, exc.status_code, headers=headers)
