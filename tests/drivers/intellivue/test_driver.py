"""IntellivueDriver against IntellivueSimulator.

Behaviour is tested over the in-memory link on the virtual clock; one test runs end to end over
real TCP and one over a pseudo-terminal, on the real clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import Clock, RealClock, VirtualClock
from core.errors import NoReply, ProtocolError
from core.model import DeviceEvent, Observation
from drivers.base import Backoff, DriverOutput
from drivers.intellivue.driver import IntellivueDriver
from drivers.intellivue.values import AlarmEntry
from drivers.transport import Opener, open_link
from simulators.faults import Faults
from simulators.intellivue_monitor import IntellivueSimulator
from simulators.memlink import MemoryServer, run_for, run_until
from simulators.source import DEFAULT_ADULT_ARDS, FixedVitals

pytestmark = pytest.mark.timeout(30)


class Run:
    """A driver's stream consumed in the background, with waits on what it yielded."""

    def __init__(self, driver: IntellivueDriver) -> None:
        self.driver = driver
        self.items: list[DriverOutput] = []
        self._changed = asyncio.Event()
        self._task = asyncio.ensure_future(self._consume())

    async def _consume(self) -> None:
        async for item in self.driver.stream():
            self.items.append(item)
            self._changed.set()

    async def until(self, pred: Callable[[list[DriverOutput]], bool], timeout: float = 8) -> None:
        """Wait until `pred(items)`; `timeout` is virtual seconds on a virtual clock."""
        await wait_until(self.driver.clock, lambda: pred(self.items), timeout)

    @property
    def alive(self) -> bool:
        return not self._task.done()

    def events(self, name: str) -> list[DeviceEvent]:
        return [i for i in self.items if isinstance(i, DeviceEvent) and i.event == name]

    def observations(self, code: str | None = None) -> list[Observation]:
        return [i for i in self.items if isinstance(i, Observation) and code in (None, i.code)]

    async def stop(self) -> None:
        self._task.cancel()
        # the driver sends a release on the clock before closing
        await wait_until(self.driver.clock, self._task.done, 5)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def wait_until(clock: Clock, cond: Callable[[], bool], timeout: float) -> None:
    if isinstance(clock, VirtualClock):
        await run_until(clock, cond, timeout)
        return
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


def count(name: str, n: int = 1) -> Callable[[list[DriverOutput]], bool]:
    return lambda items: sum(isinstance(i, DeviceEvent) and i.event == name for i in items) >= n


def obs_after(name: str, n: int = 1) -> Callable[[list[DriverOutput]], bool]:
    """At least one observation after the n-th event `name`."""

    def pred(items: list[DriverOutput]) -> bool:
        seen = 0
        for item in items:
            if isinstance(item, DeviceEvent) and item.event == name:
                seen += 1
            elif seen >= n and isinstance(item, Observation):
                return True
        return False

    return pred


@pytest.fixture
def vitals() -> FixedVitals:
    return FixedVitals(dict(DEFAULT_ADULT_ARDS))


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def vclock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def sim(
    vitals: FixedVitals, faults: Faults, vclock: VirtualClock
) -> AsyncIterator[IntellivueSimulator]:
    async with IntellivueSimulator(vitals, vclock, faults, etco2_kpa=True) as s:
        yield s


@pytest.fixture
async def link(sim: IntellivueSimulator, vclock: VirtualClock) -> AsyncIterator[MemoryServer]:
    async with MemoryServer(sim.serve_connection, vclock, name="mp70") as server:
        yield server


def make_driver(
    url: str, clock: Clock, opener: Opener = open_link, **kw: float
) -> IntellivueDriver:
    return IntellivueDriver(
        bed="ICU-3",
        device_id="mp70",
        url=url,
        clock=clock,
        backoff=Backoff(initial=0.05, cap=0.2, jitter=0.0),
        stale_after=kw.pop("stale_after", 3.0),
        reply_timeout=kw.pop("reply_timeout", 1.0),
        open_link=opener,
    )


@pytest.fixture
async def mem_run(link: MemoryServer, vclock: VirtualClock) -> AsyncIterator[Run]:
    run = Run(make_driver("mem://mp70", vclock, link.open_link))
    yield run
    await run.stop()


async def session_error(driver: IntellivueDriver) -> BaseException | None:
    """Run one `_session()` to its end (on the driver's clock); what it raised."""

    async def session() -> None:
        async for _ in driver._session():
            pass

    task = asyncio.ensure_future(session())
    await wait_until(driver.clock, task.done, 10)
    return task.exception()


async def test_numerics_in_our_units_and_vt_once(
    mem_run: Run, sim: IntellivueSimulator, vitals: FixedVitals
) -> None:
    await mem_run.until(lambda items: len(mem_run.observations("MDC_AWAY_CO2_ET")) >= 1)
    connected = mem_run.events("device_connected")[0]
    assert connected.fields["model"] == "Philips MP70"
    assert connected.fields["mds"] == ":".join(f"{b:02x}" for b in sim.system_id)
    by_code = {o.code: o for o in mem_run.observations()}
    assert (
        by_code["MDC_PULS_OXIM_SAT_O2"].value == 93 and by_code["MDC_PULS_OXIM_SAT_O2"].unit == "%"
    )
    assert by_code["MDC_ECG_HEART_RATE"].unit == "/min"
    assert by_code["MDC_PRESS_BLD_ART_MEAN"].value == 80
    assert by_code["MDC_PRESS_BLD_ART_MEAN"].unit == "mm[Hg]"
    assert by_code["MDC_TEMP_BLD"].value == pytest.approx(37.2)
    assert by_code["MDC_AWAY_CO2_ET"].unit == "mm[Hg]"  # sent in kPa
    assert by_code["MDC_AWAY_CO2_ET"].value == pytest.approx(42.0, abs=0.1)
    assert all(o.usable for o in mem_run.observations())
    vitals.rhythms = ["VT"]
    await mem_run.until(count("arrhythmia"))
    answered = sim.stats.polls_answered
    await mem_run.until(lambda _: sim.stats.polls_answered >= answered + 4)  # two more polls
    arrhythmias = mem_run.events("arrhythmia")
    assert len(arrhythmias) == 1
    assert arrhythmias[0].fields["rhythm"] == "VT"
    assert arrhythmias[0].fields["priority"] == "high"
    assert sim.stats.polls_dropped == 0
    assert mem_run.driver.status.bad_frames == 0


async def test_tcp_end_to_end(vitals: FixedVitals, faults: Faults) -> None:
    async with IntellivueSimulator(vitals, RealClock(), faults) as sim:
        port = await sim.serve_tcp("127.0.0.1", 0)
        run = Run(make_driver(f"tcp://127.0.0.1:{port}", RealClock()))
        try:
            await run.until(lambda _: len(run.observations("MDC_PULS_OXIM_SAT_O2")) >= 1)
            assert run.events("device_connected")[0].fields["model"] == "Philips MP70"
        finally:
            await run.stop()
        assert sim.stats.associations == 1 and run.driver.status.bad_frames == 0


async def test_pty_link(vitals: FixedVitals, faults: Faults) -> None:
    vitals.rhythms = ["VF"]
    async with IntellivueSimulator(vitals, RealClock(), faults) as sim:
        path = await sim.serve_pty()
        run = Run(make_driver(path, RealClock(), stale_after=2.0))
        try:
            await run.until(count("arrhythmia"))
            await run.until(lambda _: len(run.observations("MDC_PULS_OXIM_SAT_O2")) >= 1)
            assert run.events("arrhythmia")[0].fields["rhythm"] == "VF"
            # a pulled cable: nothing answers, the driver goes stale, then recovers
            faults.drop = True
            await run.until(count("device_disconnected"))
            assert run.events("device_stale")
            faults.clear()
            await run.until(obs_after("device_connected", 2))
        finally:
            await run.stop()
        assert sim.stats.associations >= 2


async def test_drop_disconnects_then_reconnects(mem_run: Run, faults: Faults) -> None:
    await mem_run.until(count("device_connected"))
    faults.drop = True
    await mem_run.until(count("device_disconnected"))
    faults.clear()
    await mem_run.until(obs_after("device_connected", 2))
    assert mem_run.driver.status.reconnects >= 1


async def test_stall_goes_stale_then_reconnects(mem_run: Run, faults: Faults) -> None:
    await mem_run.until(lambda _: len(mem_run.observations()) > 0)
    faults.stall = True
    await mem_run.until(count("device_disconnected"))
    stale = mem_run.events("device_stale")
    assert stale and stale[0].fields["seconds"] >= 3.0
    faults.clear()
    await mem_run.until(obs_after("device_connected", 2))


async def test_corrupt_fcs_is_counted_not_fatal(mem_run: Run, faults: Faults) -> None:
    await mem_run.until(lambda _: len(mem_run.observations()) > 0)
    faults.corrupt_checksum = True
    await mem_run.until(lambda _: mem_run.driver.status.bad_frames >= 2)
    faults.clear()
    n = len(mem_run.observations())
    await mem_run.until(lambda _: len(mem_run.observations()) > n)
    assert not mem_run.events("device_disconnected")


async def test_garbage_resyncs(mem_run: Run, faults: Faults) -> None:
    faults.garbage = True
    await mem_run.until(lambda _: len(mem_run.observations("MDC_ECG_HEART_RATE")) >= 2)
    assert mem_run.driver.status.bad_frames >= 1
    assert mem_run.events("device_connected")


async def test_slow_answers_within_timeout(mem_run: Run, faults: Faults) -> None:
    faults.slow_s = 0.3
    await mem_run.until(lambda _: len(mem_run.observations("MDC_ECG_HEART_RATE")) >= 2)
    assert not mem_run.events("device_disconnected")


async def test_watch_off_and_device_alarm(
    mem_run: Run, sim: IntellivueSimulator, vitals: FixedVitals
) -> None:
    del vitals.values["MDC_ECG_HEART_RATE"]  # no ECG: pulse is the heart-rate source
    sim.technical_alarms = [
        AlarmEntry(patient=False, source=0x4BB8, code=0x0CAE, type=0x0002, state=0, text="Desat")
    ]
    await mem_run.until(count("arrhythmia_watch_off"))
    await mem_run.until(count("device_alarm"))
    assert mem_run.events("arrhythmia_watch_off")[0].fields["reason"] == "hr_source_pulse"
    alarm = mem_run.events("device_alarm")[0]
    assert alarm.fields["phase"] == "start" and alarm.fields["text"] == "Desat"


async def test_refused_association_raises(
    sim: IntellivueSimulator, link: MemoryServer, vclock: VirtualClock
) -> None:
    sim.refuse = True
    error = await session_error(make_driver("mem://mp70", vclock, link.open_link))
    assert isinstance(error, ProtocolError) and "refused" in str(error)


async def test_missing_reply_raises_no_reply(
    faults: Faults, link: MemoryServer, vclock: VirtualClock
) -> None:
    faults.stall = True
    driver = make_driver("mem://mp70", vclock, link.open_link, reply_timeout=0.3)
    t0 = vclock.monotonic()
    assert isinstance(await session_error(driver), NoReply)
    assert vclock.monotonic() - t0 == pytest.approx(0.3, abs=0.02)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    to_host=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    to_monitor=st.sampled_from([0.0, 0.1, 0.5]),
    max_chunk=st.integers(0, 40),
)
async def test_corrupted_bytes_are_counted_and_never_crash_the_driver(
    seed: int, to_host: float, to_monitor: float, max_chunk: int
) -> None:
    """Flipped bits either way: the stream never raises; every corrupted frame from the monitor
    shows in the status (a bad frame, or the missing reply that ended a session); then it
    recovers."""
    clock = VirtualClock()
    sim = IntellivueSimulator(FixedVitals(dict(DEFAULT_ADULT_ARDS)), clock)
    async with sim, MemoryServer(sim.serve_connection, clock, seed=seed) as link:
        link.to_client.flip_rate, link.to_server.flip_rate = to_host, to_monitor
        link.to_client.max_chunk = link.to_server.max_chunk = max_chunk
        run = Run(make_driver("mem://mp70", clock, link.open_link))
        try:
            await run_for(clock, 6.0)
            assert run.alive  # stream() never raises
            link.to_client.clear()
            link.to_server.clear()
            seen = len(run.items)
            await run.until(lambda items: any(isinstance(i, Observation) for i in items[seen:]))
        finally:
            await run.stop()
    status = run.driver.status
    if sum(c.server.stats.flipped for c in link.connections):
        assert status.bad_frames > 0 or status.last_error is not None
    if not to_host and not to_monitor:
        assert status.bad_frames == 0 and status.last_error is None


def test_poll_interval_is_bounded() -> None:
    with pytest.raises(ValueError):
        IntellivueDriver(bed="b", device_id="d", url="x:1", clock=RealClock(), poll_interval=0.5)
