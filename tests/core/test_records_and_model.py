"""Value types validate on construction; the JSON Lines format both ways."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import RecordError
from core.model import (
    Alert,
    AlertState,
    Category,
    DeviceEvent,
    EventSource,
    Observation,
    Phase,
    Priority,
    ValueStatus,
)
from core.records import dump_record, parse_record

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_observation_validates() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Observation(t=datetime(2026, 3, 1), bed="B", code="X", value=1.0, unit="%")
    with pytest.raises(ValueError, match="cannot be valid"):
        Observation(t=T0, bed="B", code="X", value=None, unit="%")
    with pytest.raises(ValueError, match="not finite"):
        Observation(t=T0, bed="B", code="X", value=float("nan"), unit="%")
    o = Observation(t=T0, bed="B", code="X", value=None, unit="%", status=ValueStatus.UNAVAILABLE)
    assert not o.usable


def test_alert_iae_follows_category() -> None:
    a = Alert(
        id="1",
        bed="B",
        category=Category.ARRHYTHMIA,
        rule="r",
        priority=Priority.HIGH,
        phase=Phase.START,
        state=AlertState.ACTIVE,
        onset=T0,
        t=T0,
    )
    assert a.iae is True
    assert Category.FEVER.iae is False and Category.DEATH.iae is True


def test_design_md_example_lines_parse() -> None:
    obs = parse_record(
        '{"t": "2026-03-01T08:00:00Z", "bed": "ICU-3", '
        '"code": "MDC_PULS_OXIM_SAT_O2", "value": 94, "unit": "%"}'
    )
    assert obs == Observation(t=T0, bed="ICU-3", code="MDC_PULS_OXIM_SAT_O2", value=94.0, unit="%")
    ev = parse_record(
        '{"t": "2026-03-01T08:00:00Z", "bed": "ICU-3", "event": "infusion_start",'
        ' "weight_kg": 70, "volume_ml": 100, "planned_min": 45}'
    )
    assert ev == DeviceEvent(
        t=T0,
        bed="ICU-3",
        event="infusion_start",
        fields={"weight_kg": 70, "volume_ml": 100, "planned_min": 45},
    )


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"bed": "B", "code": "X", "value": 1, "unit": "%"}', "missing 't'"),
        (
            '{"t": "2026-03-01T08:00:00", "bed": "B", "code": "X", "value": 1, "unit": "%"}',
            "no time zone",
        ),
        ('{"t": "yesterday", "bed": "B", "code": "X", "value": 1, "unit": "%"}', "ISO 8601"),
        (
            '{"t": "2026-03-01T08:00:00Z", "bed": "B", "code": "X", "value": "high", "unit": "%"}',
            "must be a number",
        ),
        ('{"t": "2026-03-01T08:00:00Z", "bed": "B"}', "needs 'code'"),
        ('{"t": "2026-03-01T08:00:00Z", "bed": "", "event": "death"}', "'bed'"),
    ],
)
def test_malformed_lines_name_the_line(line: str, words: str) -> None:
    with pytest.raises(RecordError, match=words) as info:
        parse_record(line, line=17)
    assert info.value.line == 17 and str(info.value).startswith("line 17: ")


@given(
    value=st.floats(-1e6, 1e6, allow_nan=False),
    bed=st.text(min_size=1, max_size=8),
    code=st.from_regex(r"[A-Z_]{1,20}", fullmatch=True),
)
def test_observation_round_trip(value: float, bed: str, code: str) -> None:
    o = Observation(t=T0, bed=bed, code=code, value=value, unit="%", device="m")
    assert parse_record(dump_record(o)) == o


def test_event_round_trip_keeps_source() -> None:
    ev = DeviceEvent(
        t=T0,
        bed="B",
        event="clinical_sign",
        fields={"sign": "wheeze"},
        source=EventSource.CLINICIAN,
    )
    assert parse_record(dump_record(ev)) == ev
