"""A whole simulated bed: the scaled clock, devices on real sockets and ptys, progress lines."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import RealClock, VirtualClock
from core.model import Observation
from drivers.modbus.driver import ModbusPumpDriver
from drivers.modbus.profile import load_profile
from simulators.bed import ScaledClock, SimulatedBed, parse_hostport
from simulators.scenario import SCENARIO_DIR, load_scenario

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def test_scaled_clock_runs_speed_times_its_base() -> None:
    base = VirtualClock(T0)
    clock = ScaledClock(60, base=base)
    assert clock.now() == T0 and clock.monotonic() == 0
    await base.advance(2)
    assert clock.now() == T0 + timedelta(minutes=2)
    assert clock.monotonic() == 120
    sleeper = asyncio.create_task(clock.sleep(600))  # 10 s on the base
    await base.advance(9.9)
    assert not sleeper.done()
    await base.advance(0.1)
    assert sleeper.done()
    with pytest.raises(ValueError):
        ScaledClock(0)


async def test_scaled_clock_on_real_time_is_fast() -> None:
    clock = ScaledClock(1000, start=T0)
    await clock.sleep(50)  # 50 ms real
    assert clock.now() - T0 >= timedelta(seconds=50)
    assert clock.now() - T0 < timedelta(seconds=5000)
    assert RealClock().now().tzinfo is not None


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:502", ("::1", 502)), ("h:65535", ("h", 65535))],
)
def test_parse_hostport(text: str, parsed: tuple[str, int]) -> None:
    assert parse_hostport(text) == parsed


@pytest.mark.parametrize("bad", ["localhost", ":80", "h:x", "h:70000"])
def test_parse_hostport_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_hostport(bad)


async def _read_dose(port: int, unit: int) -> Observation:
    driver = ModbusPumpDriver(
        bed="ICU-1",
        device_id="pump-ne",
        clock=RealClock(),
        profile=load_profile(),
        transport="tcp",
        address=f"127.0.0.1:{port}",
        unit=unit,
        role="vasopressor",
        poll_interval=0.1,
    )
    stream = driver.stream()
    assert isinstance(stream, AsyncGenerator)  # so it can be closed
    try:
        async with asyncio.timeout(5):
            async for item in stream:
                if isinstance(item, Observation) and item.code == "IAEW_DOSE_NOREPINEPHRINE":
                    return item
    finally:
        await stream.aclose()
    raise AssertionError("no dose")


async def test_bed_serves_every_device_on_tcp_from_one_patient() -> None:
    scenario = load_scenario(SCENARIO_DIR / "vasopressor_escalation.yaml")
    lines: list[str] = []
    clock = ScaledClock(600, start=T0)
    async with SimulatedBed(scenario, clock, start_at=-2, out=lines.append) as bed:
        addresses = await bed.start()
        assert [a.device for a in addresses] == ["monitor", "ventilator", "pump"]
        assert bed.pump_units == {1: "study", 2: "norepi"}
        assert "unit 2 = norepi" in str(addresses[2])
        for addr in addresses:
            host, port = parse_hostport(addr.address)
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            await writer.wait_closed()
        runner = asyncio.create_task(bed.run(tick=5))
        try:
            dose = await _read_dose(parse_hostport(addresses[2].address)[1], unit=2)
            # 3.75 mL/h reads as 3.8 at the register's 0.1 mL/h resolution
            assert dose.value == pytest.approx(4, abs=0.1) and dose.unit == "ug/min"
            async with asyncio.timeout(5):
                while not any("infusion_start" in line for line in lines):
                    await asyncio.sleep(0.02)
            # pump volumes move with the bed's clock even when nobody reads vitals
            async with asyncio.timeout(5):
                while bed.model.pumps["study"].volume_infused_ml < 1:
                    await asyncio.sleep(0.02)
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
    assert any("+00s infusion_start pump=study" in line for line in lines)
    assert any("event infusion_start (pump:study)" in line for line in lines)


async def test_bed_serves_on_ptys() -> None:
    scenario = load_scenario(SCENARIO_DIR / "cardiac_arrest.yaml")
    async with SimulatedBed(scenario, ScaledClock(1, start=T0)) as bed:
        addresses = await bed.start(pty=True)
        assert [a.transport for a in addresses] == ["pty", "pty", "rtu-pty"]
        for a in addresses:
            assert os.path.exists(a.address), a
        # the norepinephrine pump the timeline adds at +10h06m has its unit from the start
        assert bed.pump_units == {1: "study", 2: "norepi"}
        assert bed.model.pumps["norepi"].drug is None


async def test_scenario_steps_add_the_idle_pump_in_place() -> None:
    scenario = load_scenario(SCENARIO_DIR / "cardiac_arrest.yaml")
    clock = VirtualClock(T0)
    bed = SimulatedBed(scenario, clock, start_at=10 * 3600 + 6 * 60 - 1)
    served = bed.model.pumps["norepi"]
    bed.runner.apply_until(clock.now() + timedelta(seconds=1))
    assert bed.model.pumps["norepi"] is served
    assert served.drug == "norepinephrine" and served.running
    assert bed.model.doses()["IAEW_DOSE_NOREPINEPHRINE"] == pytest.approx(10)


async def test_hl7_sender_connects_to_the_given_listener() -> None:
    received = bytearray()
    got = asyncio.Event()

    async def listener(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(4096)
        received.extend(data)
        got.set()
        writer.close()

    server = await asyncio.start_server(listener, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    scenario = load_scenario(SCENARIO_DIR / "quiet_control.yaml")
    try:
        async with SimulatedBed(scenario, ScaledClock(1, start=T0)) as bed:
            (addr,) = await bed.start(["hl7"], hl7_to=("127.0.0.1", port))
            assert addr.transport == "hl7-client" and addr.address == f"127.0.0.1:{port}"
            async with asyncio.timeout(5):
                await got.wait()
    finally:
        server.close()
        await server.wait_closed()
    assert received.startswith(b"\x0bMSH|")  # an MLLP block with an HL7 message


async def test_hl7_needs_a_listener_and_unknown_devices_are_refused() -> None:
    scenario = load_scenario(SCENARIO_DIR / "quiet_control.yaml")
    async with SimulatedBed(scenario, ScaledClock(1, start=T0)) as bed:
        with pytest.raises(ValueError, match="listener"):
            await bed.start(["hl7"])
        with pytest.raises(ValueError, match="unknown device"):
            await bed.start(["toaster"])


@pytest.mark.parametrize("start_at", [20 * 60, 60 * 60])
def test_started_part_way_the_pump_counters_hold_the_history(start_at: int) -> None:
    """`simulate --from +20m`: the study pump (133 mL/h from +0) has infused 44.3 mL, not 0;
    from +1h it has finished its 100 mL and raised end of infusion."""
    scenario = load_scenario(SCENARIO_DIR / "fever.yaml")
    clock = VirtualClock(T0)
    bed = SimulatedBed(scenario, clock, start_at=start_at)
    bed.runner.apply_until(clock.now())
    study = bed.model.pumps["study"]
    assert study.volume_infused_ml == pytest.approx(min(100.0, 133.0 * start_at / 3600.0))
    assert study.running is (start_at < 100 / 133 * 3600)
    assert ("end_of_infusion" in study.alarms) is (start_at > 100 / 133 * 3600)
    clock.set(T0 + timedelta(seconds=60))  # from here on the model advances it, once
    bed.model.sync()
    if study.running:
        assert study.volume_infused_ml == pytest.approx(133.0 * (start_at + 60) / 3600.0)


async def test_speed_does_not_shorten_link_timeouts() -> None:
    from simulators.intellivue_monitor import IntellivueSimulator
    from simulators.ventilator import VentilatorSimulator

    scenario = load_scenario(SCENARIO_DIR / "vasopressor_escalation.yaml")
    async with SimulatedBed(scenario, ScaledClock(10, start=T0)) as bed:
        await bed.start(["monitor", "ventilator"])
        monitor, vent = bed._sims
        assert isinstance(monitor, IntellivueSimulator) and isinstance(vent, VentilatorSimulator)
        real = (monitor.silence_timeout / 10, vent.link_timeout / 10)  # real seconds at 10×
        async with SimulatedBed(scenario, ScaledClock(1, start=T0)) as plain:
            await plain.start(["monitor", "ventilator"])
            m1, v1 = plain._sims
            assert isinstance(m1, IntellivueSimulator) and isinstance(v1, VentilatorSimulator)
            assert real == (m1.silence_timeout, v1.link_timeout)
