"""`/api/devices`: the live status of every configured device (engineers, admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Ctx
from app.auth import EngineerUser
from app.schemas import DeviceOut

router = APIRouter(prefix="/api/devices", tags=["devices"])


@router.get("", response_model=list[DeviceOut])
async def list_devices(ctx: Ctx, _user: EngineerUser) -> list[dict[str, Any]]:
    """Every device, then every outbound endpoint (app.outbound) as a row of its own."""
    return [*ctx.views.devices(), *(h.device_row() for h in ctx.outbound)]


@router.get("/{bed}/{device_id}", response_model=DeviceOut)
async def get_device(bed: str, device_id: str, ctx: Ctx, _user: EngineerUser) -> dict[str, Any]:
    device = ctx.views.device(bed, device_id)
    if device is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no device {device_id!r} at bed {bed!r}"
        )
    return device
