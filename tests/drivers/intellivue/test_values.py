"""FLOAT decoding (incl. special values), numerics and alarm lists."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import DecodeError
from drivers.intellivue.values import (
    AlarmEntry,
    decode_float,
    encode_alarm_list,
    encode_float,
    encode_nu_obs_compound,
    encode_nu_obs_value,
    float_special,
    read_alarm_list,
    read_nu_obs_compound,
    read_nu_obs_value,
)
from drivers.intellivue.wire import Reader


@pytest.mark.parametrize(
    ("raw", "value", "special"),
    [
        (0x00000048, 72.0, None),
        (0xFF000174, 37.2, None),  # exponent -1, mantissa 372
        (0xFE002710, 100.0, None),  # exponent -2, mantissa 10000
        (0x01000007, 70.0, None),  # exponent +1
        (0x00FFFFFF, -1.0, None),  # negative mantissa
        (0xFFFFFFF6, -1.0, None),  # -10 × 10^-1
        (0x00000000, 0.0, None),
        (0x007FFFFD, 8388605.0, None),  # largest ordinary mantissa
        (0x007FFFFF, None, "nan"),
        (0x00800000, None, "nres"),
        (0x007FFFFE, None, "+inf"),
        (0x00800002, None, "-inf"),
        (0xFF7FFFFF, None, "nan"),  # the mantissa decides, whatever the exponent
        (0x02800000, None, "nres"),
        (0xFE7FFFFE, None, "+inf"),
        (0x80800002, None, "-inf"),
    ],
)
def test_float_table(raw: int, value: float | None, special: str | None) -> None:
    assert decode_float(raw) == value
    assert float_special(raw) == special


@given(st.integers(-8_000_000, 8_000_000), st.integers(0, 3))
def test_float_round_trip(mantissa: int, decimals: int) -> None:
    value = mantissa / 10**decimals
    assert decode_float(encode_float(value, decimals)) == value


def test_encode_special_values() -> None:
    assert encode_float(None) == 0x007FFFFF
    assert encode_float(float("inf")) == 0x007FFFFE
    assert encode_float(float("-inf")) == 0x00800002
    with pytest.raises(ValueError):
        encode_float(1e9, 2)


def test_numeric_value_and_state() -> None:
    raw = encode_nu_obs_value(0x4BB8, 0x4000, 0x0220, 0xFF0003C5)  # SpO2 96.5, questionable
    assert raw == bytes.fromhex("4bb840000220ff0003c5")
    nv = read_nu_obs_value(Reader(raw), handle=7)
    assert (nv.physio_id, nv.unit_code, nv.value, nv.handle) == (0x4BB8, 0x0220, 96.5, 7)
    assert nv.questionable and not nv.invalid
    assert read_nu_obs_value(Reader(encode_nu_obs_value(1, 0x8000, 2, 0)), 0).invalid
    assert read_nu_obs_value(Reader(encode_nu_obs_value(1, 0x2000, 2, 0)), 0).invalid


def test_compound_numeric() -> None:
    raw = encode_nu_obs_compound(
        [(0x4A15, 0, 0x0F20, 120), (0x4A16, 0, 0x0F20, 60), (0x4A17, 0x2000, 0x0F20, 0x7FFFFF)]
    )
    assert raw[:4] == bytes.fromhex("0003001e")
    values = read_nu_obs_compound(Reader(raw), handle=3)
    assert [v.value for v in values] == [120.0, 60.0, None]
    assert values[2].special == "nan" and values[2].invalid
    with pytest.raises(DecodeError):
        read_nu_obs_compound(Reader(raw[:-1]), handle=3)


ALARMS = [
    AlarmEntry(
        patient=True,
        source=0x4182,
        code=0x0C98,
        type=0x0400,
        state=0x0008,
        object_class=6,
        object_handle=0x101,
        text="***VTach",
    ),
    AlarmEntry(patient=True, source=0x4BB8, code=0x0CAE, type=0x0200, state=0),
]


def test_alarm_list_round_trip_and_layout() -> None:
    raw = encode_alarm_list(ALARMS)
    assert raw[:2] == b"\x00\x02"
    first = raw[4:]
    assert first[:8] == bytes.fromhex("41820c9804000008")
    assert first[14:16] == bytes.fromhex("0204")  # STR_ALMON_INFO: text appended
    assert read_alarm_list(Reader(raw), patient=True) == ALARMS
    assert ALARMS[0].priority == "high" and ALARMS[1].priority == "medium"
    tech = AlarmEntry(patient=False, source=0, code=0x1826, type=0x0002, state=0)
    assert tech.priority == "medium"
    with pytest.raises(DecodeError):
        read_alarm_list(Reader(raw[:-3]), patient=True)


@given(st.binary(max_size=120))
def test_garbage_alarm_list_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        read_alarm_list(Reader(data), patient=False)
