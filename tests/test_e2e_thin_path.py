"""The thin path, end to end over real sockets: simulated pump (Modbus TCP) → driver → bus →
rules engine → alert committed to the database → pushed on the station websocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from app.config import BedConfig, DeviceConfig, IcuConfig
from app.runner import build_service, uvicorn_server
from app.security import hash_password
from app.settings import Settings
from app.store import Store
from app.store.migrate import upgrade
from core.clock import RealClock
from drivers.modbus.profile import load_profile
from simulators.pump import PumpSimulator
from simulators.pump_state import PumpState


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    await upgrade(url)
    store = await Store.open(url)
    await store.add_user("nurse1", "nurse", hash_password("correct horse battery"))
    await store.close()

    clock = RealClock()
    pump = PumpState(vtbi_ml=100.0)
    sim = PumpSimulator({1: pump}, clock)
    port = await sim.serve_tcp("127.0.0.1", 0)
    device = DeviceConfig(
        bed="ICU-1",
        id="pump-study",
        kind="pump",
        protocol="modbus-tcp",
        address=f"127.0.0.1:{port}",
        line=1,
        profile=load_profile(),
        role="study",
        poll_interval=0.1,
        stale_after=5.0,
    )
    icu = IcuConfig(
        beds=(BedConfig(bed="ICU-1", label="Bed 1", devices=(device,)),), source="<test>"
    )
    settings = Settings(mode="test", database_url=url, numerics_throttle_s=0.2)  # type: ignore[arg-type]
    server = uvicorn_server(build_service(settings, icu), "127.0.0.1", 0)
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.02)
    http_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield {
            "pump": pump,
            "base": f"http://127.0.0.1:{http_port}",
            "ws": f"ws://127.0.0.1:{http_port}",
            "db": url,
        }
    finally:
        server.should_exit = True
        await serving
        await sim.close()


async def test_occlusion_reaches_the_station_and_the_database(service: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=service["base"]) as http:
        r = await http.post(
            "/api/auth/login", json={"username": "nurse1", "password": "correct horse battery"}
        )
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}

        async with websockets.connect(f"{service['ws']}/ws/station?token={token}") as ws:
            snapshot = json.loads(await ws.recv())
            assert snapshot["type"] == "snapshot"
            assert [b["bed"] for b in snapshot["beds"]] == ["ICU-1"]

            pump: PumpState = service["pump"]
            pump.start(rate_ml_h=150.0)
            pump.raise_alarm("occlusion")

            alert = None
            async with asyncio.timeout(15):
                while alert is None:
                    msg = json.loads(await ws.recv())
                    if msg["type"] == "alert" and msg["alert"]["category"] == "infusion_problem":
                        alert = msg
            assert alert["seq"] >= 1
            body = alert["alert"]
            assert body["bed"] == "ICU-1" and body["phase"] == "start"
            assert body["iae"] is False and body["state"] == "active"

        # committed before it was pushed: it is in the database, with the same seq
        r = await http.get("/api/alerts", params={"bed": "ICU-1"}, headers=auth)
        assert r.status_code == 200
        stored = [a for a in r.json() if a["id"] == body["id"]]
        assert stored and stored[0]["category"] == "infusion_problem"

    store = await Store.open(service["db"])
    try:
        transitions = await store.transitions_after(0)
        assert any(t.id == body["id"] and t.seq == alert["seq"] for t in transitions)
    finally:
        await store.close()
