"""/health, /ready, /metrics and the device list."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import text

from app.context import AppContext
from app.main import create_app
from app.settings import Settings
from app.store.engine import make_engine
from core.clock import VirtualClock
from core.model import Alert, Priority


async def test_health_needs_no_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert (r.status_code, r.json()["status"]) == (200, "ok")


async def test_ready(client: httpx.AsyncClient, ctx: AppContext) -> None:
    r = await client.get("/ready")
    assert (r.status_code, r.json()["status"]) == (200, "ok")
    async with ctx.store._write() as conn:
        await conn.execute(text("DELETE FROM alembic_version"))  # one row per head
        await conn.execute(text("INSERT INTO alembic_version VALUES ('old')"))
    r = await client.get("/ready")
    assert r.status_code == 503
    assert r.json()["detail"] == "database schema is not at head"


async def test_ready_when_the_database_is_gone(
    client: httpx.AsyncClient, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing listens on port 1: every connection attempt is refused
    gone = make_engine("postgresql+asyncpg://iaewatch@127.0.0.1:1/iaewatch")
    monkeypatch.setattr(ctx.store, "_engine", gone)
    r = await client.get("/ready")
    assert r.status_code == 503
    assert r.json()["detail"] == "database unreachable"
    await gone.dispose()


async def test_devices(client: httpx.AsyncClient, engineer: dict[str, str]) -> None:
    r = await client.get("/api/devices", headers=engineer)
    assert r.status_code == 200
    pump, vent = r.json()
    assert pump == {
        "bed": "ICU-1",
        "device_id": "pump",
        "kind": "pump",
        "protocol": "modbus",
        "address": "socket://10.0.0.5:502",
        "state": "connected",
        "since": "2026-03-01T08:00:00Z",
        "last_frame": None,
        "frames": 120,
        "bad_frames": 2,
        "reconnects": 0,
        "last_error": None,
        "identification": {"model": "Fusion 4000"},
        "stale": False,
        "stale_after_s": 10.0,
        "presence": "connected",
        "presence_since": "2026-03-01T08:00:00Z",
    }
    assert (vent["state"], vent["presence"]) == ("connecting", "connecting")
    r = await client.get("/api/devices/ICU-1/vent", headers=engineer)
    assert r.json()["protocol"] == "medibus"
    assert (await client.get("/api/devices/ICU-1/nope", headers=engineer)).status_code == 404


async def test_metrics(
    client: httpx.AsyncClient,
    ctx: AppContext,
    make_alert: Callable[..., Alert],
    engineer: dict[str, str],
) -> None:
    await ctx.alerts.commit(make_alert(1))
    await ctx.alerts.commit(make_alert(2, priority=Priority.HIGH))
    ctx.metrics.observed(42)
    ctx.metrics.handled(0.25)
    pump = ctx.devices.get("ICU-1", "pump")
    assert pump is not None
    pump.status.bad_frames = 7
    r = await client.get("/metrics", headers=engineer)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    lines = set(r.text.splitlines())
    assert 'iaewatch_alerts_open{category="hypoxemia",priority="high"} 1.0' in lines
    assert 'iaewatch_alerts_open{category="hypoxemia",priority="medium"} 1.0' in lines
    assert (
        'iaewatch_alert_transitions_total{category="hypoxemia",phase="start",priority="high"} 1.0'
        in lines
    )
    assert "iaewatch_websocket_clients 0.0" in lines
    assert "iaewatch_observations_ingested_total 42.0" in lines
    assert "iaewatch_pipeline_lag_seconds 0.25" in lines
    assert 'iaewatch_device_up{bed="ICU-1",device="pump"} 1.0' in lines
    assert 'iaewatch_device_up{bed="ICU-1",device="vent"} 0.0' in lines
    assert 'iaewatch_device_state{bed="ICU-1",device="vent",state="connecting"} 1.0' in lines
    assert 'iaewatch_device_frames_total{bed="ICU-1",device="pump"} 120.0' in lines
    assert 'iaewatch_device_bad_frames_total{bed="ICU-1",device="pump"} 7.0' in lines
    assert 'iaewatch_device_reconnects_total{bed="ICU-1",device="pump"} 0.0' in lines
    # a registry of its own: nothing from prometheus_client's global default registry
    assert not any(line.startswith("python_gc") for line in lines)


async def test_openapi_lists_the_resources(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    paths = r.json()["paths"]
    for path in (
        "/api/beds",
        "/api/beds/{bed}/trends",
        "/api/alerts/{alert_id}/ack",
        "/api/patients",
        "/api/devices",
        "/api/auth/login",
        "/ready",
    ):
        assert path in paths
    assert (await client.get("/docs")).status_code == 200


async def test_metrics_need_a_token(
    client: httpx.AsyncClient, nurse: dict[str, str], settings: Settings
) -> None:
    assert (await client.get("/metrics")).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await client.get("/metrics", headers=bad)).status_code == 401
    assert (await client.get("/metrics", headers=nurse)).status_code == 403


async def test_prometheus_scrapes_with_the_metrics_token(db_url: str, vclock: VirtualClock) -> None:
    settings = Settings(
        mode="test", database_url=db_url, secret_key="s" * 48, metrics_token="m" * 40
    )
    application = create_app(settings, clock=vclock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
            ok = await c.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40})
            assert ok.status_code == 200 and "iaewatch_websocket_clients" in ok.text
            wrong = await c.get("/metrics", headers={"Authorization": "Bearer " + "m" * 39})
            assert wrong.status_code == 401


async def test_security_headers_on_the_page_and_the_api(client: httpx.AsyncClient) -> None:
    for path in ("/", "/health", "/api/beds", "/station/station.js"):
        r = await client.get(path)
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
    docs = await client.get("/docs")
    assert docs.headers["content-security-policy"] == "frame-ancestors 'none'"
