"""The MQTT bus against the Mosquitto broker on 127.0.0.1:1883: what a bedside gateway
publishes reaches the station's subscribers, equal and in order."""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.mqtt import MqttBus, decode, encode
from app.mqtt.client import RECV_BYTES, _BufferedRecv
from app.mqtt.codec import decode_all, encode_observations, wire_batch
from core.errors import ConfigError, RecordError
from core.model import DeviceEvent, EventSource, Message, Observation

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


def test_an_obs_payload_travels_undecoded_with_its_bed_and_first_time() -> None:
    bed = "ICU 3床"  # escaped in the payload (JSON's ASCII form)
    batch = [replace(OBS, bed=bed), replace(OBS, bed=bed, t=T0 + timedelta(seconds=1))]
    payload = encode_observations(batch)
    assert b"\\u5e8a" in payload
    calls: list[bytes] = []

    def decoder(data: bytes) -> list[Message]:
        calls.append(data)
        return decode_all("obs", data)

    wire = wire_batch(payload, decoder)
    assert wire is not None and calls == []
    assert (wire.bed, wire.t, wire.size) == (bed, T0, 2)
    assert wire.messages() == batch
    single = wire_batch(encode(OBS)[1], decoder)  # one observation, not an array
    assert single is not None and single.messages() == [OBS]


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b"{not json",
        b'[{"bed": "ICU-1", "t": "2026-03-01T08:00:00Z"}]',  # not as a gateway writes it
        b'[{"t": "yesterday", "bed": "ICU-1"}]',
        b'[{"t": "2026-03-01T08:00:00Z", "bed": ""}]',
    ],
)
def test_a_payload_without_a_gateway_head_is_decoded_at_once(payload: bytes) -> None:
    assert wire_batch(payload, lambda data: []) is None


async def test_a_batch_bad_beyond_its_head_is_counted_when_decoded() -> None:
    station = MqttBus("mqtt://127.0.0.1:1", prefix="t")
    sub = station.subscribe()
    good = encode_observations([OBS])
    station._deliver("t/ICU-1/obs", good[:-1] + b", {broken]")
    station._deliver("t/ICU-1/obs", good)
    station._deliver("t/ICU-1/event", encode(EVENT)[1])
    assert station.bad_messages == 0  # nothing decoded yet but the event
    assert sub.get_ready() == [OBS, EVENT]
    assert station.bad_messages == 1
    sub.close()


async def test_an_event_goes_out_before_the_other_beds_numerics_of_its_turn() -> None:
    gateway = MqttBus("mqtt://127.0.0.1:1", prefix="t", receive=False)
    beds = [f"ICU-{i}" for i in range(60)]
    for bed in beds:
        await gateway.publish(replace(OBS, bed=bed))
    await gateway.publish(replace(EVENT, bed="ICU-50"))
    queued = [e.topic for e in gateway._outbox]
    assert queued[:2] == ["t/ICU-50/obs", "t/ICU-50/event"]  # its own bed's numerics first
    for _ in range(4):  # the rest are encoded a few beds per turn of the loop
        await asyncio.sleep(0)
    queued = [e.topic for e in gateway._outbox if e.topic.endswith("/obs")]
    assert sorted(queued) == sorted(f"t/{bed}/obs" for bed in beds)
    assert queued[1:] == [f"t/{bed}/obs" for bed in beds if bed != "ICU-50"]
    await gateway.close()


def test_the_station_reads_the_socket_in_large_pieces() -> None:
    chunks = [b"\x30\x05ab", b"cdefgh"]
    asked: list[int] = []

    def sock_recv(n: int) -> bytes:
        asked.append(n)
        if not chunks:
            raise BlockingIOError
        return chunks.pop(0)

    reader = _BufferedRecv(SimpleNamespace(_sock_recv=sock_recv))  # type: ignore[arg-type]
    assert [reader.recv(1), reader.recv(1)] == [b"\x30", b"\x05"]
    assert reader.holding
    assert reader.recv(5) == b"ab"  # what the buffer holds; paho asks again for the rest
    assert not reader.holding
    assert reader.recv(3) == b"cde"
    assert reader.recv(10) == b"fgh"
    with pytest.raises(BlockingIOError):
        reader.recv(1)
    assert asked == [RECV_BYTES] * 3
