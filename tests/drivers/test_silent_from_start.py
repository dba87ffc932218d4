"""A device with no valid data since the driver started raises the event a dropped device gives.

MEDIBUS, IntelliVue and HL7 over the in-memory link on the virtual clock, each unreachable,
silent and sending only garbage from the start: nothing before `stale_after`, then exactly one
`device_disconnected` ("no data since start"), at `stale_after` exactly, and no other; the
device's `device_connected` follows once it answers. One run goes through the rules engine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

import pytest

from core.clock import VirtualClock
from core.errors import DeviceUnreachable
from core.model import Alert, Category, DeviceEvent, Phase
from drivers.base import Backoff, ConnectionState, Driver, DriverOutput
from drivers.hl7.listener import Hl7MllpDriver
from drivers.hl7.mllp import frame
from drivers.intellivue.driver import IntellivueDriver
from drivers.medibus.driver import MedibusDriver
from drivers.transport import Link, SerialSettings
from monitors import Stepper, build_engine
from simulators.faults import Faults
from simulators.hl7_sender import Hl7Sender
from simulators.intellivue_monitor import IntellivueSimulator
from simulators.memlink import Handler, MemoryServer, run_for, run_until
from simulators.source import DEFAULT_ADULT_ARDS, FixedVitals
from simulators.ventilator import VentilatorSimulator

pytestmark = pytest.mark.timeout(60)

Mode = Literal["unreachable", "silent", "garbage", "real"]
STALE_S = 3.0
BACKOFF = Backoff(initial=0.2, factor=2.0, cap=1.0, jitter=0.0)
# a frame-shaped lie per protocol: start and end bytes right, the checksum/content wrong
GARBAGE = {
    "medibus": b"\x1b\x24garbage00\r",
    "intellivue": b"\xc0\x11\x01\x00\x04junk\x00\x00\xc1",
}


class Device:
    """The far end of a memory link: unreachable, silent, garbage, or the real simulator."""

    def __init__(self, protocol: str, real: Handler, clock: VirtualClock, mode: Mode) -> None:
        self.protocol = protocol
        self.mode: Mode = mode
        self.real = real
        self.server = MemoryServer(self.serve, clock, name=protocol)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "real":
            await self.real(reader, writer)
            return
        while data := await reader.read(4096):
            if self.mode == "garbage" and data:
                writer.write(GARBAGE[self.protocol])
                await writer.drain()

    async def open_link(self, url: str, settings: SerialSettings | None = None) -> Link:
        if self.mode == "unreachable":
            raise DeviceUnreachable(f"{url}: connection refused")
        return await self.server.open_link(url, settings)


@dataclass
class Run:
    driver: Driver
    clock: VirtualClock
    out: list[DriverOutput] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        async def collect() -> None:
            async for item in self.driver.stream():
                self.out.append(item)

        self.task = asyncio.create_task(collect())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run_until(self.clock, self.task.done, 5.0)
            await asyncio.wait([self.task])

    def events(self, name: str) -> list[DeviceEvent]:
        return [o for o in self.out if isinstance(o, DeviceEvent) and o.event == name]


@contextlib.asynccontextmanager
async def serial_device(protocol: str, mode: Mode) -> AsyncIterator[tuple[Run, Device]]:
    """A MEDIBUS ventilator or an IntelliVue monitor behind a switchable memory link."""
    clock = VirtualClock()
    vitals = FixedVitals(dict(DEFAULT_ADULT_ARDS))
    async with contextlib.AsyncExitStack() as stack:
        driver: Driver
        if protocol == "medibus":
            vent = VentilatorSimulator(vitals, clock, Faults())
            stack.push_async_callback(vent.close)
            device = Device(protocol, vent.serve_connection, clock, mode)
            driver = MedibusDriver(
                bed="ICU-3",
                device_id="vent-3",
                url="mem://vent",
                clock=clock,
                open_link=device.open_link,
                poll_interval=0.2,
                reply_timeout=0.5,
                stale_after=STALE_S,
                backoff=BACKOFF,
            )
        else:
            mon = await stack.enter_async_context(
                IntellivueSimulator(vitals, clock, Faults(), etco2_kpa=True)
            )
            device = Device(protocol, mon.serve_connection, clock, mode)
            driver = IntellivueDriver(
                bed="ICU-3",
                device_id="mp70",
                url="mem://mp70",
                clock=clock,
                open_link=device.open_link,
                reply_timeout=0.5,
                stale_after=STALE_S,
                backoff=BACKOFF,
            )
        stack.push_async_callback(device.server.close)
        run = Run(driver, clock)
        run.start()
        stack.push_async_callback(run.stop)
        yield run, device


async def assert_one_alert_at_stale_limit(run: Run) -> DeviceEvent:
    """Nothing before the stale limit; one `device_disconnected` at it; no second one after."""
    t0 = run.clock.now()
    await run_for(run.clock, STALE_S - 0.05)
    assert run.events("device_disconnected") == []
    await run_for(run.clock, 0.1)
    (event,) = run.events("device_disconnected")
    assert event.t - t0 == timedelta(seconds=STALE_S)
    assert event.fields["reason"].startswith(f"no data since start ({STALE_S:g} s)")
    assert event.fields["device"] == run.driver.device_id
    await run_for(run.clock, 4 * STALE_S)
    assert len(run.events("device_disconnected")) == 1
    assert run.events("device_connected") == []
    assert run.events("device_stale") == []
    return event


@pytest.mark.parametrize("protocol", ["medibus", "intellivue"])
@pytest.mark.parametrize("mode", ["unreachable", "silent", "garbage"])
async def test_serial_device_without_data_since_start(protocol: str, mode: Mode) -> None:
    async with serial_device(protocol, mode) as (run, device):
        event = await assert_one_alert_at_stale_limit(run)
        if mode == "unreachable":
            assert "connection refused" in event.fields["reason"]
        if mode == "garbage" and protocol == "medibus":
            assert run.driver.status.bad_frames > 0
        device.mode = "real"  # the device answers at last: its connect ends the outage
        await run_until(run.clock, lambda: bool(run.events("device_connected")), 10.0)
        assert run.driver.status.state is ConnectionState.CONNECTED
        assert len(run.events("device_disconnected")) == 1


async def test_a_device_answering_in_time_raises_nothing() -> None:
    async with serial_device("medibus", "real") as (run, _):
        await run_for(run.clock, 4 * STALE_S)
        assert run.events("device_connected")
        assert run.events("device_disconnected") == []


async def test_the_alert_starts_and_ends_in_the_rules_engine() -> None:
    """The driver's events through the engine the service runs: a technical alert for the
    silent ventilator, ended by its `device_connected`."""
    async with serial_device("medibus", "silent") as (run, device):
        await assert_one_alert_at_stale_limit(run)
        device.mode = "real"
        await run_until(run.clock, lambda: bool(run.events("device_connected")), 10.0)
    stepper = Stepper(build_engine())
    alerts: list[Alert] = []
    for item in run.out:
        alerts += stepper.feed(item)
    technical = [a for a in alerts if a.rule == "device_disconnected"]
    assert [a.phase for a in technical] == [Phase.START, Phase.END]
    assert technical[0].category is Category.TECHNICAL and technical[0].bed == "ICU-3"
    assert technical[0].t == run.events("device_disconnected")[0].t
    assert technical[1].t == run.events("device_connected")[0].t


# -- HL7: the listener's "device" is the central station that should connect to it ------------
async def _hl7_sender(link: MemoryServer, clock: VirtualClock, mode: Mode) -> None:
    if mode == "unreachable":
        return  # nobody ever connects
    _, writer = await link.connect()  # the listener's answers are not read
    while True:
        if mode == "garbage":
            writer.write(frame(b"this is no HL7 message"))
            await writer.drain()
        await clock.sleep(0.5)


@pytest.mark.parametrize("mode", ["unreachable", "silent", "garbage"])
async def test_hl7_listener_without_data_since_start(mode: Mode) -> None:
    clock = VirtualClock()
    driver = Hl7MllpDriver(
        bed_map={"ICU^^3": "ICU-3"}, clock=clock, listen=None, stale_after=STALE_S, backoff=BACKOFF
    )
    link = MemoryServer(driver.serve_connection, clock, name="hl7")
    run = Run(driver, clock)
    run.start()
    sender = asyncio.create_task(_hl7_sender(link, clock, mode))
    try:
        event = await assert_one_alert_at_stale_limit(run)
        assert event.bed == "*"
        if mode == "garbage":
            assert driver.status.bad_frames > 0
        real = Hl7Sender(FixedVitals({"MDC_PULS_OXIM_SAT_O2": 95.0}), clock, "ICU^^3", interval=0.5)
        live = asyncio.create_task(real.run_over(link.connect))
        await run_until(clock, lambda: bool(run.events("device_connected")), 10.0)
        live.cancel()
        assert len(run.events("device_disconnected")) == 1
    finally:
        sender.cancel()
        await run.stop()
        await driver.aclose()
        await link.close()
