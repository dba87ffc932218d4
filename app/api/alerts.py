"""`/api/alerts`: the alert log, and acknowledgement."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from app.api.deps import Ctx
from app.auth import CurrentUser, forbidden_ack, may_acknowledge
from app.openapi_errors import forbidden
from app.schemas import AlertOut, UtcTime
from core.model import AlertState, Category
from core.records import alert_record, format_time

router = APIRouter(prefix="/api/alerts", tags=["alerts"])

HISTORY_WINDOW = timedelta(hours=24)
HISTORY_LIMIT = 5000


@router.get("/history")
async def alert_history(
    ctx: Ctx,
    _user: CurrentUser,
    bed: str | None = None,
    window: Annotated[int, Query(ge=0, le=365, description="0: the last 24 h, 1: before")] = 0,
) -> dict[str, Any]:
    """Each alert's current state (closed ones too, with who acknowledged them and when) whose
    onset lies in one 24 h window: `window=0` is the current one (up to now), 1 the one before,
    and so on. Newest onset first. The station loads it at start, so history survives reloads."""
    until = ctx.clock.now() - window * HISTORY_WINDOW
    since = until - HISTORY_WINDOW
    found = await ctx.store.alerts(bed=bed, since=since, until=until, limit=HISTORY_LIMIT)
    return {
        "bed": bed,
        "window": {"index": window, "from": format_time(since), "to": format_time(until)},
        "alerts": [alert_record(a) for a in found],
        "truncated": len(found) >= HISTORY_LIMIT,
    }


@router.get("", response_model=list[AlertOut])
async def list_alerts(
    ctx: Ctx,
    _user: CurrentUser,
    bed: str | None = None,
    state: AlertState | None = None,
    category: Category | None = None,
    since: UtcTime | None = None,
    until: UtcTime | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
    """Alert transitions, newest first as the store orders them, filtered."""
    if since is not None and until is not None and until < since:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="until is before since")
    alerts = await ctx.store.alerts(
        bed=bed, state=state, category=category, since=since, until=until, limit=limit
    )
    return [alert_record(a) for a in alerts]


@router.post(
    "/{alert_id}/ack",
    response_model=AlertOut,
    responses=forbidden("the role may not acknowledge this category"),
)
async def ack_alert(alert_id: str, ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    """Acknowledge an alert (a clinician; an engineer only a technical alert: 403 otherwise;
    who and when are recorded, the transition is pushed to the stations and the rules engine
    stops escalating it). Twice keeps the first."""
    found = await ctx.store.alert(alert_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alert {alert_id!r}")
    if not may_acknowledge(user.role, found.category):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=forbidden_ack(user.role, found.category)
        )
    try:
        acked = await ctx.alerts.acknowledge(alert_id, by=user.username, t=ctx.clock.now())
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alert {alert_id!r}") from None
    return alert_record(acked)
