"""The station websocket enforces the acknowledgement roles as REST does (real socket)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import connect

from app.auth import issue_token
from app.security import hash_password
from app.store.rows import Role
from core.model import Alert, Category

Server = Any


async def _until(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        msg: dict[str, Any] = json.loads(await ws.recv())
        if msg["type"] == kind:
            return msg


async def test_an_engineer_cannot_acknowledge_a_clinical_alert_on_the_websocket(
    server: Server, make_alert: Callable[..., Alert]
) -> None:
    ctx = server.ctx
    await ctx.store.add_user("eric", Role.ENGINEER, hash_password("correct horse battery staple"))
    await ctx.alerts.commit(make_alert(1))
    await ctx.alerts.commit(make_alert(2, category=Category.TECHNICAL, rule="device_lost"))
    token, _ = issue_token(ctx, "eric", Role.ENGINEER)
    async with connect(server.url(token=token), proxy=None, open_timeout=3) as ws:
        await _until(ws, "snapshot")
        await ws.send(json.dumps({"type": "ack", "alert_id": "alert-1"}))
        error = await _until(ws, "error")
        assert error["status"] == 403 and "engineer" in error["reason"]
        assert (await ctx.store.alert("alert-1")).acked_by is None  # type: ignore[union-attr]
        await ws.send(json.dumps({"type": "ack", "alert_id": "alert-2"}))
        acked = await _until(ws, "alert")
        assert acked["alert"]["id"] == "alert-2" and acked["alert"]["acked_by"] == "eric"
