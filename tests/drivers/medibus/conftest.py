"""A MEDIBUS driver wired to the ventilator simulator over a real TCP socket or pty."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from core.clock import Clock, RealClock
from core.model import DeviceEvent
from drivers.base import Backoff, DriverOutput
from drivers.medibus.driver import MedibusDriver
from drivers.transport import SerialSettings
from simulators.faults import Faults
from simulators.source import DEFAULT_ADULT_ARDS, FixedVitals
from simulators.ventilator import VentilatorSimulator

Kind = Literal["tcp", "pty"]


@dataclass
class Harness:
    sim: VentilatorSimulator
    vitals: FixedVitals
    faults: Faults
    driver: MedibusDriver
    items: list[DriverOutput] = field(default_factory=list)
    queue: asyncio.Queue[DriverOutput] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._pump(), name="medibus driver under test")

    async def _pump(self) -> None:
        async for item in self.driver.stream():
            self.items.append(item)
            self.queue.put_nowait(item)

    async def next(self, pred: Callable[[DriverOutput], bool], timeout: float = 3.0) -> Any:
        """The next item (from now on) matching `pred`; fails the test after `timeout` s."""

        async def find() -> DriverOutput:
            while True:
                item = await self.queue.get()
                if pred(item):
                    return item

        return await asyncio.wait_for(find(), timeout)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.wait([self.task])
            self.task = None

    async def until(self, cond: Callable[[], bool], timeout: float = 3.0) -> None:
        """Wait (real time) until `cond()` holds; fails the test after `timeout` s."""

        async def poll() -> None:
            while not cond():
                await asyncio.sleep(0.01)

        await asyncio.wait_for(poll(), timeout)

    def events(self, name: str) -> list[DeviceEvent]:
        return [i for i in self.items if isinstance(i, DeviceEvent) and i.event == name]


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness() -> AsyncIterator[MakeHarness]:
    made: list[Harness] = []

    async def make(
        kind: Kind = "tcp",
        *,
        clock: Clock | None = None,
        sim_kw: dict[str, Any] | None = None,
        sim_cls: type[VentilatorSimulator] = VentilatorSimulator,
        start: bool = True,
        **driver_kw: Any,
    ) -> Harness:
        clock = clock or RealClock()
        vitals = FixedVitals(dict(DEFAULT_ADULT_ARDS))
        faults = Faults()
        sim = sim_cls(vitals, clock, faults, **(sim_kw or {}))
        if kind == "tcp":
            await sim.serve_tcp("127.0.0.1", 0)
            url = f"127.0.0.1:{sim.port}"
        else:
            url = await sim.serve_pty()
        kw: dict[str, Any] = {
            "poll_interval": 0.2,
            "reply_timeout": 0.5,
            "stale_after": 3.0,
            "backoff": Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.0),
            # a pty does not emulate parity (Linux refuses PARENB on it)
            "serial_settings": SerialSettings(baudrate=19200, parity="N"),
        }
        kw.update(driver_kw)
        driver = MedibusDriver(bed="ICU-3", device_id="vent-3", url=url, clock=clock, **kw)
        h = Harness(sim=sim, vitals=vitals, faults=faults, driver=driver)
        made.append(h)
        if start:
            h.start()
        return h

    yield make
    for h in made:
        await h.stop()
        await h.sim.close()
