"""Health and metrics endpoints every service serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import metrics


def health_router(readiness: Callable[[], Awaitable[dict[str, bool]]]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    async def checked() -> dict[str, bool]:
        checks = await readiness()
        for check, ok in checks.items():
            metrics.READY.labels(check).set(1 if ok else 0)
        return checks

    @router.get("/readyz", summary="Broker and database are reachable")
    async def readyz() -> JSONResponse:
        checks = await checked()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def scrape() -> Response:
        # Readiness as a metric too, so an alert rule sees a service that is up but cut off.
        await checked()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
