"""`/api/audit`: who did what, newest first (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import Ctx
from app.auth import AdminUser
from app.schemas import AuditOut

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", response_model=list[AuditOut])
async def list_audit(
    ctx: Ctx, _admin: AdminUser, limit: Annotated[int, Query(ge=1, le=5000)] = 200
) -> list[AuditOut]:
    rows = await ctx.store.audit_log(limit)
    return [
        AuditOut(id=r.id, t=r.t, actor=r.actor, action=r.action, target=r.target, details=r.details)
        for r in rows
    ]
