"""MEDIBUS framing: exact bytes both ways, decoder resync rules, hypothesis round trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DecodeError
from drivers.medibus.codec import (
    CAN,
    DC1,
    DC3,
    MAX_COMMAND_BYTES,
    MAX_RESPONSE_BYTES,
    NAK_RESPONSE,
    BadFrame,
    Cmd,
    Command,
    Event,
    FrameDecoder,
    RealtimeData,
    Response,
    checksum_chars,
    decode_frame,
    encode_command,
    encode_response,
)

# (frame, hex bytes) from XEN medibus.Rmd ("Standard messages") and PROTOCOLS.md §1.
EXACT = [
    (Command(Cmd.ICC), "1B 51 36 43 0D"),
    (Command(Cmd.NOP), "1B 30 34 42 0D"),
    (Command(Cmd.STOP), "1B 55 37 30 0D"),
    (Command(Cmd.DEVICE_ID), "1B 52 36 44 0D"),
    (Response(Cmd.ICC), "01 51 35 32 0D"),
    (Response(Cmd.NOP), "01 30 33 31 0D"),
    (Response(Cmd.NAK), "01 15 31 36 0D"),
]


@pytest.mark.parametrize(("frame", "wire"), EXACT)
def test_exact_bytes_encode(frame: Command | Response, wire: str) -> None:
    assert frame.encode() == bytes.fromhex(wire)


@pytest.mark.parametrize(("frame", "wire"), EXACT)
def test_exact_bytes_decode(frame: Command | Response, wire: str) -> None:
    assert decode_frame(bytes.fromhex(wire)) == frame
    assert FrameDecoder().feed(bytes.fromhex(wire)) == [frame]


def test_helpers_match_classes() -> None:
    assert encode_command(Cmd.ICC) == bytes.fromhex("1B 51 36 43 0D")
    assert encode_response(Cmd.NAK) == NAK_RESPONSE == bytes.fromhex("01 15 31 36 0D")


def test_checksum_is_upper_case_and_lower_case_is_accepted() -> None:
    frame = encode_response(Cmd.DATA_CP1, b"F0  60")
    body = b"\x01\x24F0  60"
    assert checksum_chars(body) == b"%02X" % (sum(body) & 0xFF)
    assert frame[-3:-1] == checksum_chars(body)
    assert frame[-3:-1].upper() == frame[-3:-1]
    lower = frame[:-3] + frame[-3:-1].lower() + b"\r"
    assert decode_frame(lower) == Response(Cmd.DATA_CP1, b"F0  60")


def test_checksum_covers_arguments() -> None:
    # ESC + 0x4A + "2405" → 0x1B+0x4A+0x32+0x34+0x30+0x35 = 0x130 → "30"
    assert encode_command(Cmd.CONFIGURE_RESPONSE, b"2405") == b"\x1b\x4a2405" + b"30\r"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x01\x51\x35\x33\r", "checksum"),
        (b"\x01\x51\x35\r", "shorter"),
        (b"\x01\x51\x35\x5a\r", "hex digit"),
        (b"\x02\x51\x35\x32\r", "not ESC or SOH"),
        (b"\x01\x51\x35\x32\n", "CR"),
    ],
)
def test_decode_frame_raises_decode_error(raw: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_frame(raw)


def test_building_an_illegal_frame_is_our_error_not_the_peers() -> None:
    with pytest.raises(ValueError):
        Command(Cmd.NOP, b"\x1b")
    with pytest.raises(ValueError):
        Response(0x0D)
    with pytest.raises(ValueError):
        Command(Cmd.NOP, b"x" * 252)
    with pytest.raises(ValueError):
        Response(Cmd.DATA_CP1, b"\x85")
    with pytest.raises(ValueError):
        Response(Cmd.DATA_CP1, b" " * MAX_RESPONSE_BYTES)


def test_need_more_is_an_empty_list() -> None:
    d = FrameDecoder()
    wire = encode_response(Cmd.DATA_CP1, b"F0  60")
    for b in wire[:-1]:
        assert d.feed(bytes([b])) == []
    assert d.feed(wire[-1:]) == [Response(Cmd.DATA_CP1, b"F0  60")]


def test_realtime_bytes_inside_a_frame_are_routed_aside() -> None:
    wire = encode_response(Cmd.DATA_CP1, b"F0  60")
    mixed = wire[:3] + b"\xd0\xc1" + wire[3:] + b"\x81"
    events = FrameDecoder().feed(mixed)
    assert events == [
        RealtimeData(b"\xd0\xc1"),
        Response(Cmd.DATA_CP1, b"F0  60"),
        RealtimeData(b"\x81"),
    ]


def test_handshake_bytes_are_stripped() -> None:
    wire = encode_command(Cmd.NOP)
    d = FrameDecoder()
    assert d.feed(bytes([DC1]) + wire[:2] + bytes([DC3, CAN]) + wire[2:]) == [Command(Cmd.NOP)]
    assert d.handshake_bytes == 3


def test_bad_checksum_is_an_event_and_the_next_frame_decodes() -> None:
    d = FrameDecoder()
    bad = b"\x01\x24F0  6000\r"
    events = d.feed(bad + encode_command(Cmd.NOP))
    assert isinstance(events[0], BadFrame)
    assert isinstance(events[0].error, DecodeError)
    assert events[0].complete and events[0].start == 0x01 and events[0].code == Cmd.DATA_CP1
    assert events[1] == Command(Cmd.NOP)
    assert d.bad_frames == 1 and d.frames == 1


def test_junk_between_frames_is_reported_once_at_the_next_frame() -> None:
    d = FrameDecoder()
    assert d.feed(b"hello\r") == []
    events = d.feed(encode_command(Cmd.NOP))
    assert isinstance(events[0], BadFrame) and events[0].start is None
    assert events[0].raw == b"hello\r"
    assert events[1] == Command(Cmd.NOP)


def test_truncated_frame_is_reported_when_the_next_starts() -> None:
    events = FrameDecoder().feed(b"\x01\x24F0  " + encode_response(Cmd.NOP))
    assert isinstance(events[0], BadFrame) and not events[0].complete
    assert "truncated" in events[0].reason
    assert events[1] == Response(Cmd.NOP)


def test_a_command_inside_a_response_is_decoded_and_the_response_resumes() -> None:
    response = encode_response(Cmd.DATA_CP1, b"F0  607812.0")
    nop = encode_command(Cmd.NOP)
    cut = 8
    events = FrameDecoder().feed(response[:cut] + nop + response[cut:])
    assert events == [Command(Cmd.NOP), Response(Cmd.DATA_CP1, b"F0  607812.0")]


def test_over_long_frames_are_dropped_until_the_next_start() -> None:
    d = FrameDecoder()
    events = d.feed(b"\x1b\x24" + b"A" * MAX_COMMAND_BYTES + b"00\r" + encode_command(Cmd.NOP))
    assert isinstance(events[0], BadFrame) and "longer" in events[0].reason
    assert events[1:] == [Command(Cmd.NOP)]
    events = d.feed(b"\x01\x24" + b"A" * MAX_RESPONSE_BYTES + encode_response(Cmd.NOP))
    assert isinstance(events[0], BadFrame)
    assert events[1:] == [Response(Cmd.NOP)]


def test_largest_response_fits() -> None:
    data = b"A" * (MAX_RESPONSE_BYTES - 5)
    assert FrameDecoder().feed(encode_response(Cmd.TEXT, data)) == [Response(Cmd.TEXT, data)]


def test_reset_forgets_a_partial_frame() -> None:
    d = FrameDecoder()
    d.feed(b"\x01\x24F0")
    d.reset()
    assert d.feed(b"  60\r") == []


# -- hypothesis ---------------------------------------------------------------------------
_codes = st.integers(0, 0x7F).filter(lambda c: c not in (0x01, 0x0D, 0x11, 0x13, 0x18, 0x1B))
_payload_byte = st.integers(0x02, 0x7F).filter(lambda c: c not in (0x0D, 0x11, 0x13, 0x18, 0x1B))
_payload = st.lists(_payload_byte, max_size=60).map(bytes)
_frames = st.one_of(
    st.builds(Command, _codes, _payload),
    st.builds(Response, _codes, _payload),
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in [*points, len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


def _frames_only(events: list[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, Command | Response)]


@given(st.lists(_frames, max_size=8), st.lists(st.integers(0, 10_000), max_size=10))
def test_round_trip_however_the_bytes_are_split(
    frames: list[Command | Response], cuts: list[int]
) -> None:
    wire = b"".join(f.encode() for f in frames)
    d = FrameDecoder()
    events: list[Event] = []
    for chunk in _split(wire, cuts):
        events += d.feed(chunk)
    assert events == frames


@given(
    st.lists(_frames, min_size=1, max_size=5),
    st.lists(st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=4)), max_size=6),
)
def test_realtime_and_handshake_bytes_anywhere_leave_frames_intact(
    frames: list[Command | Response], inserts: list[tuple[int, bytes]]
) -> None:
    wire = bytearray(b"".join(f.encode() for f in frames))
    for pos, raw in inserts:
        at = pos % (len(wire) + 1)
        wire[at:at] = bytes(b | 0x80 for b in raw) + bytes([DC1])
    events = FrameDecoder().feed(bytes(wire))
    assert _frames_only(events) == frames
    rt = bytearray(b"".join(e.data for e in events if isinstance(e, RealtimeData)))
    assert bytes(rt) == bytes(b for b in wire if b & 0x80)


@settings(max_examples=300)
@given(st.binary(max_size=400), _frames)
def test_garbage_never_raises_and_resyncs_to_the_next_good_frame(
    garbage: bytes, frame: Command | Response
) -> None:
    d = FrameDecoder()
    events = d.feed(garbage) + d.feed(frame.encode())
    for e in events:
        assert isinstance(e, Command | Response | BadFrame | RealtimeData)
        if isinstance(e, BadFrame):
            assert isinstance(e.error, DecodeError)
    assert _frames_only(events)[-1] == frame


@given(st.binary(max_size=300))
def test_decode_frame_raises_only_decode_error(raw: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_frame(raw)


@given(st.lists(_frames, max_size=5), st.integers(0, 10_000), st.integers(0, 255))
def test_one_flipped_byte_never_raises_and_later_frames_survive(
    frames: list[Command | Response], where: int, flip: int
) -> None:
    tail = Command(Cmd.NOP)
    wire = bytearray(b"".join(f.encode() for f in frames))
    if wire:
        wire[where % len(wire)] ^= flip or 1
    events = FrameDecoder().feed(bytes(wire) + tail.encode())
    assert _frames_only(events)[-1] == tail
