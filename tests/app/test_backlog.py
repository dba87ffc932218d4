"""The pipeline's backlog: arrival order, except events (with their bed's earlier numerics)
taken first; nothing lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.backlog import Backlog
from core.bus import WireBatch
from core.model import DeviceEvent, Message, Observation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def obs(bed: str, s: int) -> Observation:
    return Observation(
        t=T0 + timedelta(seconds=s), bed=bed, code="MDC_ECG_HEART_RATE", value=80.0, unit="/min"
    )


def alarm(bed: str, s: int) -> DeviceEvent:
    return DeviceEvent(t=T0 + timedelta(seconds=s), bed=bed, event="pump_alarm")


def test_events_first_with_their_beds_earlier_numerics_the_rest_in_order() -> None:
    msgs: list[Message] = [
        obs("A", 0),
        obs("B", 0),
        obs("C", 0),
        obs("B", 1),
        alarm("B", 1),
        obs("A", 1),
        obs("B", 2),
        alarm("C", 2),
        obs("C", 3),
    ]
    backlog = Backlog()
    backlog.add(msgs)
    assert (len(backlog), backlog.events, backlog.oldest()) == (9, 2, msgs[0])
    assert backlog.take_events() == [msgs[1], msgs[2], msgs[3], msgs[4], msgs[7]]
    assert backlog.events == 0 and backlog.take_events() == []
    assert backlog.take(2) == [msgs[0], msgs[5]]
    assert backlog.take(10) == [msgs[6], msgs[8]]
    assert len(backlog) == 0


def test_take_keeps_the_event_count() -> None:
    backlog = Backlog()
    backlog.add([alarm("A", 0), obs("A", 1), alarm("B", 1)])
    assert backlog.take(2) == [alarm("A", 0), obs("A", 1)]
    assert backlog.events == 1


class Wire:
    """Batches of a bed's observations in wire form, recording which were decoded."""

    def __init__(self) -> None:
        self.decoded: list[str] = []

    def batch(self, bed: str, s: int, n: int) -> WireBatch:
        msgs: list[Message] = [obs(bed, s) for _ in range(n)]

        def decode(_payload: bytes) -> list[Message]:
            self.decoded.append(bed)
            return msgs

        return WireBatch(bed, msgs[0].t, n, b"", decode)


def test_batches_count_at_their_size_and_are_split_to_fit_a_take() -> None:
    wire = Wire()
    backlog = Backlog()
    backlog.add([obs("A", 0), wire.batch("B", 0, 5), obs("C", 0)])
    assert (len(backlog), backlog.waiting, wire.decoded) == (3, 7, [])
    assert [m.bed for m in backlog.take(3)] == ["A", "B", "B"]
    assert (backlog.waiting, wire.decoded) == (4, ["B"])
    assert [m.bed for m in backlog.take(10)] == ["B", "B", "B", "C"]
    assert backlog.waiting == 0 and len(backlog) == 0


def test_an_event_passes_other_beds_batches_without_decoding_them() -> None:
    wire = Wire()
    backlog = Backlog()
    b_first = wire.batch("B", 0, 3)
    backlog.add([wire.batch("A", 0, 4), b_first, wire.batch("C", 0, 4), alarm("B", 1)])
    assert backlog.waiting == 12 and backlog.events == 1
    urgent = backlog.take_events()
    assert [m.bed for m in urgent] == ["B", "B", "B", "B"]
    assert isinstance(urgent[-1], DeviceEvent)
    assert wire.decoded == ["B"]  # the other beds' numerics still wait undecoded
    assert backlog.waiting == 8 and backlog.oldest().bed == "A"
    assert [m.bed for m in backlog.take(100)] == ["A"] * 4 + ["C"] * 4
