"""MEDIBUS data layouts on hand-built payloads, and hypothesis round trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import DecodeError
from drivers.medibus.layouts import (
    Alarm,
    DataItem,
    DeviceIdentity,
    TextMessage,
    encode_alarms,
    encode_device_id,
    encode_measured,
    encode_settings,
    encode_text_messages,
    format_value,
    parse_alarms,
    parse_device_id,
    parse_measured,
    parse_settings,
    parse_text_messages,
    parse_value,
)


def test_measured_data_items() -> None:
    # FiO2 "  60", PEEP " 5.0", peak pressure "  -2" (sign in a leading space), tidal "    "
    payload = b"F0  6078 5.07D-  288    "
    assert parse_measured(payload) == [
        DataItem(0xF0, "  60", 60.0),
        DataItem(0x78, " 5.0", 5.0),
        DataItem(0x7D, "-  2", -2.0),
        DataItem(0x88, "    ", None),
    ]


def test_measured_codes_accept_lower_case_hex() -> None:
    assert parse_measured(b"f0  21")[0].code == 0xF0


@pytest.mark.parametrize("text", ["    ", "----", " ***", "1e5 ", "inf ", "nan ", " 1_0", "1.2."])
def test_values_without_a_number_are_none(text: str) -> None:
    assert parse_value(text) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("  60", 60.0), ("10.1", 10.1), (" -2.5", -2.5), ("-  3", -3.0), ("  .5", 0.5), ("420", 420)],
)
def test_values(text: str, value: float) -> None:
    assert parse_value(text) == value


@pytest.mark.parametrize("payload", [b"F0  6", b"F0  6078", b"G0  60", b"  0060", b"F\x030060"])
def test_bad_measured_payloads_raise_decode_error(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_measured(payload)


def test_settings_items_are_seven_bytes() -> None:
    assert parse_settings(b"01   600B   12") == [
        DataItem(0x01, "   60", 60.0),
        DataItem(0x0B, "   12", 12.0),
    ]
    with pytest.raises(DecodeError):
        parse_settings(b"01  60")


def test_format_value_drops_decimals_to_fit() -> None:
    assert format_value(60, 4) == "  60"
    assert format_value(11.768, 4, 1) == "11.8"
    assert format_value(420.4, 4, 1) == " 420"
    assert format_value(-2.5, 4, 1) == "-2.5"
    assert format_value(-0.01, 4, 1) == " 0.0"
    with pytest.raises(ValueError):
        format_value(12345, 4)


def test_encode_measured_with_missing_value() -> None:
    assert encode_measured([(0xF0, 60, 0), (0x88, None, 0)]) == b"F0  6088    "
    assert encode_settings([(0x01, 60, 0)]) == b"01   60"


def test_alarms() -> None:
    payload = b";10PAW HIGH    " + b"59APAW LOW     "  # ';' = 0x3B → priority 11
    assert parse_alarms(payload) == [Alarm(11, 0x10, "PAW HIGH"), Alarm(5, 0x9A, "PAW LOW")]
    assert encode_alarms([Alarm(27, 0x10, "PAW HIGH")]) == b"K10PAW HIGH    "  # 'K' = 0x30 + 27


@pytest.mark.parametrize("payload", [b"K10PAW HIGH", b"010PAW HIGH    ", b"P10PAW HIGH    "])
def test_bad_alarm_payloads_raise_decode_error(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_alarms(payload)


def test_text_messages() -> None:
    payload = b"014IPPV\x03" + b"1E7Standby\x03"
    assert parse_text_messages(payload) == [
        TextMessage(0x01, "IPPV"),
        TextMessage(0x1E, "Standby"),
    ]
    assert parse_text_messages(b"") == []
    assert encode_text_messages([TextMessage(0x01, "IPPV")]) == b"014IPPV\x03"


@pytest.mark.parametrize("payload", [b"014IPPV", b"015IPPV\x03", b"01", b"01/\x03"])
def test_bad_text_payloads_raise_decode_error(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_text_messages(payload)


def test_device_identification() -> None:
    ident = parse_device_id(b"0161'Evita4'01.03:06.00")
    assert ident == DeviceIdentity("0161", "Evita4", "01.03:06.00")
    assert ident.device_revision == "01.03" and ident.medibus_version == "06.00"
    assert encode_device_id(ident) == b"0161'Evita4'01.03:06.00"
    padded = encode_device_id(DeviceIdentity("0161", "ICE", "04.03"))
    assert padded == b"0161'ICE'04.03      "  # revision padded to 11 (OICE)
    assert parse_device_id(padded) == DeviceIdentity("0161", "ICE", "04.03")
    assert parse_device_id(b"") == DeviceIdentity("", "", "")


@pytest.mark.parametrize("payload", [b"0161Evita4", b"0161'Evita4", b"01'E'"])
def test_bad_identification_raises_decode_error(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_device_id(payload)


# -- hypothesis ---------------------------------------------------------------------------
_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 255),
            st.one_of(st.none(), st.floats(-99, 999, allow_nan=False)),
            st.integers(0, 2),
        ),
        max_size=20,
    )
)
def test_measured_round_trip(items: list[tuple[int, float | None, int]]) -> None:
    parsed = parse_measured(encode_measured(items))
    assert [p.code for p in parsed] == [code for code, _, _ in items]
    for p, (_, value, _) in zip(parsed, items, strict=True):
        if value is None:
            assert p.value is None
        else:
            assert p.value is not None and abs(p.value - value) <= 0.5 + 1e-9


@given(
    st.lists(
        st.builds(Alarm, st.integers(1, 31), st.integers(0, 255), _text.map(str.strip)),
        max_size=10,
    )
)
def test_alarm_round_trip(alarms: list[Alarm]) -> None:
    assert parse_alarms(encode_alarms(alarms)) == alarms


@given(
    st.lists(
        st.builds(
            TextMessage,
            st.integers(0, 255),
            st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
        ),
        max_size=6,
    )
)
def test_text_round_trip(messages: list[TextMessage]) -> None:
    assert parse_text_messages(encode_text_messages(messages)) == messages


@given(st.binary(max_size=120))
def test_parsers_raise_only_decode_error(data: bytes) -> None:
    for parse in (parse_measured, parse_settings, parse_alarms, parse_text_messages):
        with contextlib.suppress(DecodeError):
            parse(data)
    with contextlib.suppress(DecodeError):
        parse_device_id(data)
