"""The one alert record (`core.records.alert_record`) and the one time formatter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.errors import RecordError
from core.model import Alert, AlertState, Category, Phase, Priority
from core.records import alert_from_record, alert_record, format_time, format_time_or_none

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))


def _alert(**kw: object) -> Alert:
    base: dict[str, object] = {
        "id": "a1",
        "bed": "ICU-1",
        "category": Category.ARRHYTHMIA,
        "rule": "arrhythmia",
        "priority": Priority.HIGH,
        "phase": Phase.ACK,
        "state": AlertState.ACKNOWLEDGED,
        "onset": T0,
        "t": T0 + timedelta(seconds=30),
        "message": "VT",
        "evidence": {"rhythm": "VT"},
        "seq": 7,
        "acked_by": "nurse1",
        "acked_at": T0 + timedelta(seconds=30),
    }
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def test_format_time_is_utc_with_z_whatever_the_zone() -> None:
    local = datetime(2026, 3, 1, 16, 0, 0, 250000, tzinfo=SHANGHAI)
    assert format_time(local) == "2026-03-01T08:00:00.250000Z"
    assert format_time(T0) == "2026-03-01T08:00:00Z"
    assert format_time_or_none(None) is None


def test_format_time_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_time(datetime(2026, 3, 1, 8, 0))


def test_alert_record_round_trip_and_shape() -> None:
    a = _alert(onset=datetime(2026, 3, 1, 16, 0, tzinfo=SHANGHAI), t=T0 + timedelta(minutes=1))
    rec = alert_record(a)
    assert rec["onset"] == "2026-03-01T08:00:00Z"
    assert rec["iae"] is True and rec["seq"] == 7 and rec["ended_at"] is None
    assert set(rec) == {
        "id", "seq", "bed", "category", "iae", "rule", "priority", "phase", "state",
        "onset", "t", "message", "evidence", "acked_by", "acked_at", "ended_at",
    }  # fmt: skip
    assert alert_from_record(rec) == a


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"id": "x"},
        {**alert_record(_alert()), "category": "nope"},
        {**alert_record(_alert()), "t": 3},
    ],
)
def test_alert_from_record_refuses_what_is_not_an_alert(bad: dict[str, object]) -> None:
    with pytest.raises(RecordError):
        alert_from_record(bad)
