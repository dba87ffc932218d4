"""The alert log and acknowledgement."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.context import AppContext
from app.ws.hub import Client
from app.ws.queue import ClientQueue
from core.clock import VirtualClock
from core.model import Alert, Category, Phase, Priority

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def seed(ctx: AppContext, make_alert: Callable[..., Alert]) -> list[Alert]:
    return [
        await ctx.alerts.commit(make_alert(1)),
        await ctx.alerts.commit(
            make_alert(
                2,
                bed="ICU-2",
                category=Category.ARRHYTHMIA,
                rule="vt",
                priority=Priority.HIGH,
                t=T0 + timedelta(minutes=5),
                onset=T0 + timedelta(minutes=5),
            )
        ),
        await ctx.alerts.commit(make_alert(1, phase=Phase.END, t=T0 + timedelta(minutes=10))),
    ]


async def test_list_and_filter(
    client: httpx.AsyncClient,
    ctx: AppContext,
    nurse: dict[str, str],
    make_alert: Callable[..., Alert],
) -> None:
    await seed(ctx, make_alert)
    r = await client.get("/api/alerts", headers=nurse)
    assert r.status_code == 200, r.text
    alerts = r.json()
    assert {a["id"] for a in alerts} == {"alert-1", "alert-2"}
    a2 = next(a for a in alerts if a["id"] == "alert-2")
    assert a2 == {
        "id": "alert-2",
        "seq": 2,
        "bed": "ICU-2",
        "category": "arrhythmia",
        "iae": True,
        "rule": "vt",
        "priority": "high",
        "phase": "start",
        "state": "active",
        "onset": "2026-03-01T08:05:00Z",
        "t": "2026-03-01T08:05:00Z",
        "message": "SpO2 86 % (baseline 95 %)",
        "evidence": {"MDC_PULS_OXIM_SAT_O2": 86, "baseline": 95},
        "acked_by": None,
        "acked_at": None,
        "ended_at": None,
    }
    r = await client.get("/api/alerts?bed=ICU-2", headers=nurse)
    assert [a["id"] for a in r.json()] == ["alert-2"]
    r = await client.get("/api/alerts?state=resolved", headers=nurse)
    assert [a["id"] for a in r.json()] == ["alert-1"]
    r = await client.get("/api/alerts?category=arrhythmia", headers=nurse)
    assert [a["id"] for a in r.json()] == ["alert-2"]
    r = await client.get("/api/alerts?limit=1", headers=nurse)
    assert len(r.json()) == 1


@pytest.mark.parametrize(
    "query",
    [
        "state=sleeping",
        "category=boredom",
        "limit=0",
        "limit=100000",
        "since=yesterday",
        "since=2026-03-01T08:00:00Z&until=2026-03-01T07:00:00Z",
    ],
)
async def test_filter_validation(
    client: httpx.AsyncClient, nurse: dict[str, str], query: str
) -> None:
    r = await client.get(f"/api/alerts?{query}", headers=nurse)
    assert r.status_code == 422, r.text


async def test_acknowledge(
    client: httpx.AsyncClient,
    ctx: AppContext,
    nurse: dict[str, str],
    vclock: VirtualClock,
    make_alert: Callable[..., Alert],
) -> None:
    await seed(ctx, make_alert)
    listener = Client(conn=None, user="test", queue=ClientQueue(64), id=0)  # type: ignore[arg-type]
    ctx.hub._clients.add(listener)
    vclock.set(T0 + timedelta(minutes=12))
    r = await client.post("/api/alerts/alert-2/ack", headers=nurse)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["state"], body["phase"], body["seq"]) == ("acknowledged", "ack", 4)
    assert (body["acked_by"], body["acked_at"]) == ("nina", "2026-03-01T08:12:00Z")
    pushed = await listener.queue.get()
    while pushed.seq is None:  # the clock's jump let a heartbeat through first
        pushed = await listener.queue.get()
    assert pushed.seq == 4
    assert '"acked_by":"nina"' in pushed.text
    stored = await ctx.store.alert("alert-2")
    assert stored is not None and stored.acked_by == "nina"

    # a resolved, unacknowledged alert stays on the station until acknowledged
    assert {a.id for a in await ctx.store.station_alerts()} == {"alert-1", "alert-2"}
    r = await client.post("/api/alerts/alert-1/ack", headers=nurse)
    assert r.json()["state"] == "resolved"
    assert {a.id for a in await ctx.store.station_alerts()} == {"alert-2"}


async def test_acknowledge_unknown_is_404(client: httpx.AsyncClient, nurse: dict[str, str]) -> None:
    r = await client.post("/api/alerts/nope/ack", headers=nurse)
    assert r.status_code == 404
    assert r.json()["detail"] == "no alert 'nope'"


async def test_acknowledgement_reaches_the_engine_and_the_audit_log(
    client: httpx.AsyncClient,
    ctx: AppContext,
    nurse: dict[str, str],
    admin: dict[str, str],
    make_alert: Callable[..., Alert],
) -> None:
    told: list[Alert] = []

    async def engine_side(a: Alert) -> None:
        told.append(a)

    ctx.alerts.on_acknowledged(engine_side)  # as the pipeline registers its engine
    await ctx.alerts.commit(make_alert(1))
    assert (await client.post("/api/alerts/alert-1/ack", headers=nurse)).status_code == 200
    assert [(a.id, a.phase, a.acked_by) for a in told] == [("alert-1", Phase.ACK, "nina")]

    again = await client.post("/api/alerts/alert-1/ack", headers=admin)  # the first ack stays
    assert again.status_code == 200
    assert again.json()["acked_by"] == "nina"
    assert ctx.hub.published_seq == 2  # no second transition
    assert len(told) == 1  # and the engine is not told twice

    assert (await client.get("/api/audit", headers=nurse)).status_code == 403
    r = await client.get("/api/audit", headers=admin)
    assert r.status_code == 200
    actions = [(e["actor"], e["action"], e["target"]) for e in r.json()]
    assert ("nina", "alert.acknowledge", "alert-1") in actions
