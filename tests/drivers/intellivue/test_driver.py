"""IntellivueDriver against IntellivueSimulator over real TCP sockets and pseudo-terminals."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from core.clock import RealClock
from core.errors import NoReply, ProtocolError
from core.model import DeviceEvent, Observation
from drivers.base import Backoff, DriverOutput
from drivers.intellivue.driver import IntellivueDriver
from drivers.intellivue.values import AlarmEntry
from simulators.faults import Faults
from simulators.intellivue_monitor import IntellivueSimulator
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
        async with asyncio.timeout(timeout):
            while not pred(self.items):
                self._changed.clear()
                # counters (bad frames, simulator stats) change without a yielded item
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.05)

    def events(self, name: str) -> list[DeviceEvent]:
        return [i for i in self.items if isinstance(i, DeviceEvent) and i.event == name]

    def observations(self, code: str | None = None) -> list[Observation]:
        return [i for i in self.items if isinstance(i, Observation) and code in (None, i.code)]

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


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
async def sim(vitals: FixedVitals, faults: Faults) -> AsyncIterator[IntellivueSimulator]:
    async with IntellivueSimulator(vitals, RealClock(), faults, etco2_kpa=True) as s:
        yield s


def make_driver(url: str, **kw: float) -> IntellivueDriver:
    return IntellivueDriver(
        bed="ICU-3",
        device_id="mp70",
        url=url,
        clock=RealClock(),
        backoff=Backoff(initial=0.05, cap=0.2),
        stale_after=kw.pop("stale_after", 3.0),
        reply_timeout=kw.pop("reply_timeout", 1.0),
    )


@pytest.fixture
async def tcp_run(sim: IntellivueSimulator) -> AsyncIterator[Run]:
    port = await sim.serve_tcp("127.0.0.1", 0)
    run = Run(make_driver(f"tcp://127.0.0.1:{port}"))
    yield run
    await run.stop()


async def test_numerics_in_our_units_and_vt_once(
    tcp_run: Run, sim: IntellivueSimulator, vitals: FixedVitals
) -> None:
    await tcp_run.until(lambda items: len(tcp_run.observations("MDC_AWAY_CO2_ET")) >= 1)
    connected = tcp_run.events("device_connected")[0]
    assert connected.fields["model"] == "Philips MP70"
    assert connected.fields["mds"] == "00:09:fb:5a:1c:3e"
    by_code = {o.code: o for o in tcp_run.observations()}
    assert (
        by_code["MDC_PULS_OXIM_SAT_O2"].value == 93 and by_code["MDC_PULS_OXIM_SAT_O2"].unit == "%"
    )
    assert by_code["MDC_ECG_HEART_RATE"].unit == "/min"
    assert by_code["MDC_PRESS_BLD_ART_MEAN"].value == 80
    assert by_code["MDC_PRESS_BLD_ART_MEAN"].unit == "mm[Hg]"
    assert by_code["MDC_TEMP_BLD"].value == pytest.approx(37.2)
    assert by_code["MDC_AWAY_CO2_ET"].unit == "mm[Hg]"  # sent in kPa
    assert by_code["MDC_AWAY_CO2_ET"].value == pytest.approx(42.0, abs=0.1)
    assert all(o.usable for o in tcp_run.observations())
    vitals.rhythms = ["VT"]
    await tcp_run.until(count("arrhythmia"))
    answered = sim.stats.polls_answered
    await tcp_run.until(lambda _: sim.stats.polls_answered >= answered + 4)  # two more polls
    arrhythmias = tcp_run.events("arrhythmia")
    assert len(arrhythmias) == 1
    assert arrhythmias[0].fields["rhythm"] == "VT"
    assert arrhythmias[0].fields["priority"] == "high"
    assert sim.stats.polls_dropped == 0
    assert tcp_run.driver.status.bad_frames == 0


async def test_pty_link(vitals: FixedVitals, faults: Faults) -> None:
    vitals.rhythms = ["VF"]
    async with IntellivueSimulator(vitals, RealClock(), faults) as sim:
        path = await sim.serve_pty()
        run = Run(make_driver(path))
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


async def test_drop_disconnects_then_reconnects(tcp_run: Run, faults: Faults) -> None:
    await tcp_run.until(count("device_connected"))
    faults.drop = True
    await tcp_run.until(count("device_disconnected"))
    faults.clear()
    await tcp_run.until(obs_after("device_connected", 2))
    assert tcp_run.driver.status.reconnects >= 1


async def test_stall_goes_stale_then_reconnects(tcp_run: Run, faults: Faults) -> None:
    await tcp_run.until(lambda _: len(tcp_run.observations()) > 0)
    faults.stall = True
    await tcp_run.until(count("device_disconnected"))
    stale = tcp_run.events("device_stale")
    assert stale and stale[0].fields["seconds"] >= 3.0
    faults.clear()
    await tcp_run.until(obs_after("device_connected", 2))


async def test_corrupt_fcs_is_counted_not_fatal(tcp_run: Run, faults: Faults) -> None:
    await tcp_run.until(lambda _: len(tcp_run.observations()) > 0)
    faults.corrupt_checksum = True
    await tcp_run.until(lambda _: tcp_run.driver.status.bad_frames >= 2)
    faults.clear()
    n = len(tcp_run.observations())
    await tcp_run.until(lambda _: len(tcp_run.observations()) > n)
    assert not tcp_run.events("device_disconnected")


async def test_garbage_resyncs(tcp_run: Run, faults: Faults) -> None:
    faults.garbage = True
    await tcp_run.until(lambda _: len(tcp_run.observations("MDC_ECG_HEART_RATE")) >= 2)
    assert tcp_run.driver.status.bad_frames >= 1
    assert tcp_run.events("device_connected")


async def test_slow_answers_within_timeout(tcp_run: Run, faults: Faults) -> None:
    faults.slow_s = 0.3
    await tcp_run.until(lambda _: len(tcp_run.observations("MDC_ECG_HEART_RATE")) >= 2)
    assert not tcp_run.events("device_disconnected")


async def test_watch_off_and_device_alarm(
    tcp_run: Run, sim: IntellivueSimulator, vitals: FixedVitals
) -> None:
    del vitals.values["MDC_ECG_HEART_RATE"]  # no ECG: pulse is the heart-rate source
    sim.technical_alarms = [
        AlarmEntry(patient=False, source=0x4BB8, code=0x0CAE, type=0x0002, state=0, text="Desat")
    ]
    await tcp_run.until(count("arrhythmia_watch_off"))
    await tcp_run.until(count("device_alarm"))
    assert tcp_run.events("arrhythmia_watch_off")[0].fields["reason"] == "hr_source_pulse"
    alarm = tcp_run.events("device_alarm")[0]
    assert alarm.fields["phase"] == "start" and alarm.fields["text"] == "Desat"


async def test_refused_association_raises(sim: IntellivueSimulator) -> None:
    sim.refuse = True
    port = await sim.serve_tcp()
    driver = make_driver(f"127.0.0.1:{port}")
    with pytest.raises(ProtocolError, match="refused"):
        async for _ in driver._session():
            pass


async def test_missing_reply_raises_no_reply(sim: IntellivueSimulator, faults: Faults) -> None:
    faults.stall = True
    port = await sim.serve_tcp()
    driver = make_driver(f"127.0.0.1:{port}", reply_timeout=0.3)
    with pytest.raises(NoReply):
        async for _ in driver._session():
            pass


def test_poll_interval_is_bounded() -> None:
    with pytest.raises(ValueError):
        IntellivueDriver(bed="b", device_id="d", url="x:1", clock=RealClock(), poll_interval=0.5)
