"""An infusion started while the pump link was down, against the pump simulator.

Without a pump-reported time the start is seen at reconnection: the event says so
(`seen_at_reconnect`, `gap_s`). With a profile mapping the pump's elapsed-time register the
event carries the true start. The driver runs on a virtual clock over real TCP on 127.0.0.1;
the test moves virtual time in small steps and lets the socket work in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from realtime import drive

import simulators.pump
from core.clock import VirtualClock
from core.model import DeviceEvent
from drivers.base import Backoff, DriverOutput
from drivers.modbus.codec import PumpReading
from drivers.modbus.driver import ModbusPumpDriver
from drivers.modbus.profile import PumpProfile, default_profile_path, load_profile
from simulators.pump import PumpSimulator
from simulators.pump_state import PumpState

pytestmark = pytest.mark.timeout(60)

OUTAGE_S = 31.0
STARTED_INTO_OUTAGE_S = 10.0


@dataclasses.dataclass
class TimedPump(PumpState):
    """A pump that counts the seconds since its programme started (on the test's clock)."""

    clock: VirtualClock = dataclasses.field(default_factory=VirtualClock)
    started: float | None = None

    def start(self, *, rate_ml_h: float, vtbi_ml: float | None = None) -> None:
        super().start(rate_ml_h=rate_ml_h, vtbi_ml=vtbi_ml)
        self.started = self.clock.monotonic()


@contextlib.asynccontextmanager
async def pump_with_outage(
    profile: PumpProfile,
) -> AsyncIterator[tuple[list[DriverOutput], datetime]]:
    """A stopped study pump, connected; its link then drops for OUTAGE_S, and the infusion
    starts STARTED_INTO_OUTAGE_S into the outage. Yields the driver's outputs and that start."""
    clock = VirtualClock()
    state = TimedPump(vtbi_ml=100.0, clock=clock)
    sim = PumpSimulator({1: state}, clock, profile=profile)
    port = await sim.serve_tcp("127.0.0.1", 0)
    driver = ModbusPumpDriver(
        bed="ICU-1",
        device_id="pump-study",
        clock=clock,
        profile=profile,
        transport="tcp",
        address=f"127.0.0.1:{port}",
        poll_interval=1.0,
        reply_timeout=0.3,
        stale_after=5.0,
        backoff=Backoff(initial=0.5, factor=2.0, cap=1.0, jitter=0.0),
    )
    out: list[DriverOutput] = []

    async def collect() -> None:
        async for item in driver.stream():
            out.append(item)

    task = asyncio.create_task(collect())
    try:
        await drive(clock, 3.0)
        assert [o for o in out if isinstance(o, DeviceEvent) and o.event == "device_connected"]
        sim.faults.drop = True
        await drive(clock, STARTED_INTO_OUTAGE_S)
        started = clock.now()
        state.start(rate_ml_h=150.0)
        await drive(clock, OUTAGE_S - STARTED_INTO_OUTAGE_S)
        sim.faults.drop = False
        for _ in range(200):  # up to 10 virtual s for the reconnection
            if any(isinstance(o, DeviceEvent) and o.event == "infusion_start" for o in out):
                break
            await drive(clock, 0.05)
        yield out, started
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sim.close()


def the_start(out: list[DriverOutput]) -> DeviceEvent:
    (start,) = [o for o in out if isinstance(o, DeviceEvent) and o.event == "infusion_start"]
    return start


async def test_a_start_during_an_outage_is_marked_seen_at_reconnect() -> None:
    async with pump_with_outage(load_profile()) as (out, started):
        start = the_start(out)
        late = (start.t - started).total_seconds()
        assert late >= OUTAGE_S - STARTED_INTO_OUTAGE_S  # recorded at reconnection, late
        assert start.fields["seen_at_reconnect"] is True
        assert OUTAGE_S <= start.fields["gap_s"] <= OUTAGE_S + 3.0
        assert "time_source" not in start.fields


@pytest.fixture
def elapsed_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PumpProfile:
    """The generic map plus an elapsed-time register (23), which the simulator then serves."""
    path = tmp_path / "elapsed.yaml"
    path.write_text(
        default_profile_path().read_text() + "  infusion_elapsed_s: {address: 23, type: uint16}\n"
    )
    plain = simulators.pump.reading_of

    def with_elapsed(state: PumpState, serial_number: str = "") -> PumpReading:
        reading = plain(state, serial_number)
        if not isinstance(state, TimedPump) or state.started is None or not state.running:
            return reading
        return dataclasses.replace(
            reading, infusion_elapsed_s=round(state.clock.monotonic() - state.started)
        )

    monkeypatch.setattr(simulators.pump, "reading_of", with_elapsed)
    return load_profile(path)


async def test_the_pumps_elapsed_time_gives_the_true_start(elapsed_profile: PumpProfile) -> None:
    async with pump_with_outage(elapsed_profile) as (out, started):
        start = the_start(out)
        assert start.fields["time_source"] == "pump"
        assert "seen_at_reconnect" not in start.fields
        assert abs(start.t - started) <= timedelta(seconds=1)
