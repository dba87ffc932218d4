"""What the station page reads besides the websocket: alert history by window, the on-duty
token refresh, the site, and the truthful infusion state of the bed payload."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from app.config import SiteConfig
from app.context import AppContext
from app.live.views import infusion_state
from app.store import InfusionRow
from core.clock import VirtualClock
from core.model import Alert, AlertState, Category, Phase, Priority

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def test_history_lists_closed_alerts_with_who_acknowledged_per_window(
    client: httpx.AsyncClient,
    ctx: AppContext,
    nurse: dict[str, str],
    vclock: VirtualClock,
    make_alert: Callable[..., Alert],
) -> None:
    old = T0 - timedelta(hours=30)
    await ctx.alerts.commit(make_alert(1, onset=old, t=old))
    await ctx.alerts.commit(make_alert(2, onset=T0 - timedelta(hours=1), t=T0 - timedelta(hours=1)))
    await ctx.alerts.acknowledge("alert-2", by="nina", t=T0 - timedelta(minutes=50))
    end = T0 - timedelta(minutes=40)
    await ctx.alerts.commit(make_alert(2, phase=Phase.END, t=end, onset=T0 - timedelta(hours=1)))
    await ctx.alerts.commit(make_alert(3, bed="ICU-2", onset=T0, t=T0))

    r = await client.get("/api/alerts/history", headers=nurse, params={"bed": "ICU-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["window"] == {
        "index": 0,
        "from": "2026-02-28T08:00:00Z",
        "to": "2026-03-01T08:00:00Z",
    }
    [closed] = body["alerts"]
    assert closed["id"] == "alert-2" and closed["state"] == AlertState.RESOLVED.value
    assert closed["acked_by"] == "nina" and closed["acked_at"] == "2026-03-01T07:10:00Z"
    assert closed["ended_at"] == "2026-03-01T07:20:00Z"

    earlier = (await client.get("/api/alerts/history", headers=nurse, params={"window": 1})).json()
    assert [a["id"] for a in earlier["alerts"]] == ["alert-1"]
    every_bed = (await client.get("/api/alerts/history", headers=nurse)).json()
    assert {a["id"] for a in every_bed["alerts"]} == {"alert-2", "alert-3"}
    bad = await client.get("/api/alerts/history", headers=nurse, params={"window": -1})
    assert bad.status_code == 422
    assert (await client.get("/api/alerts/history")).status_code == 401


async def test_refresh_keeps_a_station_on_duty_past_the_token_lifetime(
    client: httpx.AsyncClient, ctx: AppContext, nurse: dict[str, str], vclock: VirtualClock
) -> None:
    headers = nurse
    for _ in range(30):  # 30 half-lives: 15 × the token lifetime, never a password
        vclock.set(vclock.now() + timedelta(seconds=ctx.settings.token_ttl_s / 2))
        r = await client.post("/api/auth/refresh", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["username"] == "nina" and r.json()["role"] == "nurse"
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await client.get("/api/beds", headers=headers)).status_code == 200
    vclock.set(vclock.now() + timedelta(seconds=ctx.settings.token_ttl_s + 1))
    expired = await client.post("/api/auth/refresh", headers=headers)
    assert expired.status_code == 401 and expired.json()["detail"] == "token expired"


async def test_site_is_public_and_defaults_to_utc(client: httpx.AsyncClient, app: FastAPI) -> None:
    assert (await client.get("/api/site")).json() == {"name": "ICU", "timezone": "UTC"}
    app.state.site = SiteConfig(name="Guangzhou ICU", timezone="Asia/Shanghai")
    assert (await client.get("/api/site")).json() == {
        "name": "Guangzhou ICU",
        "timezone": "Asia/Shanghai",
    }


def _infusion(ended: datetime | None = None) -> InfusionRow:
    return InfusionRow(
        id=1,
        study_id="UC-001",
        bed="ICU-1",
        started_at=T0,
        ended_at=ended,
        weight_kg=70.0,
        volume_ml=100.0,
        planned_min=45.0,
        source="pump",
    )


def _pump_alarm(kind: str, ended: datetime | None = None) -> Alert:
    return Alert(
        id="pump",
        bed="ICU-1",
        category=Category.INFUSION_PROBLEM,
        rule="infusion_pump_alarm",
        priority=Priority.MEDIUM,
        phase=Phase.START if ended is None else Phase.END,
        state=AlertState.ACTIVE if ended is None else AlertState.RESOLVED,
        onset=T0,
        t=T0 if ended is None else ended,
        message="Study pump alarm",
        evidence={"event": "pump_alarm", "fields": {"kind": kind}},
        ended_at=ended,
    )


def test_infusion_state_says_what_the_pump_does() -> None:
    running = _infusion()
    assert infusion_state(running, 133.0, []) == ("running", None)
    assert infusion_state(running, 133.0, [_pump_alarm("occlusion")]) == ("stopped", "occlusion")
    cleared = _pump_alarm("occlusion", ended=T0 + timedelta(minutes=3))
    assert infusion_state(running, 133.0, [cleared]) == ("running", None)
    assert infusion_state(running, 0.0, []) == ("paused", None)
    assert infusion_state(_infusion(ended=T0 + timedelta(minutes=45)), None, []) == (
        "complete",
        None,
    )
