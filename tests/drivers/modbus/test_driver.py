"""The pump driver against the pump simulator over real transports, with every fault.

Verdicts never rest on a wall-clock sleep: a test waits (bounded) for the outputs or counters it
judges, and the bad-frame tests poll on a virtual clock, so each poll is one the test made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes

from core.clock import Clock, RealClock, VirtualClock
from core.model import DeviceEvent, Observation, ValueStatus
from core.records import dump_record, parse_record, to_record
from drivers.base import Backoff, ConnectionState, DriverOutput
from drivers.modbus.codec import PumpReading
from drivers.modbus.driver import ModbusPumpDriver
from drivers.modbus.profile import load_profile
from drivers.transport import SerialSettings
from simulators.nullmodem import pty_null_modem
from simulators.pump import PumpSimulator
from simulators.pump_state import PumpState

CLOCK = RealClock()


class Collector:
    """Runs a driver's stream in a task and lets a test wait for a condition."""

    def __init__(self, driver: ModbusPumpDriver) -> None:
        self.driver = driver
        self.items: list[DriverOutput] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for item in self.driver.stream():
            self.items.append(item)
            self._changed.set()

    async def wait_for(
        self, cond: Callable[[DriverOutput], bool], timeout: float = 5.0, after: int = 0
    ) -> DriverOutput:
        async with asyncio.timeout(timeout):
            while True:
                for item in self.items[after:]:
                    if cond(item):
                        return item
                self._changed.clear()
                await self._changed.wait()

    def mark(self) -> int:
        return len(self.items)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait, bounded, until `cond()` holds (the verdict is the condition, not the wait)."""
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


async def bad_frames_reach(driver: ModbusPumpDriver, n: int) -> None:
    await wait_until(lambda: driver.status.bad_frames >= n)


def is_event(name: str, **fields: Any) -> Callable[[DriverOutput], bool]:
    return lambda i: (
        isinstance(i, DeviceEvent)
        and i.event == name
        and all(i.fields.get(k) == v for k, v in fields.items())
    )


def is_obs(code: str, value: float | None = None) -> Callable[[DriverOutput], bool]:
    return lambda i: (
        isinstance(i, Observation) and i.code == code and (value is None or i.value == value)
    )


def make_driver(transport: str, address: str, **kw: Any) -> ModbusPumpDriver:
    settings: dict[str, Any] = {
        "clock": CLOCK,
        "poll_interval": 0.05,
        "reply_timeout": 0.5,
        "stale_after": 1.0,
        "backoff": Backoff(initial=0.05, cap=0.2),
    }
    return ModbusPumpDriver(
        bed="ICU-1",
        device_id="pump-study",
        profile=load_profile(),
        transport=transport,  # type: ignore[arg-type]
        address=address,
        weight_kg=lambda: 70.0,
        **(settings | kw),
    )


def virtual_driver(transport: str, address: str, clock: Clock, **kw: Any) -> ModbusPumpDriver:
    """A driver that polls only when the test advances `clock` (one poll per second); a reply
    that never comes as a valid frame fails on pymodbus's own timer (0.3 s)."""
    return make_driver(
        transport,
        address,
        clock=clock,
        poll_interval=1.0,
        reply_timeout=0.3,
        stale_after=30.0,
        **kw,
    )


@pytest.fixture
async def tcp_bed() -> AsyncIterator[tuple[PumpSimulator, PumpState, Collector]]:
    state = PumpState(vtbi_ml=100.0)
    sim = PumpSimulator({1: state}, CLOCK)
    port = await sim.serve_tcp("127.0.0.1", 0)
    col = Collector(make_driver("tcp", f"127.0.0.1:{port}"))
    yield sim, state, col
    await col.close()
    await sim.close()


@pytest.fixture
async def virtual_tcp_bed(
    vclock: VirtualClock,
) -> AsyncIterator[tuple[PumpSimulator, VirtualClock, Collector]]:
    state = PumpState(vtbi_ml=100.0)
    state.start(rate_ml_h=150.0)
    sim = PumpSimulator({1: state}, vclock)
    port = await sim.serve_tcp("127.0.0.1", 0)
    col = Collector(virtual_driver("tcp", f"127.0.0.1:{port}", vclock))
    yield sim, vclock, col
    await col.close()
    await sim.close()


async def test_tcp_connect_identify_and_infusion(tcp_bed: Any) -> None:
    _sim, state, col = tcp_bed
    ev = await col.wait_for(is_event("device_connected"))
    assert isinstance(ev, DeviceEvent)
    assert ev.fields["model"] == "iaewatch-generic-pump-v1"
    assert ev.fields["serial_number"] == "SIM00001"
    await col.wait_for(is_obs("MDC_VOL_FLUID_TBI", 100.0))
    state.start(rate_ml_h=150.0)
    start = await col.wait_for(is_event("infusion_start"))
    assert isinstance(start, DeviceEvent)
    assert start.fields == {
        "weight_kg": 70.0,
        "volume_ml": 100.0,
        "planned_min": 40.0,
        "rate_ml_h": 150.0,
    }
    await col.wait_for(is_obs("MDC_FLOW_FLUID_PUMP", 150.0))
    state.raise_alarm("occlusion")
    await col.wait_for(is_event("pump_alarm", kind="occlusion"))
    assert col.driver.status.state is ConnectionState.CONNECTED
    assert col.driver.status.frames >= 3


async def test_drop_raises_disconnect_then_recovers(tcp_bed: Any) -> None:
    sim, _, col = tcp_bed
    await col.wait_for(is_event("device_connected"))
    sim.faults.drop = True
    mark = col.mark()
    await col.wait_for(is_event("device_disconnected"), after=mark)
    assert col.driver.status.state is not ConnectionState.CONNECTED
    sim.faults.drop = False
    mark = col.mark()
    await col.wait_for(is_event("device_connected"), after=mark)
    await col.wait_for(is_obs("MDC_FLOW_FLUID_PUMP"), after=mark)
    assert col.driver.status.reconnects == 1


async def test_stall_goes_stale_then_reconnects(tcp_bed: Any) -> None:
    sim, _, col = tcp_bed
    await col.wait_for(is_event("device_connected"))
    sim.faults.stall = True
    mark = col.mark()
    await col.wait_for(is_event("device_stale"), after=mark)
    await col.wait_for(is_event("device_disconnected"), after=mark)
    assert col.driver.status.bad_frames == 0  # silence is no reply, not a bad frame
    sim.faults.stall = False
    await col.wait_for(is_event("device_connected"), after=col.mark(), timeout=8)


async def test_slow_answers_within_timeout_still_work(tcp_bed: Any) -> None:
    sim, _, col = tcp_bed
    await col.wait_for(is_event("device_connected"))
    sim.faults.slow_s = 0.2
    mark = col.mark()
    for _ in range(3):
        mark = col.items.index(await col.wait_for(is_obs("MDC_FLOW_FLUID_PUMP"), after=mark)) + 1
    assert not any(is_event("device_disconnected")(i) for i in col.items)
    assert col.driver.status.bad_frames == 0  # late but whole: not a bad frame


async def bad_answers_are_counted_and_survived(
    bed: tuple[PumpSimulator, VirtualClock, Collector],
    fault: str,
    caplog: pytest.LogCaptureFixture,
    polls: int = 3,
) -> None:
    """`polls` polls answered under `fault`: each is one bad frame, counted and logged once by
    us (pymodbus stays quiet), the session survives them, and the first poll after the fault
    clears brings valid data again."""
    caplog.set_level(logging.DEBUG)
    sim, clock, col = bed
    await col.wait_for(is_obs("MDC_FLOW_FLUID_PUMP", 150.0))  # the poll made at connect
    status = col.driver.status
    good = status.frames
    setattr(sim.faults, fault, True)
    for n in range(1, polls + 1):
        await clock.advance(1.0)  # one poll, answered under the fault
        await bad_frames_reach(col.driver, n)
        assert status.bad_frames == n  # one per poll: pymodbus dropped it, we counted it
    setattr(sim.faults, fault, False)
    mark = col.mark()
    await clock.advance(1.0)
    await col.wait_for(is_obs("MDC_FLOW_FLUID_PUMP", 150.0), after=mark)
    assert status.bad_frames == polls
    assert status.frames == good + 1
    assert status.state is ConnectionState.CONNECTED and status.reconnects == 0
    assert not any(is_event("device_disconnected")(i) for i in col.items)
    logged = [r for r in caplog.records if "bad frame" in r.getMessage()]
    # counted every time, logged once: one line per kind of bad frame a minute
    assert [r.levelno for r in logged] == [logging.WARNING]
    assert not [r for r in caplog.records if r.name.startswith("pymodbus")]
    assert not [r for r in caplog.records if r.exc_info]


async def test_corrupt_frames_are_counted_and_survived(
    virtual_tcp_bed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await bad_answers_are_counted_and_survived(virtual_tcp_bed, "corrupt_checksum", caplog)


async def test_garbage_before_answers_is_survived(
    virtual_tcp_bed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await bad_answers_are_counted_and_survived(virtual_tcp_bed, "garbage", caplog)


async def test_nothing_listening_never_connects() -> None:
    col = Collector(make_driver("tcp", "127.0.0.1:9"))
    await wait_until(lambda: col.driver.status.last_error is not None)
    await col.close()
    assert not any(is_event("device_connected")(i) for i in col.items)
    assert col.driver.status.state is ConnectionState.DISCONNECTED
    assert "127.0.0.1:9" in (col.driver.status.last_error or "")


async def test_rtu_over_a_pty_null_modem(vclock: VirtualClock) -> None:
    state = PumpState(role="vasopressor", drug="norepinephrine", concentration_ug_ml=40.0)
    state.start(rate_ml_h=15.0)  # 15 mL/h × 40 ug/mL / 60 = 10 ug/min
    async with pty_null_modem() as (sim_path, driver_path):
        sim = PumpSimulator({3: state}, vclock)
        # Linux ptys refuse a second tcsetattr with PARENB (EINVAL), so the pty link runs 8N1.
        await sim.serve_rtu(sim_path, baudrate=19200, parity="N")
        col = Collector(
            virtual_driver(
                "rtu",
                driver_path,
                vclock,
                unit=3,
                role="vasopressor",
                serial_settings=SerialSettings(parity="N"),
            )
        )
        try:
            ev = await col.wait_for(is_event("device_connected"))
            assert isinstance(ev, DeviceEvent) and ev.fields["drug"] == "norepinephrine"
            obs = await col.wait_for(is_obs("IAEW_DOSE_NOREPINEPHRINE"))
            assert isinstance(obs, Observation) and obs.value == 10.0 and obs.unit == "ug/min"
            status = col.driver.status
            sim.faults.corrupt_checksum = True
            await vclock.advance(1.0)  # one poll, answered with a broken CRC
            await bad_frames_reach(col.driver, 1)
            sim.faults.corrupt_checksum = False
            mark = col.mark()
            await vclock.advance(1.0)
            await col.wait_for(is_obs("IAEW_DOSE_NOREPINEPHRINE", 10.0), after=mark)
            assert status.bad_frames == 1 and status.state is ConnectionState.CONNECTED
        finally:
            await col.close()
            await sim.close()


async def test_third_party_client_reads_the_documented_registers() -> None:
    """pymodbus's own client, not our driver, reads the map documented in the profile."""
    state = PumpState(vtbi_ml=100.0)
    state.start(rate_ml_h=150.0)
    state.volume_infused_ml = 12.34
    sim = PumpSimulator({1: state}, CLOCK)
    port = await sim.serve_tcp("127.0.0.1", 0)
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    try:
        assert await client.connect()
        rr = await client.read_holding_registers(0, count=8, device_id=1)
        assert not rr.isError()
        # rate 150.0 mL/h ×10, VTBI 100.0 ×10, infused 12.3 ×10, state running=1, no alarms
        assert rr.registers == [0, 1500, 0, 1000, 0, 123, 1, 0]
        bad = await client.read_holding_registers(30, count=2, device_id=1)
        assert bad.isError()  # outside the block: illegal data address
        missing = await client.read_holding_registers(0, count=2, device_id=9)
        assert missing.isError()  # no pump at unit 9: the gateway says so
        assert missing.exception_code == ExcCodes.GATEWAY_NO_RESPONSE
        written = await client.write_register(0, 5, device_id=1)
        assert written.isError()  # a monitoring gateway is read-only
        assert written.exception_code == ExcCodes.ILLEGAL_FUNCTION
        inputs = await client.read_input_registers(0, count=2, device_id=1)
        assert inputs.isError()  # the profile maps holding registers only
    finally:
        client.close()
        await sim.close()


def test_a_missing_value_is_an_unavailable_observation() -> None:
    """A reading without a value becomes an observation with status UNAVAILABLE (the type, not
    a string) that every writer of observations can serialise."""
    driver = make_driver("tcp", "127.0.0.1:502")
    out = driver._outputs(PumpReading(state="stopped", vtbi_ml=50.0))
    (rate,) = [o for o in out if is_obs("MDC_FLOW_FLUID_PUMP")(o)]
    assert isinstance(rate, Observation)
    assert rate.value is None and rate.status is ValueStatus.UNAVAILABLE
    record = to_record(rate)
    assert record["value"] is None and record["status"] == "unavailable"
    assert parse_record(dump_record(rate)) == rate
