"""The hub against fake connections: snapshot, live alerts, the resume cut, slow clients,
numerics throttling and heartbeats (on a virtual clock), dead clients."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from app.alert_desk import AlertDesk
from app.live.registry import DeviceRegistry
from app.live.views import Views
from app.store import Store
from app.ws import hub as hub_module
from app.ws.hub import Client, Hub
from app.ws.queue import CLOSE, RESYNC, ClientQueue, Item
from core.clock import Clock, RealClock, VirtualClock
from core.model import Alert, Observation, Phase

SPO2 = "MDC_PULS_OXIM_SAT_O2"


class FakeConn:
    """A websocket that records what it is sent; `gate` cleared makes it stall."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.gate = asyncio.Event()
        self.gate.set()
        self.closed: tuple[int, str | None] | None = None

    async def send_text(self, data: str) -> None:
        await self.gate.wait()
        self.inbox.put_nowait(json.loads(data))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)

    async def next(self, kind: str | None = None, timeout: float = 2) -> dict[str, Any]:
        """The next message (skipping others when `kind` is given)."""
        while True:
            msg = await asyncio.wait_for(self.inbox.get(), timeout)
            if kind is None or msg["type"] == kind:
                return msg

    def drain(self) -> list[dict[str, Any]]:
        out = []
        while not self.inbox.empty():
            out.append(self.inbox.get_nowait())
        return out


_DESKS: weakref.WeakKeyDictionary[Hub, AlertDesk] = weakref.WeakKeyDictionary()


def make_hub(store: Store, clock: Clock, **kw: Any) -> Hub:
    """A hub wired to an alert desk as `app.main` wires them (`desk_of(hub)` commits)."""
    views = Views(store, DeviceRegistry(), clock)
    kw.setdefault("numerics_throttle_s", 0.01)
    kw.setdefault("heartbeat_s", 3600)
    desk = AlertDesk(store)
    hub = Hub(store=store, views=views, clock=clock, cut_lock=desk.lock, **kw)
    desk.on_published(hub.publish_alert)
    _DESKS[hub] = desk
    return hub


def desk_of(hub: Hub) -> AlertDesk:
    return _DESKS[hub]


@contextlib.asynccontextmanager
async def running(hub: Hub) -> AsyncIterator[Hub]:
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


@contextlib.asynccontextmanager
async def served(
    hub: Hub, last_seq: int = 0, *, batch_numerics: bool = False
) -> AsyncIterator[tuple[FakeConn, Client]]:
    conn = FakeConn()
    client = hub.connect(conn, "nina", batch_numerics=batch_numerics)
    task = asyncio.create_task(hub.serve(client, last_seq))
    try:
        yield conn, client
    finally:
        hub.disconnect(client)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_snapshot_then_live_alerts(store: Store, make_alert: Callable[..., Alert]) -> None:
    async with running(make_hub(store, RealClock())) as hub:
        first = await desk_of(hub).commit(make_alert(1))
        async with served(hub) as (conn, _):
            snap = await conn.next()
            assert snap["type"] == "snapshot"
            assert snap["seq"] == first.seq == 1
            assert [b["bed"] for b in snap["beds"]] == ["ICU-1", "ICU-2"]
            assert snap["beds"][0]["alert"] == {"count": 1, "highest_priority": "medium"}
            assert [a["id"] for a in snap["alerts"]] == ["alert-1"]
            assert snap["alerts"][0]["onset"] == "2026-03-01T08:00:00Z"

            await desk_of(hub).commit(make_alert(2))
            live = await conn.next()
            assert (live["type"], live["seq"], live["alert"]["id"]) == ("alert", 2, "alert-2")
            assert hub.client_count == 1
        assert hub.client_count == 0


async def test_resume_sends_exactly_the_missed_transitions_then_the_snapshot(
    store: Store, make_alert: Callable[..., Alert]
) -> None:
    async with running(make_hub(store, RealClock())) as hub:
        for n in range(1, 6):
            await desk_of(hub).commit(make_alert(n))
        await desk_of(hub).commit(make_alert(2, phase=Phase.END))  # seq 6
        async with served(hub, last_seq=3) as (conn, _):
            msgs = [await conn.next() for _ in range(4)]
        assert [(m["type"], m.get("seq")) for m in msgs] == [
            ("alert", 4),
            ("alert", 5),
            ("alert", 6),
            ("snapshot", 6),
        ]
        assert msgs[2]["alert"]["state"] == "resolved"


async def test_alerts_committed_during_catch_up_are_neither_lost_nor_doubled(
    store: Store, make_alert: Callable[..., Alert], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Force the races: an alert committed while the backlog is read (≤ the cut), one queued
    behind the commit lock while the snapshot is read (> the cut), and one committed to the
    store by a writer that publishes late, bypassing the hub's lock."""
    hub = make_hub(store, RealClock())
    async with running(hub):
        for n in range(1, 4):
            await desk_of(hub).commit(make_alert(n))

        real_after = store.transitions_after
        real_station = store.station_alerts
        calls = {"after": 0, "station": 0}
        late: list[asyncio.Task[Alert]] = []
        bypass: list[Alert] = []

        async def transitions_after(seq: int, limit: int = 10_000) -> list[Alert]:
            calls["after"] += 1
            if calls["after"] == 1:  # mid-backlog, outside the lock
                await desk_of(hub).commit(make_alert(10))
            return await real_after(seq, limit)

        async def station_alerts() -> list[Alert]:
            calls["station"] += 1
            if calls["station"] == 1:  # under the lock: this commit must wait for the cut
                late.append(asyncio.create_task(desk_of(hub).commit(make_alert(11))))
                bypass.append(await real_store_commit(make_alert(12)))
            return await real_station()

        real_store_commit = store.commit_alert
        monkeypatch.setattr(store, "transitions_after", transitions_after)
        monkeypatch.setattr(store, "station_alerts", station_alerts)

        async with served(hub, last_seq=1) as (conn, _):
            seen: list[tuple[str, int]] = []
            while True:
                m = await conn.next()
                if m["type"] in ("alert", "snapshot"):
                    seen.append((m["type"], m["seq"]))
                if m["type"] == "snapshot":
                    break
            await late[0]
            await hub.publish_alert(bypass[0])  # the late publisher finally publishes
            while len([s for s in seen if s[0] == "alert"]) < 5:
                m = await conn.next()
                seen.append((m["type"], m["seq"]))
    alerts = [seq for kind, seq in seen if kind == "alert"]
    snapshot_seq = next(seq for kind, seq in seen if kind == "snapshot")
    assert sorted(alerts) == [2, 3, 4, 5, 6], seen  # all after 1, each once
    assert len(set(alerts)) == len(alerts)
    before = alerts[: seen.index(("snapshot", snapshot_seq))]
    assert all(s <= snapshot_seq for s in before)
    assert all(s > snapshot_seq for s in alerts[len(before) :])


async def test_a_slow_client_is_resynced_and_delays_nobody(
    store: Store, make_alert: Callable[..., Alert]
) -> None:
    clock = RealClock()
    async with (
        running(make_hub(store, clock, queue_size=8)) as hub,
        served(hub) as (fast, _),
        served(hub) as (slow, slow_client),
    ):
        assert (await fast.next())["type"] == "snapshot"
        assert (await slow.next())["type"] == "snapshot"
        slow.gate.clear()  # the slow client stops reading
        committed = []
        for n in range(1, 13):  # an alert storm: more than its queue holds
            committed.append((await desk_of(hub).commit(make_alert(n))).seq)
            for i in range(3):  # numerics replace each other in the queue
                obs = Observation(t=clock.now(), bed="ICU-1", code=SPO2, value=90 + i, unit="%")
                await hub.publish_numerics("ICU-1", {SPO2: obs})
                hub.flush_numerics()
        # the fast client gets everything while the slow one still reads nothing
        fast_alerts: list[int] = []
        while committed[-1] not in fast_alerts:
            msg = await fast.next("alert")
            fast_alerts.append(msg["seq"])
        assert fast_alerts == committed
        assert slow_client.queue.overflows >= 1

        slow.gate.set()
        msgs = []
        while not msgs or msgs[-1]["type"] != "snapshot" or len(msgs) < 3:
            msgs.append(await slow.next())
        kinds = [m["type"] for m in msgs]
        assert "resync" in kinds
        assert msgs[kinds.index("resync")]["reason"] == "slow client"
        slow_alerts = [m["seq"] for m in msgs if m["type"] == "alert"]
        assert slow_alerts == committed  # missed alerts recovered by seq, in order, once
        assert msgs[-1]["seq"] == committed[-1]
        assert hub.resyncs >= 1


def test_client_queue_coalesces_state_and_overflows_on_alerts() -> None:
    q = ClientQueue(4)
    assert q.put(Item("n1", key="numerics ICU-1"))
    assert q.put(Item("a1", seq=1))
    assert q.put(Item("n2", key="numerics ICU-1"))  # replaces n1 in place
    assert q.put(Item("b1", key="bed ICU-2"))
    assert len(q) == 3
    assert q.put(Item("a2", seq=2))
    assert not q.put(Item("a3", seq=3))  # full: everything dropped for a resync
    assert len(q) == 1 and q.overflows == 1
    assert q.put(Item("n3", key="numerics ICU-1"))
    q.put(CLOSE)
    q.put(Item("late"))
    assert len(q) == 1


async def test_client_queue_order() -> None:
    q = ClientQueue(8)
    q.put(Item("n1", key="numerics ICU-1"))
    q.put(Item("a1", seq=1))
    q.put(Item("n2", key="numerics ICU-1"))
    # alerts first (never behind numerics), then the latest numerics
    assert [(await q.get()).text for _ in range(2)] == ["a1", "n2"]
    q.put(Item("n3", key="numerics ICU-1"))  # the earlier one was sent: queued anew
    assert (await q.get()).text == "n3"
    q2 = ClientQueue(1)
    q2.put(Item("a", seq=1))
    q2.put(Item("b", seq=2))
    assert await q2.get() is RESYNC


async def test_a_batching_client_gets_each_flush_in_one_message(
    store: Store, vclock: VirtualClock
) -> None:
    hub = make_hub(store, vclock, numerics_throttle_s=1.0)
    async with (
        running(hub),
        served(hub, batch_numerics=True) as (batched, _),
        served(hub) as (per_bed, _),
    ):
        for conn in (batched, per_bed):
            assert (await conn.next())["type"] == "snapshot"
        beds = [f"ICU-{i}" for i in range(1, 31)]
        for bed in beds:
            obs = Observation(t=vclock.now(), bed=bed, code=SPO2, value=95, unit="%")
            await hub.publish_numerics(bed, {SPO2: obs})
        hub.flush_numerics()
        await vclock.advance(0.01)
        batches = batched.drain()
        assert [m["type"] for m in batches] == ["numerics_batch"]
        assert sorted(item["bed"] for item in batches[0]["items"]) == sorted(beds)
        singles = [await per_bed.next() for _ in beds]  # one message a bed, sent in turn
        assert per_bed.drain() == []
        assert {m["type"] for m in singles} == {"numerics"}
        assert sorted(m["bed"] for m in singles) == sorted(beds)
        assert {k: v for k, v in singles[0].items() if k != "type"} in batches[0]["items"]


async def test_numerics_are_coalesced_per_bed(store: Store, vclock: VirtualClock) -> None:
    hub = make_hub(store, vclock, numerics_throttle_s=1.0)
    async with running(hub), served(hub) as (conn, _):
        assert (await conn.next())["type"] == "snapshot"

        def spo2(v: float) -> dict[str, Observation]:
            return {SPO2: Observation(t=vclock.now(), bed="ICU-2", code=SPO2, value=v, unit="%")}

        for v in (91, 92, 93):
            await hub.publish_numerics("ICU-2", spo2(v))
        hr = Observation(
            t=vclock.now(), bed="ICU-2", code="MDC_ECG_HEART_RATE", value=77, unit="/min"
        )
        await hub.publish_numerics("ICU-2", {"MDC_ECG_HEART_RATE": hr})
        assert conn.drain() == []  # nothing before the bed's tick
        await vclock.advance(1.0)
        assert conn.drain() == [
            {
                "type": "numerics",
                "bed": "ICU-2",
                "t": "2026-03-01T08:00:00Z",
                "values": {
                    "MDC_ECG_HEART_RATE": {
                        "value": 77,
                        "unit": "/min",
                        "t": "2026-03-01T08:00:00Z",
                        "status": "valid",
                    },
                    SPO2: {
                        "value": 93,
                        "unit": "%",
                        "t": "2026-03-01T08:00:00Z",
                        "status": "valid",
                    },
                },
            }
        ]
        # a value every 0.1 s: one message per bed per second, with the latest value
        sent = []
        for i in range(30):
            await hub.publish_numerics("ICU-2", spo2(60 + i))
            await vclock.advance(0.1)
            sent += conn.drain()
        assert len(sent) == 3
        values = [m["values"][SPO2]["value"] for m in sent]
        assert [b - a for a, b in itertools.pairwise(values)] == [10, 10]
        await vclock.advance(1.0)
        last = conn.drain()  # what came after the last tick goes out at the next one
        assert [m["values"][SPO2]["value"] for m in last] == ([89] if values[-1] != 89 else [])
        await vclock.advance(3)
        assert conn.drain() == []  # nothing new, nothing sent


def test_beds_are_spread_over_the_period() -> None:
    slots = Counter(hub_module._slot(f"ICU-{i}") for i in range(100))
    assert len(slots) == hub_module.NUMERICS_SLOTS
    assert max(slots.values()) <= 20


async def test_heartbeat_carries_the_published_seq(
    store: Store, vclock: VirtualClock, make_alert: Callable[..., Alert]
) -> None:
    hub = make_hub(store, vclock, heartbeat_s=10)
    async with running(hub), served(hub) as (conn, _):
        assert (await conn.next())["type"] == "snapshot"
        await desk_of(hub).commit(make_alert(1))
        await vclock.advance(10)
        assert (await conn.next())["type"] == "alert"
        beat = await conn.next()
        assert beat == {"type": "heartbeat", "t": "2026-03-01T08:00:10Z", "seq": 1}


async def test_a_dead_client_times_out(store: Store) -> None:
    hub = make_hub(store, RealClock(), send_timeout_s=0.05)
    async with running(hub):
        conn = FakeConn()
        conn.gate.clear()
        client = hub.connect(conn, "nina")
        with pytest.raises(TimeoutError):
            await hub.serve(client)
        hub.disconnect(client)


async def test_stop_closes_clients(store: Store) -> None:
    hub = make_hub(store, RealClock())
    await hub.start()
    conn = FakeConn()
    client = hub.connect(conn, "nina")
    task = asyncio.create_task(hub.serve(client))
    assert (await conn.next())["type"] == "snapshot"
    await hub.stop()
    await asyncio.wait_for(task, 1)
    assert conn.closed == (1001, "server shutting down")


async def test_publish_alert_needs_a_committed_alert(
    store: Store, make_alert: Callable[..., Alert]
) -> None:
    hub = make_hub(store, RealClock())
    with pytest.raises(ValueError, match="committed"):
        await hub.publish_alert(make_alert(1))


async def test_views_keep_the_newest_value(store: Store, vclock: VirtualClock) -> None:
    views = Views(store, DeviceRegistry(), vclock)
    new = Observation(t=vclock.now(), bed="ICU-1", code=SPO2, value=95, unit="%")
    old = Observation(
        t=vclock.now() - timedelta(seconds=5), bed="ICU-1", code=SPO2, value=80, unit="%"
    )
    views.note_numerics("ICU-1", {SPO2: new})
    views.note_numerics("ICU-1", {SPO2: old})
    assert (await views.latest("ICU-1"))[SPO2].value == 95
