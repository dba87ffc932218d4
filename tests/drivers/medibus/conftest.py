"""A MEDIBUS driver wired to the ventilator simulator.

`kind="mem"` (the default): an in-memory link on a `VirtualClock`, where waits advance virtual
time and every run is the same. `kind="tcp"` / `"pty"`: a real socket or pseudo-terminal on the
real clock, for the few end-to-end tests of the transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from core.clock import Clock, RealClock, VirtualClock
from core.model import DeviceEvent
from drivers.base import Backoff, DriverOutput
from drivers.medibus.driver import MedibusDriver
from drivers.transport import Link, Opener, SerialSettings, open_link
from simulators.faults import Faults
from simulators.memlink import MemoryServer, run_for, run_until
from simulators.source import DEFAULT_ADULT_ARDS, FixedVitals
from simulators.ventilator import VentilatorSimulator

Kind = Literal["mem", "tcp", "pty"]


class CountingOpener:
    """Wraps a link opener, counting the driver's connection attempts."""

    def __init__(self, inner: Opener) -> None:
        self.inner = inner
        self.calls = 0

    async def __call__(self, url: str, settings: SerialSettings | None) -> Link:
        self.calls += 1
        return await self.inner(url, settings)


@dataclass
class Harness:
    sim: VentilatorSimulator
    vitals: FixedVitals
    faults: Faults
    driver: MedibusDriver
    clock: Clock
    opener: CountingOpener
    link: MemoryServer | None = None
    items: list[DriverOutput] = field(default_factory=list)
    queue: asyncio.Queue[DriverOutput] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._pump(), name="medibus driver under test")

    async def _pump(self) -> None:
        async for item in self.driver.stream():
            self.items.append(item)
            self.queue.put_nowait(item)

    async def advance(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass (memory links only)."""
        assert isinstance(self.clock, VirtualClock), "advance() needs the virtual clock"
        await run_for(self.clock, seconds)

    async def until(self, cond: Callable[[], bool], timeout: float = 3.0) -> None:
        """Wait until `cond()` holds; fails the test after `timeout` s (virtual on a memory
        link, real otherwise)."""
        if isinstance(self.clock, VirtualClock):
            await run_until(self.clock, cond, timeout)
            return

        async def poll() -> None:
            while not cond():
                await asyncio.sleep(0.01)

        await asyncio.wait_for(poll(), timeout)

    async def next(self, pred: Callable[[DriverOutput], bool], timeout: float = 3.0) -> Any:
        """The next item (from now on) matching `pred`; fails the test after `timeout` s."""

        async def find() -> DriverOutput:
            while True:
                item = await self.queue.get()
                if pred(item):
                    return item

        task = asyncio.ensure_future(find())
        try:
            await self.until(task.done, timeout)
        finally:
            task.cancel()
        return task.result()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            if isinstance(self.clock, VirtualClock):  # the driver says STOP, on the clock
                await self.until(self.task.done, timeout=5.0)
            await asyncio.wait([self.task])
            self.task = None

    def events(self, name: str) -> list[DeviceEvent]:
        return [i for i in self.items if isinstance(i, DeviceEvent) and i.event == name]


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness() -> AsyncIterator[MakeHarness]:
    made: list[Harness] = []

    async def make(
        kind: Kind = "mem",
        *,
        sim_kw: dict[str, Any] | None = None,
        sim_cls: type[VentilatorSimulator] = VentilatorSimulator,
        start: bool = True,
        seed: int = 0,
        **driver_kw: Any,
    ) -> Harness:
        clock: Clock = VirtualClock() if kind == "mem" else RealClock()
        vitals = FixedVitals(dict(DEFAULT_ADULT_ARDS))
        faults = Faults()
        sim = sim_cls(vitals, clock, faults, **(sim_kw or {}))
        link = None
        opener = CountingOpener(open_link)
        if kind == "mem":
            link = MemoryServer(sim.serve_connection, clock, seed=seed, name="ventilator")
            opener = CountingOpener(link.open_link)
            url = "mem://ventilator"
        elif kind == "tcp":
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
        driver = MedibusDriver(
            bed="ICU-3", device_id="vent-3", url=url, clock=clock, open_link=opener, **kw
        )
        h = Harness(sim, vitals, faults, driver, clock, opener, link)
        made.append(h)
        if start:
            h.start()
        return h

    yield make
    for h in made:
        await h.stop()
        if h.link is not None:
            await h.link.close()
        await h.sim.close()
