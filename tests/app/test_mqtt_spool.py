"""The gateway's spool and retained-state tracker, without a broker: order, the drop policy,
survival across a reopen, and which retained messages an event sets or clears."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.mqtt.retained import Retained, RetainedTracker
from app.mqtt.spool import Entry, Spool
from core.model import DeviceEvent, EventSource

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def entry(seq: int, *, obs: bool) -> Entry:
    return Entry(seq, "p/ICU-1/obs" if obs else "p/ICU-1/event", str(seq).encode(), False, obs)


def test_spool_replays_in_order_and_survives_a_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", limit=100)
    spool.put([entry(3, obs=True), entry(4, obs=False)])
    spool.put([entry(1, obs=True), entry(2, obs=True)])  # a failed batch put back: older
    spool.close()
    again = Spool(tmp_path / "s.sqlite", limit=100)
    assert (again.count, again.last_seq) == (4, 4)
    assert [e.seq for e in again.head(10)] == [1, 2, 3, 4]
    again.remove(again.head(2))
    assert [e.seq for e in again.head(10)] == [3, 4] and again.count == 2


def test_over_the_cap_the_oldest_observations_go_and_events_never() -> None:
    spool = Spool(None, limit=4)
    spool.put([entry(1, obs=False), entry(2, obs=True), entry(3, obs=True), entry(4, obs=False)])
    spool.put([entry(5, obs=True), entry(6, obs=True), entry(7, obs=False)])
    assert [e.seq for e in spool.head(10)] == [1, 4, 6, 7]  # the 3 oldest observations
    assert spool.dropped == 3
    spool.put([entry(8, obs=False)])
    assert [e.seq for e in spool.head(10)] == [1, 4, 7, 8] and spool.dropped == 4
    spool.put([entry(9, obs=False)])  # only events left: kept, over the cap
    assert [e.seq for e in spool.head(10)] == [1, 4, 7, 8, 9] and spool.dropped == 4


def ev(name: str, device: str = "pump", **fields: object) -> DeviceEvent:
    src = EventSource.DRIVER if name.startswith("device_") else EventSource.DEVICE
    return DeviceEvent(
        t=T0, bed="ICU-1", event=name, fields=dict(fields), device=device, source=src
    )


def test_retained_state_and_alarms() -> None:
    tr = RetainedTracker()
    assert tr.on_event(ev("device_stale")) == [Retained("state", ("pump",), True)]
    assert tr.on_event(ev("pump_alarm", kind="occlusion")) == [
        Retained("alarm", ("pump", "pump-occlusion"), True)
    ]
    assert tr.on_event(ev("pump_alarm_cleared", kind="occlusion")) == [
        Retained("alarm", ("pump", "pump-occlusion"), False)
    ]
    hl7 = "monitor"
    assert tr.on_event(ev("arrhythmia", hl7, rhythm="VT", alarm="VTACH")) == [
        Retained("alarm", (hl7, "arrhythmia-VT"), True)
    ]
    assert tr.on_event(ev("device_alarm", hl7, phase="end", alarm="VTACH")) == [
        Retained("alarm", (hl7, "VTACH"), False),
        Retained("alarm", (hl7, "arrhythmia-VT"), False),
    ]
    tr.on_event(ev("arrhythmia", hl7, rhythm="VF", code=1234))  # a monitor with no end report
    assert tr.on_event(ev("device_disconnected", hl7)) == [
        Retained("state", (hl7,), True),
        Retained("alarm", (hl7, "arrhythmia-VF"), False),
    ]
    assert tr.on_event(ev("blood_gas", "lab")) == []
