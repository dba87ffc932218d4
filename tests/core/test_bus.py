"""The in-process bus: every subscriber sees every message in order; a bounded one drops its
oldest and counts; closing ends iteration."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.bus import InProcessBus, WireBatch
from core.model import DeviceEvent, Message, Observation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def obs(v: float) -> Observation:
    return Observation(t=T0, bed="B", code="X", value=v, unit="%")


async def test_fan_out_in_order_and_bounded_drop() -> None:
    bus = InProcessBus()
    everything, small = bus.subscribe(), bus.subscribe(maxsize=2)
    for v in range(5):
        await bus.publish(obs(v))
    assert [(await everything.get()).value for _ in range(5)] == [0, 1, 2, 3, 4]  # type: ignore[union-attr]
    assert small.dropped == 3
    assert [(await small.get()).value for _ in range(2)] == [3, 4]  # type: ignore[union-attr]


async def test_close_ends_iteration() -> None:
    bus = InProcessBus()
    sub = bus.subscribe()
    await bus.publish(obs(1))
    sub.close()
    await bus.publish(obs(2))  # after close: not delivered
    assert [m async for m in sub] == []


class Decoder:
    """A batch's decoder that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, payload: bytes) -> list[Message]:
        self.calls += 1
        return [obs(float(v)) for v in payload.split(b",") if v]


def batch(payload: bytes, decode: Decoder) -> WireBatch:
    return WireBatch("B", T0, payload.count(b",") + 1, payload, decode)


async def test_a_wire_batch_is_decoded_when_taken_and_handed_out_whole_or_not() -> None:
    bus = InProcessBus()
    decoded, raw = bus.subscribe(), bus.subscribe()
    decode = Decoder()
    await bus.publish(obs(0))
    bus.publish_nowait(batch(b"1,2,3", decode))
    await bus.publish(obs(4))
    assert decode.calls == 0  # nothing decoded on the way
    assert (await decoded.get()).value == 0  # type: ignore[union-attr]
    assert (await decoded.get()).value == 1  # type: ignore[union-attr]
    assert [m.value for m in decoded.get_ready()] == [2, 3, 4]  # type: ignore[union-attr]
    assert decode.calls == 1
    items = [await raw.get_item(), *raw.get_ready_items()]
    assert [type(i).__name__ for i in items] == ["Observation", "WireBatch", "Observation"]
    assert decode.calls == 1  # handed out undecoded


async def test_a_batch_that_does_not_decode_gives_nothing_and_the_stream_goes_on() -> None:
    bus = InProcessBus()
    sub = bus.subscribe()
    bus.publish_nowait(batch(b"", Decoder()))  # its producer counted it bad: no messages
    await bus.publish(obs(7))
    assert (await sub.get()).value == 7  # type: ignore[union-attr]


async def test_events_only_subscriptions_queue_no_observations() -> None:
    bus = InProcessBus()
    events = bus.subscribe(events_only=True)
    bus.publish_nowait(batch(b"1", Decoder()))
    await bus.publish(obs(1))
    alarm = DeviceEvent(t=T0, bed="B", event="pump_alarm")
    await bus.publish(alarm)
    assert events.get_ready() == [alarm]


async def test_a_closed_subscription_says_so_to_every_reader() -> None:
    bus = InProcessBus()
    sub = bus.subscribe()
    sub.close()
    for _ in range(2):
        with pytest.raises(EOFError):
            await sub.get_item()
    assert sub.get_ready_items() == []
