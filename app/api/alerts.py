"""`/api/alerts`: the alert log, and acknowledgement."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from app.api.deps import Ctx
from app.auth import CurrentUser
from app.schemas import AlertOut, UtcTime
from core.model import AlertState, Category
from core.records import alert_record

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


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


@router.post("/{alert_id}/ack", response_model=AlertOut)
async def ack_alert(alert_id: str, ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    """Acknowledge an alert (any signed-in user; who and when are recorded, the transition is
    pushed to the stations and the rules engine stops escalating it). Twice keeps the first."""
    try:
        acked = await ctx.alerts.acknowledge(alert_id, by=user.username, t=ctx.clock.now())
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alert {alert_id!r}") from None
    return alert_record(acked)
