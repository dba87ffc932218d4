"""The service with a configured pump that never answers: a technical alert reaches the store at
the pump's stale limit, and ends when the pump comes up (issue #12, "a device that never
connects raises nothing").

The whole service (pipeline, watchdog, drivers) runs in-process on a virtual clock; the pump is
a real Modbus TCP port on 127.0.0.1, closed at first. The test moves virtual time in small
steps and lets the sockets work in between; verdicts are virtual instants and stored alerts.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from realtime import drive, free_port

from app.config import BedConfig, DeviceConfig, IcuConfig
from app.runner import build_service
from app.settings import Mode, Settings
from app.store import Store
from app.store.migrate import upgrade
from core.clock import VirtualClock
from core.model import Alert, Category, Phase
from drivers.modbus.profile import load_profile
from simulators.pump import PumpSimulator
from simulators.pump_state import PumpState

pytestmark = pytest.mark.timeout(90)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
STALE_S = 5.0


async def technical(store: Store) -> list[Alert]:
    return [
        a
        for a in await store.transitions_after(0)
        if a.category is Category.TECHNICAL and a.rule == "device_disconnected"
    ]


async def stored(store: Store) -> list[Alert]:
    """The technical alerts once one is stored: the virtual clock stands still while the
    pipeline and the store's commit take their real time (long on a loaded machine)."""
    for _ in range(500):
        if found := await technical(store):
            return found
        await asyncio.sleep(0.01)
    return []


async def test_a_pump_that_never_answers_raises_a_technical_alert(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'silent.db'}"
    await upgrade(url)
    port = free_port()
    pump = DeviceConfig(
        bed="ICU-1",
        id="pump-study",
        kind="pump",
        protocol="modbus-tcp",
        address=f"127.0.0.1:{port}",
        line=1,
        profile=load_profile(),
        role="study",
        poll_interval=1.0,
        stale_after=STALE_S,
    )
    icu = IcuConfig(beds=(BedConfig(bed="ICU-1", label="Bed 1", devices=(pump,)),), source="-")
    clock = VirtualClock(T0)
    settings = Settings(mode=Mode.TEST, database_url=url, secret_key=SecretStr("s" * 48))
    app = build_service(settings, icu, clock=clock)
    sim = PumpSimulator({1: PumpState(vtbi_ml=100.0)}, clock)
    async with app.router.lifespan_context(app):
        store: Store = app.state.ctx.store
        await drive(clock, STALE_S - 0.5)
        assert await technical(store) == []
        await drive(clock, 1.0)
        (start,) = await stored(store)
        assert start.phase is Phase.START and start.bed == "ICU-1"
        assert start.onset == T0 + timedelta(seconds=STALE_S)
        await drive(clock, 30.0)
        assert len(await technical(store)) == 1  # once per outage
        await sim.serve_tcp("127.0.0.1", port)  # the pump comes up
        try:
            for _ in range(120):  # the backoff has reached its 30 s cap: up to 60 virtual s
                if len(await technical(store)) == 2:
                    break
                await drive(clock, 0.5)
        finally:
            await sim.close()
        _, end = await technical(store)
        assert end.id == start.id and end.phase is Phase.END
