"""The MQTT bus against the Mosquitto broker on 127.0.0.1:1883: what a bedside gateway
publishes reaches the station's subscribers, equal and in order."""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.mqtt import MqttBus, decode, encode
from app.mqtt.codec import decode_all, encode_observations
from core.errors import ConfigError, RecordError
from core.model import DeviceEvent, EventSource, Observation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def broker_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=1):
            return True
    except OSError:
        return False


needs_broker = pytest.mark.skipif(not broker_up(), reason="no MQTT broker at 127.0.0.1:1883")

OBS = Observation(
    t=T0, bed="ICU-1", code="MDC_PULS_OXIM_SAT_O2", value=94.0, unit="%", device="monitor"
)
EVENT = DeviceEvent(
    t=T0,
    bed="ICU-1",
    event="clinical_sign",
    fields={"sign": "urticaria"},
    source=EventSource.CLINICIAN,
)


@pytest.mark.parametrize("msg", [OBS, EVENT])
def test_encode_decode_round_trip(msg: Observation | DeviceEvent) -> None:
    kind, payload = encode(msg)
    assert decode(kind, payload) == msg


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("obs", b"{not json"),
        ("alert", b'{"id": 1}'),
        ("event", b"[]"),
        ("obs", b'{"t": "x"}'),
        ("obs", encode(EVENT)[1]),  # an event on an observation topic
    ],
)
def test_bad_payloads_are_record_errors(kind: str, payload: bytes) -> None:
    with pytest.raises(RecordError):
        decode(kind, payload)


def test_observations_travel_as_one_array_in_their_order() -> None:
    later = Observation(
        t=T0 + timedelta(seconds=1),
        bed="ICU-1",
        code="MDC_ECG_HEART_RATE",
        value=88.0,
        unit="/min",
        device="monitor",
    )
    payload = encode_observations([OBS, later])
    assert decode_all("obs", payload) == [OBS, later]
    assert decode_all("event", encode(EVENT)[1]) == [EVENT]
    with pytest.raises(RecordError):
        decode_all("obs", b"[" + encode(EVENT)[1] + b"]")  # an event inside an obs array
    with pytest.raises(RecordError):
        decode_all("obs", b"[1, 2]")
    with pytest.raises(RecordError):
        decode_all("event", b"[" + encode(EVENT)[1] + b"]")  # only obs topics carry arrays


def test_bad_url() -> None:
    with pytest.raises(ConfigError, match="not an MQTT URL"):
        MqttBus("http://broker")


@needs_broker
async def test_gateway_to_station_in_order() -> None:
    prefix = f"iaewatch-test-{uuid.uuid4().hex[:8]}"
    gateway = MqttBus("mqtt://127.0.0.1:1883", prefix=prefix)
    station = MqttBus("mqtt://127.0.0.1:1883", prefix=prefix)
    await station.start()
    await gateway.start()
    assert station.connected and gateway.connected
    sub = station.subscribe()
    try:
        sent = [
            Observation(
                t=T0 + timedelta(seconds=i),
                bed="ICU-1",
                code="MDC_PULS_OXIM_SAT_O2",
                value=90.0 + i % 5,
                unit="%",
            )
            for i in range(200)
        ]
        sent += [EVENT]
        for msg in sent:
            await gateway.publish(msg)
        got = []
        async with asyncio.timeout(10):
            while len(got) < len(sent):
                got.append(await sub.get())
        assert got == sent
        assert station.bad_messages == 0
    finally:
        sub.close()
        await gateway.close()
        await station.close()


@needs_broker
async def test_messages_published_before_the_broker_is_reached_are_kept() -> None:
    prefix = f"iaewatch-test-{uuid.uuid4().hex[:8]}"
    station = MqttBus("mqtt://127.0.0.1:1883", prefix=prefix)
    await station.start()
    sub = station.subscribe()
    gateway = MqttBus("mqtt://127.0.0.1:1883", prefix=prefix)
    try:
        await gateway.publish(EVENT)  # not started yet: waits in the outbox
        await gateway.start()
        async with asyncio.timeout(10):
            assert await sub.get() == EVENT
    finally:
        sub.close()
        await gateway.close()
        await station.close()


def test_the_bus_counters_are_on_metrics() -> None:
    from collections import Counter
    from types import SimpleNamespace

    from app.live.registry import DeviceRegistry
    from app.metrics import AppMetrics, IngestCounters

    bus = MqttBus("mqtt://127.0.0.1:1", prefix="t", receive=False)
    bus.sent, bus.duplicates = 12, 3
    hub = SimpleNamespace(transitions=Counter(), client_count=0, resyncs=0)
    metrics = AppMetrics(hub, DeviceRegistry(), IngestCounters(), bus=bus)  # type: ignore[arg-type]
    lines = set(metrics.render().decode().splitlines())
    assert "iaewatch_mqtt_connected 0.0" in lines
    assert "iaewatch_mqtt_sent_total 12.0" in lines
    assert "iaewatch_mqtt_duplicates_total 3.0" in lines
    assert "iaewatch_mqtt_pending 0.0" in lines
