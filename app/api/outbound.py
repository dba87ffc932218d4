"""`/api/outbound`: each outbound endpoint's health, for the engineer's device panel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import Ctx
from app.auth import EngineerUser

router = APIRouter(prefix="/api/outbound", tags=["devices"])


@router.get("")
async def list_endpoints(ctx: Ctx, _user: EngineerUser) -> list[dict[str, Any]]:
    """State, connection, queue depth, oldest unsent message and last error per endpoint."""
    return ctx.outbound.as_dicts(ctx.clock.now())
