"""Gateway → station over a Mosquitto broker that each test starts on its own port: a station
restart, a broker outage and a gateway restart lose nothing, and drivers never wait."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from broker import MOSQUITTO, Broker
from realtime import free_port

from app.mqtt import MqttBus
from core.bus import Subscription
from core.model import DeviceEvent, EventSource, Message, Observation

pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto (the broker) not installed")

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
OUTAGE_S = 30.0
"""The broker is down for 30 s, as the issue asks: long enough for the spool and for several
reconnect attempts with backoff; the test runs in about 40 s."""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.kill()


@contextlib.asynccontextmanager
async def running(bus: MqttBus) -> AsyncIterator[MqttBus]:
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close()


async def wait_until(cond: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not cond():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"not within {timeout} s: {what}") from None


async def collect(
    sub: Subscription, into: list[Message], until: Callable[[], bool], timeout: float = 20.0
) -> None:
    async with asyncio.timeout(timeout):
        while not until():
            into.append(await sub.get())


def obs(i: int, device: str = "monitor", bed: str = "ICU-1") -> Observation:
    return Observation(
        t=T0 + timedelta(milliseconds=i),
        bed=bed,
        code="MDC_PULS_OXIM_PULS_RATE",
        value=float(i),
        unit="/min",
        device=device,
    )


def event(name: str, i: int, device: str = "pump", **fields: object) -> DeviceEvent:
    src = EventSource.DRIVER if name.startswith("device_") else EventSource.DEVICE
    return DeviceEvent(
        t=T0 + timedelta(seconds=i),
        bed="ICU-1",
        event=name,
        fields=dict(fields),
        device=device,
        source=src,
    )


def subsequence(got: list[Message], wanted: list[Message]) -> list[Message]:
    """The messages of `got` that are in `wanted`, in `got`'s order."""
    return [m for m in got if m in wanted]


async def test_station_restart_loses_no_alarm(broker: Broker, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    station_id = f"iaewatch-station-{prefix}"
    gateway = MqttBus(broker.url, prefix=prefix, receive=False, spool=tmp_path / "gw.sqlite")
    connected = event("device_connected", 0, device="pump", device_id="pump")
    before: list[Message] = [connected, *(obs(i) for i in range(20))]
    during: list[Message] = []
    for k in range(14):  # 14 occlusions, 13 clears: one alarm is still open at the end
        during.append(event("pump_alarm", 10 + 2 * k, kind="occlusion"))
        during += [obs(1000 + 10 * k + j) for j in range(10)]
        if k < 13:
            during.append(event("pump_alarm_cleared", 11 + 2 * k, kind="occlusion"))
    vitals: list[Message] = []  # a ventilator keeps publishing across the restart
    stop = asyncio.Event()

    async def ventilator() -> None:
        while not stop.is_set():
            vitals.append(obs(len(vitals), "vent"))
            await gateway.publish(vitals[-1])
            await asyncio.sleep(0.005)  # pacing: the device's cadence, not a verdict

    def vent(got: list[Message]) -> list[float]:
        return [m.value or 0.0 for m in got if isinstance(m, Observation) and m.device == "vent"]

    async with running(gateway):
        async with running(MqttBus(broker.url, prefix=prefix, client_id=station_id)) as station:
            sub = station.subscribe()
            vent_task = asyncio.create_task(ventilator())
            for m in before:
                await gateway.publish(m)
            got1: list[Message] = []
            await collect(sub, got1, lambda: len(subsequence(got1, before)) >= len(before))
            assert subsequence(got1, before) == before
            # the station keeps taking messages in (as its pipeline does) until it stops
            intake = asyncio.create_task(collect(sub, got1, lambda: False))
        intake.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await intake
        # the station is down: alarms are raised and cleared meanwhile
        for m in during:
            await gateway.publish(m)
        async with running(MqttBus(broker.url, prefix=prefix, client_id=station_id)) as station:
            sub = station.subscribe()
            got: list[Message] = []
            await collect(sub, got, lambda: len(subsequence(got, during)) >= len(during))
            stop.set()
            await vent_task
            await collect(sub, got, lambda: set(vent(got1) + vent(got)) >= set(range(len(vitals))))
            assert subsequence(got, during) == during  # 0 alarms or clears lost, in order
            assert vent(got) == sorted(vent(got))  # vitals in order, none lost (above)
            # besides: only the retained truth told again (the pump is connected)
            others = [m for m in got if isinstance(m, DeviceEvent) and m not in during]
            assert others in ([], [connected])
        # a station with no session at all rebuilds the truth from retained messages
        async with running(MqttBus(broker.url, prefix=prefix, client_id=station_id + "x")) as st:
            sub = st.subscribe()
            marker = obs(999_999)
            await gateway.publish(marker)
            got = []
            await collect(sub, got, lambda: marker in got)
            alarms = [m for m in got if isinstance(m, DeviceEvent)]
            assert alarms == [connected, during[-11]] or alarms == [during[-11], connected]
            assert during[-11] == event("pump_alarm", 36, kind="occlusion")


async def test_broker_outage_neither_blocks_drivers_nor_loses_data(
    broker: Broker, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    gateway = MqttBus(broker.url, prefix=prefix, receive=False, spool=tmp_path / "gw.sqlite")
    station = MqttBus(broker.url, prefix=prefix, client_id=f"iaewatch-station-{prefix}")
    devices = ("monitor", "ventilator", "pump")
    sent: dict[str, list[Message]] = {d: [] for d in devices}
    latency: list[float] = []
    stop = asyncio.Event()

    async def driver(device: str) -> None:
        i = 0
        while not stop.is_set():
            msg = obs(i, device)
            t = time.perf_counter()
            await gateway.publish(msg)
            latency.append(time.perf_counter() - t)
            sent[device].append(msg)
            i += 1
            await asyncio.sleep(0.005)  # pacing: a device's cadence, not a verdict

    async with running(station), running(gateway):
        sub = station.subscribe()
        got: list[Message] = []
        await gateway.publish(event("device_connected", 0, device="monitor"))  # retained
        drivers = [asyncio.create_task(driver(d)) for d in devices]
        receiver = asyncio.create_task(collect(sub, got, lambda: False, timeout=120))
        try:
            await wait_until(lambda: len(got) > 100, "first messages received")
            # a long-running broker has saved the station's session before it crashes
            broker.save()
            await wait_until(lambda: (broker.dir / "mosquitto.db").exists(), "broker saved")
            broker.kill()
            await wait_until(lambda: not gateway.connected and not station.connected, "outage seen")
            loop = asyncio.get_running_loop()
            down_at = loop.time()
            await wait_until(
                lambda: gateway.spooled > 0 and loop.time() - down_at >= OUTAGE_S,
                "spooled",
                timeout=OUTAGE_S + 15,
            )
            during_outage = sum(len(s) for s in sent.values())
            broker.start()
            await wait_until(lambda: gateway.connected and station.connected, "reconnected")
            await wait_until(
                lambda: sum(len(s) for s in sent.values()) > during_outage + 100, "more sent"
            )
        finally:
            stop.set()
            await asyncio.gather(*drivers)
        total = sum(len(s) for s in sent.values())
        await wait_until(lambda: len(got) >= total + 1, "all received", timeout=20)
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
    for d in devices:
        assert [m for m in got if isinstance(m, Observation) and m.device == d] == sent[d]
    assert len(got) == total + 1  # 0 lost, 0 duplicated (+ the device_connected event)
    assert gateway.dropped == 0
    assert max(latency) < 0.1, f"a driver waited {max(latency) * 1000:.1f} ms to publish"
    print(
        f"outage {OUTAGE_S} s: {total} obs, max publish {max(latency) * 1000:.2f} ms, "
        f"spooled {gateway.spooled}, replayed {gateway.replayed}, dup {station.duplicates}"
    )


async def test_gateway_restart_replays_its_spool(broker: Broker, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    spool = tmp_path / "gw.sqlite"
    unreachable = f"mqtt://127.0.0.1:{free_port()}"
    sent: list[Message] = [obs(i) for i in range(50)]
    sent.insert(25, event("pump_alarm", 1, kind="air_in_line"))
    async with running(MqttBus(unreachable, prefix=prefix, receive=False, spool=spool)) as gw:
        for m in sent:
            await gw.publish(m)
    # a new gateway process on the same spool, now with a broker
    async with running(MqttBus(broker.url, prefix=prefix, client_id=f"s-{prefix}")) as station:
        sub = station.subscribe()
        gateway = MqttBus(broker.url, prefix=prefix, receive=False, spool=spool)
        # the observations before the alarm, the alarm, its retained copy, those after it
        assert gateway.pending == 4
        async with running(gateway):
            got: list[Message] = []
            await collect(sub, got, lambda: len(got) >= len(sent))
            assert got == sent
            await wait_until(lambda: gateway.pending == 0, "spool replayed")
