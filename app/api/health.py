"""`/health` (alive), `/ready` (database reachable and migrated), `/metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from app.api.deps import Ctx
from app.metrics import CONTENT_TYPE, AppMetrics
from app.metrics_access import metrics_reader
from app.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
async def health() -> HealthOut:
    """The process is up (no database access, no token)."""
    return HealthOut(status="ok")


@router.get("/ready", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def ready(ctx: Ctx) -> Response:
    """200 when the database answers and its schema is at this code's head; 503 otherwise."""
    if not await ctx.store.ping():
        body = HealthOut(status="unavailable", detail="database unreachable")
        return JSONResponse(body.model_dump(), status_code=503)
    if not await ctx.store.at_head():
        body = HealthOut(status="unavailable", detail="database schema is not at head")
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(HealthOut(status="ok").model_dump())


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(metrics_reader)],
    responses={401: {"description": "no or a wrong token"}, 403: {"description": "role"}},
)
async def metrics(ctx: Ctx, request: Request) -> Response:
    """Prometheus text exposition of this app's metrics (`app.metrics_access`: a token)."""
    app_metrics: AppMetrics = request.app.state.metrics
    app_metrics.collector.set_open_alerts(await ctx.store.station_alerts())
    return Response(app_metrics.render(), media_type=CONTENT_TYPE)
