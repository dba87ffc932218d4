"""MLLP framing: exact bytes, reads split anywhere, garbage and resync."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DecodeError
from drivers.hl7.mllp import CR, EB, SB, MllpDecoder, frame

# (message, framed bytes): python-hl7 hl7/client.py wraps as SB + message + EB + CR.
FRAMES = [
    (b"MSH|^~\\&|A\r", b"\x0bMSH|^~\\&|A\r\x1c\x0d"),
    (b"", b"\x0b\x1c\x0d"),
    (
        b"MSH|^~\\&|CMS||||||ACK|1|P|2.6\rMSA|AA|42\r",
        b"\x0bMSH|^~\\&|CMS||||||ACK|1|P|2.6\rMSA|AA|42\r\x1c\r",
    ),
]


def test_constants_are_the_mllp_bytes() -> None:
    assert (SB, EB, CR) == (0x0B, 0x1C, 0x0D)


@pytest.mark.parametrize(("message", "wire"), FRAMES)
def test_frame_bytes_both_ways(message: bytes, wire: bytes) -> None:
    assert frame(message) == wire
    dec = MllpDecoder()
    dec.feed(wire)
    assert dec.next_frame() == message
    assert dec.next_frame() is None
    assert dec.buffered == 0


def test_frame_refuses_mllp_bytes_inside() -> None:
    with pytest.raises(ValueError):
        frame(b"MSH\x1c")
    with pytest.raises(ValueError):
        frame(b"\x0bMSH")


def test_several_messages_in_one_read_and_one_split_byte_by_byte() -> None:
    stream = frame(b"one") + frame(b"two") + frame(b"three")
    dec = MllpDecoder()
    dec.feed(stream)
    assert [dec.next_frame(), dec.next_frame(), dec.next_frame(), dec.next_frame()] == [
        b"one",
        b"two",
        b"three",
        None,
    ]
    dec = MllpDecoder()
    got = []
    for byte in stream:
        dec.feed(bytes((byte,)))
        while (m := dec.next_frame()) is not None:
            got.append(m)
    assert got == [b"one", b"two", b"three"]
    assert dec.frames == 3


def test_need_more_data_is_none() -> None:
    dec = MllpDecoder()
    dec.feed(b"\x0bMSH|^~\\&|")
    assert dec.next_frame() is None
    dec.feed(b"X\x1c")
    assert dec.next_frame() == b"MSH|^~\\&|X"
    dec.feed(b"\x0d")  # the CR after EB arrives in the next read
    assert dec.next_frame() is None
    assert dec.buffered == 0


def test_garbage_before_a_block_is_reported_once_then_skipped() -> None:
    dec = MllpDecoder()
    dec.feed(b"noise!" + frame(b"ok"))
    with pytest.raises(DecodeError, match="6 byte"):
        dec.next_frame()
    assert dec.next_frame() == b"ok"
    assert dec.garbage_bytes == 6


@given(st.lists(st.integers(1, 20), min_size=1, max_size=8))
def test_garbage_in_many_reads_is_one_report(pieces: list[int]) -> None:
    """A run of garbage is one bad frame however the link splits it."""
    dec = MllpDecoder()
    errors = 0
    for n in pieces:
        dec.feed(b"x" * n)
        with contextlib.suppress(DecodeError):
            assert dec.next_frame() is None
            continue
        errors += 1
    dec.feed(frame(b"ok") + b"junk" + frame(b"again"))
    got = []
    while True:
        try:
            message = dec.next_frame()
        except DecodeError:
            errors += 1
            continue
        if message is None:
            break
        got.append(message)
    assert got == [b"ok", b"again"]
    assert errors == 2 and dec.garbage_bytes == sum(pieces) + 4


def test_line_ends_between_blocks_are_not_garbage() -> None:
    dec = MllpDecoder()
    dec.feed(frame(b"a") + b"\r\n" + frame(b"b"))
    assert dec.frames_available() == [b"a", b"b"]
    assert dec.garbage_bytes == 0


def test_eb_without_cr_still_ends_the_block() -> None:
    dec = MllpDecoder()
    dec.feed(b"\x0ba\x1c\x0bb\x1c\x0d")
    assert dec.frames_available() == [b"a", b"b"]


def test_a_new_start_inside_a_block_drops_the_cut_block() -> None:
    dec = MllpDecoder()
    dec.feed(b"\x0bMSH|cut short" + frame(b"whole"))
    with pytest.raises(DecodeError, match="cut short"):
        dec.next_frame()
    assert dec.next_frame() == b"whole"


def test_oversize_block_is_dropped_and_the_next_one_read() -> None:
    dec = MllpDecoder(max_size=8)
    dec.feed(b"\x0b" + b"x" * 20)
    with pytest.raises(DecodeError, match="longer"):
        dec.next_frame()
    dec.feed(b"still the big one\x1c\x0d" + frame(b"small"))
    assert dec.next_frame() == b"small"
    dec = MllpDecoder(max_size=8)
    dec.feed(frame(b"y" * 9) + frame(b"fits"))
    with pytest.raises(DecodeError):
        dec.next_frame()
    assert dec.next_frame() == b"fits"


messages = st.lists(
    st.binary(max_size=60).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b"")),
    min_size=1,
    max_size=6,
)


@given(messages, st.lists(st.integers(min_value=0, max_value=500), max_size=10))
def test_any_split_gives_back_the_messages(msgs: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(m) for m in msgs)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    dec = MllpDecoder()
    got: list[bytes] = []
    for a, b in itertools.pairwise(points):
        dec.feed(stream[a:b])
        got.extend(dec.frames_available())
    assert got == msgs


@settings(max_examples=300)
@given(st.binary(max_size=300), st.binary(max_size=40).map(lambda b: b.replace(b"\x0b", b"")))
def test_garbage_raises_only_decode_error_and_resyncs(junk: bytes, tail: bytes) -> None:
    """Any bytes: only DecodeError; then a good frame after a flush is read intact."""
    dec = MllpDecoder(max_size=1000)
    dec.feed(junk)
    for _ in range(len(junk) + 2):
        try:
            if dec.next_frame() is None:
                break
        except DecodeError:
            pass
    # An EB ends whatever block the junk left open; the next SB starts clean.
    good = tail.replace(b"\x1c", b"")
    dec.feed(b"\x1c\x0d" + frame(good))
    assert good in dec.frames_available()
