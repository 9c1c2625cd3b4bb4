"""Operations routes: Prometheus metrics, liveness and readiness.

- ``GET /metrics``: Prometheus text format (``gradium.metrics`` lists the series).
- ``GET /api/health`` and ``GET /api/health/ready``: readiness, 200 when every service can take a
  request, else 503 naming what cannot (a draining replica says so: load balancers stop sending).
- ``GET /api/health/live``: liveness, 200 while the process answers (draining included: a
  replica finishing its streams must not be killed for it).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gradium.server.runtime import Runtime


def operations_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/api/health")
    @router.get("/api/health/ready")
    async def ready() -> JSONResponse:
        """Readiness: 200 when every service can take a request, else 503 saying which cannot."""
        problems = runtime.problems()
        if problems:
            return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ok"})

    @router.get("/api/health/live")
    async def live() -> dict[str, str]:
        """Liveness: the process answers (a failing STT pool is not a reason to restart it)."""
        return {"status": "ok"}

    @router.get("/metrics")
    async def prometheus_metrics() -> Response:
        runtime.update_gauges()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
