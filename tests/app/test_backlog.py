"""The pipeline's backlog: arrival order, except events (with their bed's earlier numerics)
taken first; nothing lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.backlog import Backlog
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
