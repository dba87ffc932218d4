"""The station service restarts while a gateway keeps publishing through Mosquitto (a broker of
the test's own), with pump alarms raised and cleared meanwhile: every alarm becomes one alert,
and every alert ends (issue #12: 0 lost, 0 never-ending).

The station is the real service (`build_service` with MQTT, its pipeline, rules engine and
SQLite store) run in process on the real clock; the gateway is an `MqttBus` that publishes
numerics every 100 ms and an alarm, then its clear, every 0.4 s across three beds. The station
is stopped for 3 s in the middle and started again with the same client id, so the broker
keeps its session.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from broker import MOSQUITTO, Broker
from pydantic import SecretStr

from app.mqtt import MqttBus
from app.runner import build_service
from app.settings import Mode, Settings
from app.store import Store
from app.store.migrate import upgrade
from core.model import DeviceEvent, EventSource, Observation

pytestmark = [
    pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto (the broker) not installed"),
    pytest.mark.timeout(120),
]
BEDS = ("ICU-1", "ICU-2", "ICU-3")
KINDS = ("occlusion", "air_in_line", "door_open")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.kill()


@contextlib.asynccontextmanager
async def station(settings: Settings) -> AsyncIterator[None]:
    app = build_service(settings, None)
    async with app.router.lifespan_context(app):
        yield


def pump_event(name: str, bed: str, kind: str) -> DeviceEvent:
    return DeviceEvent(
        t=datetime.now(UTC),
        bed=bed,
        event=name,
        fields={"kind": kind},
        device="pump-study",
        source=EventSource.DEVICE,
    )


async def test_a_station_restart_loses_no_alarm_and_ends_every_alert(
    broker: Broker, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    url = f"sqlite+aiosqlite:///{tmp_path / 'station.db'}"
    await upgrade(url)
    settings = Settings(
        mode=Mode.TEST,
        database_url=url,
        secret_key=SecretStr("s" * 48),
        mqtt_url=broker.url,
        mqtt_prefix=prefix,
        mqtt_client_id=f"iaewatch-station-{prefix}",
    )
    gateway = MqttBus(broker.url, prefix=prefix, receive=False)
    raised: list[DeviceEvent] = []
    stop = asyncio.Event()

    async def clear(alarm: DeviceEvent) -> None:
        await gateway.publish(pump_event("pump_alarm_cleared", alarm.bed, alarm.fields["kind"]))

    async def publish() -> None:
        n = 0
        while not stop.is_set() or n % 4 != 0:  # ends with the last alarm cleared
            for bed in BEDS:
                await gateway.publish(
                    Observation(
                        t=datetime.now(UTC),
                        bed=bed,
                        code="MDC_FLOW_FLUID_PUMP",
                        value=133.0,
                        unit="mL/h",
                        device="pump-study",
                    )
                )
            if n % 4 == 0 and not stop.is_set():  # an alarm every 0.4 s, cleared 0.2 s later
                bed, kind = BEDS[n // 4 % 3], KINDS[n // 12 % 3]
                alarm = pump_event("pump_alarm", bed, kind)
                raised.append(alarm)
                await gateway.publish(alarm)
            if n % 4 == 2:
                await clear(raised[-1])
            n += 1
            await asyncio.sleep(0.1)

    await gateway.start()
    try:
        async with station(settings):
            publisher = asyncio.create_task(publish())
            await asyncio.sleep(3)
        during = len(raised)
        await asyncio.sleep(3)  # the station is down; alarms come and go
        assert len(raised) - during >= 5
        async with station(settings):
            await asyncio.sleep(3)
            stop.set()
            await publisher
            store = await Store.open(url)
            try:
                async with asyncio.timeout(30):  # a bound on a hung station, not a verdict
                    while True:
                        alerts = [
                            a for a in await store.alerts() if a.rule == "infusion_pump_alarm"
                        ]
                        if len(alerts) >= len(raised) and all(a.ended_at for a in alerts):
                            break
                        await asyncio.sleep(0.2)
            except TimeoutError:
                pass
            finally:
                await store.close()
    finally:
        await gateway.close()
    assert len(alerts) == len(raised)  # 0 lost, none twice
    assert {(a.bed, a.onset) for a in alerts} == {(e.bed, e.t) for e in raised}
    assert [a.id for a in alerts if a.ended_at is None] == []  # 0 never-ending
