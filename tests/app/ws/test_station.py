"""The station websocket over a real socket: uvicorn on 127.0.0.1 (port 0), the `websockets`
client. Auth refusals, snapshot, live pushes, acknowledgement, resume across a forced
disconnect without loss or duplicates, and a slow client's resync."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.settings import Settings
from core.model import Alert, Observation, Phase

Server = Any  # tests/app/ws/conftest.py's Server (conftest modules are not importable)


async def recv(ws: ClientConnection, timeout: float = 3) -> dict[str, Any]:
    msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return msg


async def until(ws: ClientConnection, kind: str, timeout: float = 3) -> dict[str, Any]:
    while True:
        msg = await recv(ws, timeout)
        if msg["type"] == kind:
            return msg


def client(url: str, **kw: Any) -> Any:
    return connect(url, proxy=None, open_timeout=3, **kw)


async def wait_for(predicate: Callable[[], bool], timeout: float = 5) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_refusals(server: Server) -> None:
    cases = [
        (server.url(), 4401, "invalid token"),
        (server.url(token="garbage"), 4401, "invalid token"),
        (server.url(token=server.token("ghost")), 4401, "unknown or disabled user"),
        (server.url(token=server.token(), last_seq="-1"), 4400, None),
        (server.url(token=server.token(), last_seq="abc"), 4400, None),
    ]
    for url, code, reason in cases:
        async with client(url) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await recv(ws)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == code, url
        if reason:
            assert info.value.rcvd.reason == reason
    assert server.ctx.hub.client_count == 0


async def test_snapshot_live_messages_ack_and_ping(
    server: Server, make_alert: Callable[..., Alert]
) -> None:
    hub = server.ctx.hub
    await server.ctx.alerts.commit(make_alert(1))
    async with client(server.url(token=server.token())) as ws:
        snap = await recv(ws)
        assert snap["type"] == "snapshot"
        assert snap["seq"] == 1
        assert [b["bed"] for b in snap["beds"]] == ["ICU-1", "ICU-2"]
        assert [a["id"] for a in snap["alerts"]] == ["alert-1"]

        await server.ctx.alerts.commit(make_alert(2, bed="ICU-2"))
        live = await recv(ws)
        assert (live["type"], live["seq"], live["alert"]["bed"]) == ("alert", 2, "ICU-2")

        t = datetime.now(UTC)
        obs = Observation(t=t, bed="ICU-1", code="MDC_PULS_OXIM_SAT_O2", value=91, unit="%")
        await hub.publish_numerics("ICU-1", {obs.code: obs})
        numerics = await until(ws, "numerics")
        assert numerics["bed"] == "ICU-1"
        assert numerics["values"]["MDC_PULS_OXIM_SAT_O2"]["value"] == 91

        await ws.send(json.dumps({"type": "ack", "alert_id": "alert-2"}))
        acked = await until(ws, "alert")
        assert (acked["seq"], acked["alert"]["phase"]) == (3, "ack")
        assert (acked["alert"]["state"], acked["alert"]["acked_by"]) == ("acknowledged", "nina")

        await ws.send(json.dumps({"type": "ack", "alert_id": "nope"}))
        error = await until(ws, "error")
        assert error["reason"] == "no alert 'nope'"
        await ws.send("{not json")
        assert (await until(ws, "error"))["reason"] == "not JSON"
        await ws.send(json.dumps({"type": "ping"}))
        pong = await until(ws, "pong")
        assert pong["seq"] == 3
        assert hub.client_count == 1
    await wait_for(lambda: hub.client_count == 0)


async def test_resume_without_loss_across_a_forced_disconnect(
    server: Server, make_alert: Callable[..., Alert]
) -> None:
    hub = server.ctx.hub
    async with client(server.url(token=server.token())) as ws:
        assert (await recv(ws))["seq"] == 0
        for n in (1, 2, 3):
            await server.ctx.alerts.commit(make_alert(n))
        seen = [(await until(ws, "alert"))["seq"] for _ in range(3)]
        assert seen == [1, 2, 3]
        last_seq = seen[-1]
        ws.transport.abort()  # the network drops: no closing handshake
    await wait_for(lambda: hub.client_count == 0)

    # while the client is away: new alerts, an acknowledgement, an end
    for n in (4, 5, 6):
        await server.ctx.alerts.commit(make_alert(n, bed="ICU-2"))
    await server.ctx.alerts.acknowledge("alert-1", by="nina", t=datetime.now(UTC))
    await server.ctx.alerts.commit(make_alert(2, phase=Phase.END))
    away = await hub._store.max_seq()
    assert away == 8

    # and more keep coming while it reconnects and catches up
    async def keep_committing() -> None:
        for n in range(7, 19):
            await server.ctx.alerts.commit(make_alert(n))
            await asyncio.sleep(0.001)

    writer = asyncio.create_task(keep_committing())
    got: list[tuple[str, int]] = []
    async with client(server.url(token=server.token(), last_seq=last_seq)) as ws:
        while len([k for k, _ in got if k == "alert"]) < 15 or "snapshot" not in dict(got):
            msg = await recv(ws)
            if msg["type"] in ("alert", "snapshot"):
                got.append((msg["type"], msg["seq"]))
        await writer
        final = await hub._store.max_seq()
        while len([k for k, _ in got if k == "alert"]) < final - last_seq:
            msg = await recv(ws)
            if msg["type"] == "alert":
                got.append(("alert", msg["seq"]))
        with pytest.raises(TimeoutError):  # and nothing after: no duplicates trailing
            while True:
                msg = await recv(ws, timeout=0.2)
                if msg["type"] == "alert":
                    got.append(("alert", msg["seq"]))
                    break
    alerts = [seq for kind, seq in got if kind == "alert"]
    assert alerts == list(range(last_seq + 1, final + 1)), got  # all missed, in order, once
    cut = next(seq for kind, seq in got if kind == "snapshot")
    before = alerts[: got.index(("snapshot", cut))]
    assert before and all(s <= cut for s in before)
    assert all(s > cut for s in alerts[len(before) :])


async def test_slow_client_is_resynced(
    settings: Settings, serve_with: Callable[..., Any], make_alert: Callable[..., Alert]
) -> None:
    """A station that stops reading (over a real socket) loses its queue and is resynced,
    while the others go on. Every step waits on a condition, never on a read timing: the
    fast client reads in a task of its own, and the slow one is given a send timeout longer
    than the test (the 2 s of the other tests dropped it under load)."""
    patient = settings.model_copy(update={"ws_send_timeout_s": 120.0})
    async with serve_with(patient) as server:
        hub = server.ctx.hub
        # a client that stops reading: tiny receive buffer, one queued frame at most, and no
        # compression (repeated numerics would deflate to almost nothing)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        slow_ws = client(server.url(token=server.token()), sock=sock, max_queue=1, compression=None)
        async with slow_ws as slow, client(server.url(token=server.token())) as fast:
            assert (await recv(slow))["type"] == "snapshot"
            assert (await recv(fast))["type"] == "snapshot"
            await wait_for(lambda: hub.client_count == 2)
            slow_client, fast_client = sorted(hub._clients, key=lambda c: c.id)
            fast_msgs: list[dict[str, Any]] = []

            async def read_fast() -> None:
                # until the connection closes, never cancelled: a task cancelled inside
                # wait_for(ws.recv()) could stay there (1 run in 4, Python 3.11)
                async for raw in fast:
                    fast_msgs.append(json.loads(raw))

            reader = asyncio.create_task(read_fast())
            # numerics of 40 beds until the slow client's queue backs up
            codes = [f"IAEW_TEST_{i:02d}" for i in range(20)]
            t = datetime.now(UTC)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            round_ = 0
            while len(slow_client.queue) < 40:
                assert loop.time() < deadline, "the slow client's socket never filled"
                for b in range(40):
                    bed = f"X-{b:03d}"
                    obs = {
                        c: Observation(t=t, bed=bed, code=c, value=round_, unit="1") for c in codes
                    }
                    await hub.publish_numerics(bed, obs)
                hub.flush_numerics()
                round_ += 1
                await asyncio.sleep(0)  # let the senders run
            assert slow_client.queue.overflows == 0  # numerics replace each other

            # an alert storm: more than the slow client's queue holds
            storm = [make_alert(n) for n in range(1, 41)]
            committed = [(await server.ctx.alerts.commit(a)).seq for a in storm]
            assert slow_client.queue.overflows >= 1
            await wait_for(lambda: any(m.get("seq") == committed[-1] for m in fast_msgs), 30)
            assert [m["seq"] for m in fast_msgs if m["type"] == "alert"] == committed
            assert not {"resync", "snapshot"} & {m["type"] for m in fast_msgs}
            assert fast_client.queue.overflows == 0
            assert sum(m["type"] == "numerics" for m in fast_msgs) > 40

            # the slow client reads again: resync, the missed alerts by seq, then a snapshot
            seen: list[dict[str, Any]] = []
            while not (
                seen and seen[-1]["type"] == "snapshot" and any(m["type"] == "resync" for m in seen)
            ):
                seen.append(await recv(slow, timeout=10))
            kinds = [m["type"] for m in seen]
            assert seen[kinds.index("resync")]["reason"] == "slow client"
            alerts = [m["seq"] for m in seen if m["type"] == "alert"]
            assert alerts == committed  # every alert once, in order
            assert seen[-1]["seq"] == committed[-1]
        await reader  # ended with the fast client's connection
