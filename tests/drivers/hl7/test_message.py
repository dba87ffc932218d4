"""The HL7 v2 parser/writer: delimiters from MSH-2, escapes, DTM, acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DecodeError
from drivers.hl7.message import (
    Encoding,
    build_ack,
    compose,
    format_dtm,
    parse_dtm,
    parse_message,
)

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_fields_components_repetitions_by_hl7_numbering() -> None:
    msg = parse_message(
        b"MSH|^~\\&|CMS^00A0370000000001^EUI-64|WARD|||20260301080000||ORU^R01^ORU_R01|42|P|2.6\r"
        b"PID|||12345^^^HOSP^PI~999^^^NAT||Doe^Jane\r"
    )
    msh = msg.msh
    assert msh.field(1) == "|"
    assert msh.field(2) == "^~\\&"
    assert msh.field(3) == "CMS^00A0370000000001^EUI-64"
    assert msh.component(3, 2) == "00A0370000000001"
    assert msg.control_id == "42"
    assert msg.message_type == ("ORU", "R01", "ORU_R01")
    pid = msg.first("PID")
    assert pid is not None
    assert pid.repetitions(3) == ["12345^^^HOSP^PI", "999^^^NAT"]
    assert pid.component(3, 1, rep=1) == "999"
    assert pid.component(5, 2) == "Jane"
    assert pid.field(30) == ""
    assert pid.component(3, 9) == ""


def test_encoding_characters_come_from_msh2() -> None:
    msg = parse_message(b"MSH#*@!%#APP#FAC#####ORU*R01#7\rOBX#1#NM#1*A@2*B#x!S!y\r")
    assert msg.encoding == Encoding("#", "*", "@", "!", "%")
    obx = msg.first("OBX")
    assert obx is not None
    assert obx.repetitions(3) == ["1*A", "2*B"]
    assert obx.component(3, 2, rep=1) == "B"
    assert obx.text(4) == "x*y"  # !S! is the component separator, escaped
    assert msg.control_id == "7"


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        (r"a\F\b", "a|b"),
        (r"a\S\b", "a^b"),
        (r"a\T\b", "a&b"),
        (r"a\R\b", "a~b"),
        (r"a\E\b", "a\\b"),
        ("\\X41\\", "A"),
        ("\\X0D0A\\", "\r\n"),
        (r"line\.br\two", r"line\.br\two"),  # formatting escapes are kept
        ("lone\\", "lone\\"),
    ],
)
def test_unescape(written: str, meant: str) -> None:
    assert Encoding().unescape(written) == meant


@given(st.text(alphabet=st.characters(codec="latin-1"), max_size=40))
def test_escape_round_trip(text: str) -> None:
    enc = Encoding()
    escaped = enc.escape_text(text)
    assert not set("|^~&\r\n") & set(escaped)
    assert enc.unescape(escaped) == text


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"PID|||1\r",
        b"MSH|^~\r",
        b"MSH|^~\\&\\|x\r",
        b"MSH|^^\\&|x\r",
        b"MSH|^~\\&|A\rob|1\r",
        b"MSH|^~\\&|A\rMSH|^~\\&|B\r",
        b"MSHa^~\\&a\r",
    ],
)
def test_malformed_messages_raise_decode_error(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_message(payload)


def test_line_feeds_are_read_as_segment_ends() -> None:
    msg = parse_message(b"MSH|^~\\&|A||||||ORU^R01|1\r\nPID|||3\n\nOBR|1\n")
    assert [s.name for s in msg.segments] == ["MSH", "PID", "OBR"]


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_any_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        parse_message(b"MSH|^~\\&|" + data)
        parse_message(data)
    except DecodeError:
        pass


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20260301080000+0000", T),
        ("20260301090000+0100", T),
        ("20260301080000.1234+0000", T + timedelta(microseconds=123400)),
        ("202603010800", T),
        ("20260301", T - timedelta(hours=8)),
        ("20260301030000-0500", T),
        ("", None),
        ("2026-03-01", None),
        ("20261301", None),
        ("20260301080000+2500", None),
    ],
)
def test_parse_dtm(text: str, expected: datetime | None) -> None:
    assert parse_dtm(text) == expected


def test_dtm_without_offset_reads_in_the_assumed_zone() -> None:
    cet = timezone(timedelta(hours=1))
    assert parse_dtm("20260301090000", cet) == T
    assert format_dtm(T) == "20260301080000+0000"


def test_compose_writes_msh_delimiters_and_drops_trailing_empty_fields() -> None:
    out = compose([["MSH", "APP", "", "", "", "20260301080000", "", "ACK"], ["MSA", "AA", "1", ""]])
    assert out == b"MSH|^~\\&|APP||||20260301080000||ACK\rMSA|AA|1\r"


INCOMING = parse_message(
    b"MSH|^~\\&|CMS|WARD7|IAEWATCH|IAEWATCH|20260301075959||ORU^R01^ORU_R01|MSG00042|P|2.6\r"
)


def test_ack_aa_bytes() -> None:
    ack = build_ack(INCOMING, "AA", control_id="IAEW1", now=T)
    assert ack == (
        b"MSH|^~\\&|IAEWATCH|IAEWATCH|CMS|WARD7|20260301080000+0000||ACK^R01^ACK|IAEW1|P|2.6\r"
        b"MSA|AA|MSG00042\r"
    )


def test_ack_ae_and_ar_carry_err_segment() -> None:
    ack = build_ack(INCOMING, "AE", control_id="2", now=T, text="bad|value", error_code="102")
    assert ack.split(b"\r")[1:] == [
        b"MSA|AE|MSG00042|bad\\F\\value",
        b"ERR|||102^Data type error^HL70357|E||||bad\\F\\value",
        b"",
    ]
    ar = build_ack(INCOMING, "AR", control_id="3", now=T, text="who?", error_code="204")
    assert b"MSA|AR|MSG00042|who?\r" in ar
    assert b"ERR|||204^Unknown key identifier^HL70357|E" in ar


def test_ack_of_unparseable_message_has_empty_msa2() -> None:
    ack = build_ack(None, "AE", control_id="4", now=T, text="no MSH")
    assert b"\rMSA|AE||no MSH\r" in ack
    with pytest.raises(ValueError):
        build_ack(None, "OK", control_id="5", now=T)


def test_ora_r41_for_alarms() -> None:
    ack = build_ack(
        INCOMING,
        "AA",
        control_id="6",
        now=T,
        message_type="ORA",
        trigger="R41",
        structure="ORA_R41",
    )
    assert parse_message(ack).message_type == ("ORA", "R41", "ORA_R41")
