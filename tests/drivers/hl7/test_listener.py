"""Hl7MllpDriver against the HL7 sender simulator, with faults.

Behaviour is tested over the in-memory link on the virtual clock; one test runs end to end over
real TCP on 127.0.0.1, and binding a port in use is a real-socket test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import RealClock, VirtualClock
from core.errors import ConfigError
from core.model import DeviceEvent, Observation
from drivers.base import Backoff, ConnectionState, DriverOutput
from drivers.hl7.listener import Hl7MllpDriver, parse_listen
from drivers.hl7.mllp import frame
from drivers.hl7.pcd_write import build_oru_r01
from simulators.faults import Faults
from simulators.hl7_sender import Hl7Sender
from simulators.memlink import MemoryServer, run_for, run_until
from simulators.source import FixedVitals

BEDS = {"ICU^^3": "ICU-3", "ICU^^4": "ICU-4"}
CLOCK = RealClock()


@dataclass
class Rig:
    driver: Hl7MllpDriver
    link: MemoryServer
    clock: VirtualClock
    out: list[DriverOutput] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def sender(
        self, location: str, vitals: FixedVitals | None = None, faults: Faults | None = None
    ) -> Hl7Sender:
        s = Hl7Sender(
            vitals or FixedVitals({"MDC_PULS_OXIM_SAT_O2": 95.0, "MDC_ECG_HEART_RATE": 88.0}),
            self.clock,
            location,
            faults=faults,
            interval=0.05,
            ack_timeout=1.0,
            reconnect_delay=0.05,
        )
        self.tasks.append(asyncio.create_task(s.run_over(self.link.connect)))
        return s

    def events(self, name: str) -> list[DeviceEvent]:
        return [o for o in self.out if isinstance(o, DeviceEvent) and o.event == name]

    def observations(self, bed: str, code: str) -> list[Observation]:
        return [
            o for o in self.out if isinstance(o, Observation) and o.bed == bed and o.code == code
        ]

    async def until(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `cond()` holds, advancing virtual time; fails after `timeout` virtual s."""
        await run_until(self.clock, cond, timeout)


@contextlib.asynccontextmanager
async def running_rig(seed: int = 0) -> AsyncIterator[Rig]:
    """A listener on a memory link, its stream collected; senders are added by the test."""
    clock = VirtualClock()
    driver = Hl7MllpDriver(
        bed_map=BEDS,
        clock=clock,
        listen=None,
        stale_after=1.0,
        backoff=Backoff(initial=0.1, cap=1.0, jitter=0.0),
    )
    link = MemoryServer(driver.serve_connection, clock, seed=seed, name="hl7")
    r = Rig(driver, link, clock)

    async def collect() -> None:
        async for item in driver.stream():
            r.out.append(item)

    r.tasks.append(asyncio.create_task(collect()))
    yield r
    for t in r.tasks:
        t.cancel()
    for t in r.tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    await driver.aclose()
    await link.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with running_rig() as r:
        yield r


async def test_values_arrive_at_the_right_bed(rig: Rig) -> None:
    rig.sender("ICU^^3", FixedVitals({"MDC_PULS_OXIM_SAT_O2": 91.0, "MDC_TEMP_BLD": 38.4}))
    rig.sender("ICU^^4", FixedVitals({"MDC_PULS_OXIM_SAT_O2": 99.0}))
    await rig.until(
        lambda: (
            bool(rig.observations("ICU-3", "MDC_TEMP"))
            and bool(rig.observations("ICU-4", "MDC_PULS_OXIM_SAT_O2"))
        )
    )
    assert {o.value for o in rig.observations("ICU-3", "MDC_PULS_OXIM_SAT_O2")} == {91.0}
    assert {o.value for o in rig.observations("ICU-4", "MDC_PULS_OXIM_SAT_O2")} == {99.0}
    assert rig.observations("ICU-4", "MDC_TEMP") == []
    (connected,) = rig.events("device_connected")[:1]
    assert connected.bed == "*"
    assert connected.fields["protocol"] == "hl7-mllp"
    assert connected.fields["sending_application"] == "CENTRAL"
    assert connected.fields["peer"].startswith("memory:")
    assert rig.driver.status.state is ConnectionState.CONNECTED
    assert rig.driver.status.bad_frames == 0


async def test_rhythm_alarm_becomes_arrhythmia_at_its_bed(rig: Rig) -> None:
    vitals = FixedVitals({"MDC_ECG_HEART_RATE": 180.0})
    sender = rig.sender("ICU^^4", vitals)
    await rig.until(lambda: bool(rig.observations("ICU-4", "MDC_ECG_HEART_RATE")))
    vitals.rhythms = ["VT"]
    await rig.until(lambda: bool(rig.events("arrhythmia")))
    (ev,) = rig.events("arrhythmia")
    assert (ev.bed, ev.fields["rhythm"]) == ("ICU-4", "VT")
    vitals.rhythms = []
    await rig.until(lambda: any(e.fields.get("phase") == "end" for e in rig.events("device_alarm")))
    assert len(rig.events("arrhythmia")) == 1
    assert sender.acks["CE"] == sender.acks["CR"] == 0


async def test_unknown_sender_gets_ar_and_nothing_is_emitted(rig: Rig) -> None:
    stranger = rig.sender("ER^^1")
    await rig.until(lambda: stranger.acks["CR"] >= 3)
    assert stranger.acks["CA"] == 0
    assert rig.driver.rejected >= 3
    assert not [o for o in rig.out if isinstance(o, Observation)]
    assert rig.events("device_connected") == []


async def test_malformed_messages_get_ae_and_are_counted(rig: Rig) -> None:
    faults = Faults(corrupt_checksum=True)
    sender = rig.sender("ICU^^3", faults=faults)
    await rig.until(lambda: sender.acks["CE"] >= 3)
    assert rig.driver.status.bad_frames >= 3
    assert sender.acks["CA"] == 0
    faults.clear()
    await rig.until(lambda: bool(rig.observations("ICU-3", "MDC_PULS_OXIM_SAT_O2")))


async def test_drop_gives_disconnected_then_connected_again(rig: Rig) -> None:
    faults = Faults()
    rig.sender("ICU^^3", faults=faults)
    await rig.until(lambda: bool(rig.events("device_connected")))
    faults.drop = True
    await rig.until(lambda: bool(rig.events("device_disconnected")))
    (gone,) = rig.events("device_disconnected")
    assert "disconnected" in gone.fields["reason"]
    assert rig.events("device_stale") == []
    seen = len(rig.observations("ICU-3", "MDC_PULS_OXIM_SAT_O2"))
    faults.drop = False
    await rig.until(lambda: len(rig.events("device_connected")) == 2)
    await rig.until(lambda: len(rig.observations("ICU-3", "MDC_PULS_OXIM_SAT_O2")) > seen)
    names = [o.event for o in rig.out if isinstance(o, DeviceEvent)]
    assert names == ["device_connected", "device_disconnected", "device_connected"]
    assert rig.driver.status.reconnects == 1


async def test_stall_gives_stale_then_disconnected_and_recovers(rig: Rig) -> None:
    faults = Faults()
    rig.sender("ICU^^3", faults=faults)
    await rig.until(lambda: bool(rig.events("device_connected")))
    faults.stall = True
    await rig.until(lambda: bool(rig.events("device_disconnected")))
    names = [o.event for o in rig.out if isinstance(o, DeviceEvent)]
    assert names == ["device_connected", "device_stale", "device_disconnected"]
    assert rig.driver.connections == 1  # the quiet sender is left connected
    faults.stall = False
    await rig.until(lambda: len(rig.events("device_connected")) == 2)


async def test_garbage_is_skipped_and_counted_while_data_flows(rig: Rig) -> None:
    faults = Faults(garbage=True)
    sender = rig.sender("ICU^^3", faults=faults)
    await rig.until(lambda: sender.acks["CA"] >= 5)
    assert rig.driver.status.bad_frames >= 5
    assert len(rig.observations("ICU-3", "MDC_PULS_OXIM_SAT_O2")) >= 5


async def test_slow_sender_still_delivers(rig: Rig) -> None:
    sender = rig.sender("ICU^^4", faults=Faults(slow_s=0.2))
    await rig.until(lambda: sender.acks["CA"] >= 2)
    assert rig.observations("ICU-4", "MDC_ECG_HEART_RATE")


@pytest.mark.parametrize("max_chunk", [0, 1, 7])
async def test_raw_messages_split_and_batched(rig: Rig, max_chunk: int) -> None:
    """Two messages in one write, then one message split across writes, plus junk; the link
    may split every write further into chunks of 1..max_chunk bytes."""
    now = rig.clock.now()
    msgs = [
        frame(build_oru_r01({"MDC_ECG_HEART_RATE": 60.0 + i}, now=now, control_id=f"R{i}",
                            location="ICU^^3"))
        for i in range(3)
    ]  # fmt: skip
    rig.link.to_server.max_chunk = rig.link.to_client.max_chunk = max_chunk
    reader, writer = await rig.link.connect()
    try:
        writer.write(b"junk" + msgs[0] + msgs[1] + msgs[2][:40])
        await run_for(rig.clock, 0.05)
        writer.write(msgs[2][40:])
        acks = b""
        reading = asyncio.ensure_future(reader.read(4096))
        while acks.count(b"\x1c\r") < 3:
            await rig.until(reading.done, timeout=3)
            acks += reading.result()
            reading = asyncio.ensure_future(reader.read(4096))
        reading.cancel()
    finally:
        writer.close()
    assert [acks.count(f"MSA|CA|R{i}\r".encode()) for i in range(3)] == [1, 1, 1]
    await rig.until(lambda: len(rig.observations("ICU-3", "MDC_ECG_HEART_RATE")) == 3)
    assert [o.value for o in rig.observations("ICU-3", "MDC_ECG_HEART_RATE")] == [60, 61, 62]
    assert rig.driver.status.bad_frames == 1  # the junk
    await rig.until(lambda: bool(rig.events("device_disconnected")))


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    to_listener=st.sampled_from([0.1, 0.5, 1.0]),
    to_sender=st.sampled_from([0.0, 0.3, 1.0]),
    max_chunk=st.integers(0, 50),
)
async def test_corrupted_bytes_never_crash_the_listener(
    seed: int, to_listener: float, to_sender: float, max_chunk: int
) -> None:
    """MLLP carries no checksum, so a flipped bit may go unnoticed; but the stream never
    raises, and once the faults clear messages are acknowledged and observations flow."""
    async with running_rig(seed) as rig:
        faults = rig.link.to_server
        faults.flip_rate, rig.link.to_client.flip_rate = to_listener, to_sender
        faults.max_chunk = rig.link.to_client.max_chunk = max_chunk
        sender = rig.sender("ICU^^3")
        await run_for(rig.clock, 3.0)
        assert not rig.tasks[0].done()  # the driver's stream
        faults.clear()
        rig.link.to_client.clear()
        answered = sum(sender.acks.values())
        await rig.until(lambda: sender.acks["CA"] >= 1 and sum(sender.acks.values()) > answered)
        seen = len(rig.observations("ICU-3", "MDC_PULS_OXIM_SAT_O2"))
        await rig.until(lambda: len(rig.observations("ICU-3", "MDC_PULS_OXIM_SAT_O2")) > seen)
        assert rig.driver.status.state is ConnectionState.CONNECTED


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen(":2575") == ("0.0.0.0", 2575)
    assert parse_listen("[::1]:2575") == ("::1", 2575)
    for bad in ("2575", "host:port", "h:70000"):
        with pytest.raises(ConfigError):
            parse_listen(bad)
    with pytest.raises(ConfigError):
        Hl7MllpDriver(bed_map={}, clock=CLOCK, listen="127.0.0.1:0")


async def test_tcp_end_to_end() -> None:
    driver = Hl7MllpDriver(bed_map=BEDS, clock=CLOCK, listen="127.0.0.1:0", stale_after=5.0)
    port = await driver.start()
    sender = Hl7Sender(FixedVitals({"MDC_PULS_OXIM_SAT_O2": 97.0}), CLOCK, "ICU^^3", interval=0.05)
    sending = asyncio.create_task(sender.run("127.0.0.1", port))
    stream = driver.stream()
    try:
        async with asyncio.timeout(5):
            connected = await anext(stream)
            obs = await anext(stream)
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        await stream.aclose()  # type: ignore[attr-defined]
        await driver.aclose()
    assert isinstance(connected, DeviceEvent) and connected.event == "device_connected"
    assert connected.fields["peer"].startswith("127.0.0.1:")
    assert isinstance(obs, Observation) and (obs.bed, obs.value) == ("ICU-3", 97.0)


async def test_port_in_use_is_a_config_error() -> None:
    first = Hl7MllpDriver(bed_map=BEDS, clock=CLOCK, listen="127.0.0.1:0")
    port = await first.start()
    second = Hl7MllpDriver(bed_map=BEDS, clock=CLOCK, listen=f"127.0.0.1:{port}")
    try:
        with pytest.raises(ConfigError, match="cannot listen"):
            await second.start()
    finally:
        await first.aclose()
        await second.aclose()
