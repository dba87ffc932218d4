"""What the importers share: durations, unit spellings, the synthetic infusion, the error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.model import DeviceEvent, EventSource
from importers.common import (
    SourceError,
    into_record_range,
    observation,
    parse_duration,
    synthetic_infusion,
    unit_of,
    valid_fields,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86400), ("90min", 5400), ("1.5h", 5400), ("2d", 172800), ("30s", 30), ("48", 172800)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@given(st.text(max_size=12))
def test_any_text_is_a_duration_or_a_value_error(text: str) -> None:
    try:
        parse_duration(text)
    except ValueError as exc:
        assert "not a duration" in str(exc)


@pytest.mark.parametrize(
    ("source", "ucum"),
    [
        ("units/hour", "U/h"),
        ("units/min", "U/min"),
        ("mcg/kg/min", "ug/kg/min"),
        ("mcg/kg/hour", "ug/kg/h"),
        ("mcg/hour", "ug/h"),
        ("mL/hour", "mL/h"),
        ("mmHg", "mm[Hg]"),
        ("Deg C", "Cel"),
        ("bpm", "/min"),
        ("mEq/min", "mEq/min"),  # unknown: kept as written
    ],
)
def test_unit_spellings_of_clif_and_wfdb(source: str, ucum: str) -> None:
    assert unit_of(source) == ucum


def test_observation_is_converted_or_kept() -> None:
    assert observation(T0, "B", "MDC_TEMP", 98.6, "degF").value == pytest.approx(37.0)
    # a per-kg norepinephrine dose without a weight waits for the engine's weight
    o = observation(T0, "B", "IAEW_DOSE_NOREPINEPHRINE", 0.1, "mcg/kg/min")
    assert (o.value, o.unit) == (0.1, "ug/kg/min")
    o = observation(T0, "B", "IAEW_DOSE_NOREPINEPHRINE", 0.1, "mcg/kg/min", weight_kg=80)
    assert (o.value, o.unit) == (8.0, "ug/min")


def test_synthetic_infusion_is_a_45_min_100_ml_entry() -> None:
    start, end = synthetic_infusion("B", T0, weight_kg=71.04)
    assert (start.event, start.t, start.source) == ("infusion_start", T0, EventSource.CLINICIAN)
    assert start.fields == {
        "volume_ml": 100.0,
        "planned_min": 45.0,
        "arm": "synthetic",
        "weight_kg": 71.0,
    }
    assert (end.event, end.t, end.fields) == (
        "infusion_end",
        T0 + timedelta(minutes=45),
        {"volume_infused_ml": 100.0},
    )
    (start, _) = synthetic_infusion("B", T0, weight_kg=None)
    assert "weight_kg" not in start.fields


def test_source_error_names_file_row_and_field() -> None:
    e = SourceError("missing time", file="clif_vitals.parquet", line=7, field="recorded_dttm")
    assert str(e) == "clif_vitals.parquet: row 7: recorded_dttm: missing time"
    assert str(SourceError("no signals", file="a.hea")) == "a.hea: no signals"


def test_deidentified_dates_move_by_whole_weeks_into_range() -> None:
    far = [
        synthetic_infusion("B", datetime(y, 5, 1, 12, 30, tzinfo=UTC), weight_kg=70)[0]
        for y in (2150, 2151)
    ]
    moved, shift = into_record_range(far)
    assert shift.days % 7 == 0 and shift.seconds == 0 and shift < timedelta(0)
    assert all(2000 <= r.t.year < 2100 for r in moved)
    assert [r.t.weekday() for r in moved] == [r.t.weekday() for r in far]
    assert moved[1].t - moved[0].t == far[1].t - far[0].t
    (late,), shift = into_record_range(
        [far[0].__class__(**{**_event_kw(far[0]), "t": datetime(2211, 1, 1, tzinfo=UTC)})]
    )
    assert 2000 <= late.t.year < 2100
    now = synthetic_infusion("B", T0, weight_kg=70)
    assert into_record_range(now) == (now, timedelta(0))


def _event_kw(e: DeviceEvent) -> dict[str, object]:
    return {"bed": e.bed, "event": e.event, "fields": e.fields, "source": e.source}


def test_values_the_vocabulary_refuses_are_dropped() -> None:
    assert valid_fields("blood_gas", {"ph": 0.0, "pao2_mmhg": 80.0, "note": "x"}) == {
        "pao2_mmhg": 80.0,
        "note": "x",
    }
    (start, _) = synthetic_infusion("B", T0, weight_kg=4000)
    assert "weight_kg" not in start.fields
