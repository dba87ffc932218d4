"""An observation line as `dump_record` writes it is read without the JSON decoder; it must
give exactly what the decoder's path gives, and every fault must still be named."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.errors import RecordError
from core.model import Observation, ValueStatus
from core.records import dump_record, parse_record

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def line(
    value: str, *, bed: str = "ICU-1", extra: str = "", t: str = "2026-03-01T08:00:00Z"
) -> str:
    return (
        f'{{"t": "{t}", "bed": "{bed}", "code": "MDC_PULS_OXIM_SAT_O2", "value": {value}, '
        f'"unit": "%"{extra}}}'
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("94", 94.0),
        ("94.50", 94.5),
        ("-0", 0.0),
        ("-0.0", -0.0),
        ("1e3", 1000.0),
        ("-12.5E+2", -1250.0),
        ("123456789012345678", 123456789012345678.0),
        ("1234567890123456789", 1.234567890123456789e18),
    ],
)
def test_numbers_read_as_the_decoder_reads_them(value: str, expected: float) -> None:
    obs = parse_record(line(value))
    assert isinstance(obs, Observation)
    assert obs.value == expected
    assert math.copysign(1.0, obs.value) == math.copysign(1.0, expected)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (line("1e999"), "not finite"),
        (line("01"), "not JSON"),
        (line("NaN"), "not JSON"),
        (line("1", bed=""), "'bed' must be a non-empty string"),
        (line("1", t="2026-03-01T08:00:00"), "no time zone"),
        (line("1", t="1999-03-01T08:00:00Z"), "outside 2000-2099"),
        (line("1", extra=', "status": "bogus"'), "unknown 'status'"),
        (line("1", bed="ICU\t1"), "not JSON"),
    ],
)
def test_faults_are_named_with_the_line(text: str, words: str) -> None:
    with pytest.raises(RecordError, match=words) as err:
        parse_record(text, line=7)
    assert err.value.line == 7


def test_same_record_as_the_decoder_path() -> None:
    escaped = parse_record(line("93.5", bed="ICU-\\u0031"))  # an escape: the decoder reads it
    plain = parse_record("  " + line("93.5") + "\r\n")
    assert plain == escaped
    flagged = parse_record(line("93.5", extra=', "status": "questionable", "device": "mon"'))
    assert isinstance(flagged, Observation)
    assert (flagged.status, flagged.device) == (ValueStatus.QUESTIONABLE, "mon")
    local = parse_record(line("93.5", t="2026-03-01T16:00:00+08:00"))
    assert local.t == T0 and local.t.utcoffset() == timedelta(hours=8)
    assert local.t.tzinfo == timezone(timedelta(hours=8))


def test_dump_record_lines_come_back_equal() -> None:
    for i, status in enumerate(ValueStatus):
        value = None if status is ValueStatus.UNAVAILABLE else 90.0 + i / 3
        obs = Observation(
            t=T0 + timedelta(seconds=i),
            bed="床 3",
            code="MDC_PULS_OXIM_SAT_O2",
            value=value,
            unit="%",
            device="mon-1" if i % 2 else None,
            status=status,
        )
        assert parse_record(dump_record(obs)) == obs
