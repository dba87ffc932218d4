"""`/ws/station?token=...&last_seq=N[&numerics=batch]`: the station page's live feed
(protocol in `app.ws.hub`; `numerics=batch`: each flush's numerics in one message).

The handshake is always accepted, then a refused client is closed with a code the page can
act on (a browser never sees the HTTP status of a refused handshake):

    4400  bad query (last_seq not a non-negative integer)
    4401  missing, invalid or expired token, or unknown user: sign in again

Client → server: `{"type": "ack", "alert_id": ...}` (as `POST /api/alerts/{id}/ack`, with
the same role check — a refused one is answered `{"type": "error", "status": 403, ...}`; the
transition then reaches every client as an `alert` message) and `{"type": "ping"}` (answered
with `pong`). A message the server cannot use is answered with `{"type": "error", ...}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from app.auth import AuthError, Principal, authenticate_token, forbidden_ack, may_acknowledge
from app.context import AppContext
from app.ws.hub import Client

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401


@router.websocket("/ws/station")
async def station(websocket: WebSocket) -> None:
    ctx: AppContext = websocket.app.state.ctx
    await websocket.accept()
    try:
        last_seq = int(websocket.query_params.get("last_seq") or 0)
        if last_seq < 0:
            raise ValueError
    except ValueError:
        await websocket.close(CLOSE_BAD_REQUEST, "last_seq must be a non-negative integer")
        return
    numerics = websocket.query_params.get("numerics") or "bed"
    if numerics not in ("bed", "batch"):
        await websocket.close(CLOSE_BAD_REQUEST, "numerics must be 'bed' or 'batch'")
        return
    try:
        user = await authenticate_token(ctx, websocket.query_params.get("token") or "")
    except AuthError as exc:
        await websocket.close(CLOSE_UNAUTHORIZED, str(exc))
        return

    hub = ctx.hub
    # registered before the backlog is read
    client = hub.connect(websocket, user.username, batch_numerics=numerics == "batch")
    log.info("station client %d (%s) connected, last_seq=%d", client.id, user.username, last_seq)
    sender = asyncio.create_task(hub.serve(client, last_seq), name=f"ws-send-{client.id}")
    receiver = asyncio.create_task(
        _receive(ctx, websocket, client, user), name=f"ws-recv-{client.id}"
    )
    try:
        done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and (failure := task.exception()) is not None:
                log.info("station client %d dropped: %r", client.id, failure)
    finally:
        hub.disconnect(client)
        for task in (sender, receiver):
            task.cancel()
        for task in (sender, receiver):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if sender.done() and not sender.cancelled() and sender.exception() is not None:
            # a stalled peer may never take the close frame either: give up after a second
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1):
                    await websocket.close(1011, "send failed")
        log.info("station client %d (%s) gone", client.id, user.username)


async def _receive(ctx: AppContext, websocket: WebSocket, client: Client, user: Principal) -> None:
    """Handle the client's messages until it disconnects."""
    hub = ctx.hub
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                hub.send_to(client, {"type": "error", "reason": "send JSON text frames"})
                continue
            try:
                msg: Any = json.loads(text)
            except json.JSONDecodeError:
                hub.send_to(client, {"type": "error", "reason": "not JSON"})
                continue
            kind = msg.get("type") if isinstance(msg, dict) else None
            if kind == "ping":
                hub.pong(client)
            elif kind == "ack":
                await _ack(ctx, websocket, client, user, msg.get("alert_id"))
            else:
                hub.send_to(client, {"type": "error", "reason": f"unknown message type {kind!r}"})
    except WebSocketDisconnect:
        return


async def _ack(
    ctx: AppContext, websocket: WebSocket, client: Client, user: Principal, alert_id: Any
) -> None:
    if not isinstance(alert_id, str) or not alert_id:
        ctx.hub.send_to(client, {"type": "error", "reason": "ack needs an alert_id"})
        return
    if ctx.clock.now() >= user.expires_at:
        await websocket.close(CLOSE_UNAUTHORIZED, "token expired")
        raise WebSocketDisconnect(CLOSE_UNAUTHORIZED)
    found = await ctx.store.alert(alert_id)
    if found is not None and not may_acknowledge(user.role, found.category):
        reason = forbidden_ack(user.role, found.category)
        ctx.hub.send_to(
            client, {"type": "error", "status": 403, "reason": reason, "alert_id": alert_id}
        )
        return
    try:
        await ctx.alerts.acknowledge(alert_id, by=user.username, t=ctx.clock.now())
    except KeyError:
        ctx.hub.send_to(
            client, {"type": "error", "reason": f"no alert {alert_id!r}", "alert_id": alert_id}
        )
