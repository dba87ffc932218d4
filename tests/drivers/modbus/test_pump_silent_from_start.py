"""The pump driver with no valid data since it started: one `device_disconnected` at its stale
limit, whether nothing listens, the pump is silent, or it answers only with broken frames.

The driver runs on a virtual clock against the pump simulator over real TCP on 127.0.0.1; the
test moves virtual time in small steps and lets the socket work in between (the verdicts are
virtual instants and counts, never a wall-clock wait).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from realtime import drive, free_port

from core.clock import VirtualClock
from core.model import DeviceEvent
from drivers.base import Backoff, ConnectionState, DriverOutput
from drivers.modbus.driver import ModbusPumpDriver
from drivers.modbus.profile import load_profile
from simulators.pump import PumpSimulator
from simulators.pump_state import PumpState

pytestmark = pytest.mark.timeout(60)

STALE_S = 3.0


class Run:
    def __init__(self, clock: VirtualClock, port: int) -> None:
        self.clock = clock
        self.driver = ModbusPumpDriver(
            bed="ICU-1",
            device_id="pump-study",
            clock=clock,
            profile=load_profile(),
            transport="tcp",
            address=f"127.0.0.1:{port}",
            poll_interval=1.0,
            reply_timeout=0.3,
            stale_after=STALE_S,
            backoff=Backoff(initial=0.5, factor=2.0, cap=1.0, jitter=0.0),
        )
        self.out: list[DriverOutput] = []
        self.task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for item in self.driver.stream():
            self.out.append(item)

    def events(self, name: str) -> list[DeviceEvent]:
        return [o for o in self.out if isinstance(o, DeviceEvent) and o.event == name]

    async def until_connected(self, virtual_s: float = 10.0) -> None:
        end = self.clock.monotonic() + virtual_s
        while not self.events("device_connected"):
            assert self.clock.monotonic() < end, "the pump never connected"
            await drive(self.clock, 0.1)


@contextlib.asynccontextmanager
async def pump_run(fault: str | None) -> AsyncIterator[tuple[Run, PumpSimulator, int]]:
    """A driver on a virtual clock; the pump simulator serving (under `fault`) unless None."""
    clock = VirtualClock()
    state = PumpState(vtbi_ml=100.0)
    sim = PumpSimulator({1: state}, clock)
    if fault is None:
        port = free_port()
    else:
        setattr(sim.faults, fault, True)
        port = await sim.serve_tcp("127.0.0.1", 0)
    run = Run(clock, port)
    try:
        yield run, sim, port
    finally:
        run.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run.task
        await sim.close()


async def assert_one_alert_at_stale_limit(run: Run) -> DeviceEvent:
    t0 = run.clock.now()
    await drive(run.clock, STALE_S - 0.05)
    assert run.events("device_disconnected") == []
    await drive(run.clock, 0.1)
    (event,) = run.events("device_disconnected")
    assert event.t - t0 == timedelta(seconds=STALE_S)
    assert event.fields["reason"].startswith(f"no data since start ({STALE_S:g} s)")
    await drive(run.clock, 3 * STALE_S)
    assert len(run.events("device_disconnected")) == 1
    assert run.events("device_connected") == []
    return event


async def test_nothing_listening() -> None:
    async with pump_run(None) as (run, sim, port):
        event = await assert_one_alert_at_stale_limit(run)
        assert f"127.0.0.1:{port}" in event.fields["reason"]
        await sim.serve_tcp("127.0.0.1", port)  # the pump comes up: its connect ends it
        await run.until_connected()
        assert len(run.events("device_disconnected")) == 1


@pytest.mark.parametrize("fault", ["stall", "corrupt_checksum"])
async def test_silent_or_broken_pump(fault: str) -> None:
    async with pump_run(fault) as (run, sim, _):
        await assert_one_alert_at_stale_limit(run)
        if fault == "corrupt_checksum":
            assert run.driver.status.bad_frames > 0 and run.driver.status.frames == 0
        sim.faults.clear()
        await run.until_connected()
        assert run.driver.status.state is ConnectionState.CONNECTED
        assert len(run.events("device_disconnected")) == 1
