"""Framing: FCS check values, transparency tables, hand-built frames, decoder resync."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import DecodeError
from drivers.intellivue.framing import (
    BadFrame,
    Frame,
    FrameDecoder,
    crc16_update,
    decode_frame,
    encode_frame,
    escape,
    fcs16,
    unescape,
)


def _bitwise_fcs(data: bytes) -> int:
    """An independent, bit-at-a-time CRC-16/X.25 (RFC 1662 appendix C), for cross-checking."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def test_fcs_check_value() -> None:
    assert fcs16(b"123456789") == 0x906E
    assert _bitwise_fcs(b"123456789") == 0x906E


@given(st.binary(max_size=300))
def test_fcs_residue_and_table_match_bitwise(data: bytes) -> None:
    fcs = fcs16(data)
    assert fcs == _bitwise_fcs(data)
    assert crc16_update(0xFFFF, data + fcs.to_bytes(2, "little")) == 0xF0B8


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        (b"\xc0", b"\x7d\xe0"),
        (b"\xc1", b"\x7d\xe1"),
        (b"\x7d", b"\x7d\x5d"),
        (b"\x11\x01\x00\x1c", b"\x11\x01\x00\x1c"),
        (b"\x20\xe0\x5d", b"\x20\xe0\x5d"),
        (b"\xc0\xc1\x7d", b"\x7d\xe0\x7d\xe1\x7d\x5d"),
    ],
)
def test_escaping_table(raw: bytes, escaped: bytes) -> None:
    assert escape(raw) == escaped
    assert unescape(escaped) == raw


# VSC's MDS Create result (DataConstants.mds_create_resp_msg), 28 bytes of user data.
MDS_CREATE_RESULT = bytes.fromhex("e10000020002001400010001000e002100000000000abd000d060000")


def test_hand_built_frame() -> None:
    header = bytes([0x11, 0x01, 0x00, 0x1C])
    fcs = _bitwise_fcs(header + MDS_CREATE_RESULT)
    expected = b"\xc0" + escape(header + MDS_CREATE_RESULT + fcs.to_bytes(2, "little")) + b"\xc1"
    frame = encode_frame(MDS_CREATE_RESULT)
    assert frame == expected
    assert frame[:5] == bytes([0xC0, 0x11, 0x01, 0x00, 0x1C])  # no byte here needs escaping
    assert frame[5:9] == bytes.fromhex("e1000002")
    assert decode_frame(frame) == MDS_CREATE_RESULT


def test_header_and_fcs_are_escaped_too() -> None:
    data = bytes(0xC0)  # the length field's low byte is 0xC0
    frame = encode_frame(data)
    assert frame[:6] == bytes([0xC0, 0x11, 0x01, 0x00, 0x7D, 0xE0])
    assert decode_frame(frame) == data
    # find user data whose FCS holds a special byte and check it is escaped
    for n in range(2000):
        payload = n.to_bytes(2, "big")
        header = bytes([0x11, 0x01, 0x00, 0x02])
        fcs = fcs16(header + payload).to_bytes(2, "little")
        if any(b in (0xC0, 0xC1, 0x7D) for b in fcs):
            break
    frame = encode_frame(payload)
    assert frame.count(0x7D) >= 1
    assert decode_frame(frame) == payload


@given(st.binary(max_size=400))
def test_round_trip(data: bytes) -> None:
    frame = encode_frame(data)
    assert frame[0] == 0xC0 and frame[-1] == 0xC1
    assert 0xC0 not in frame[1:-1] and 0xC1 not in frame[1:-1]
    assert decode_frame(frame) == data
    assert FrameDecoder().feed(frame) == [Frame(data)]


@given(st.lists(st.binary(max_size=60), min_size=1, max_size=5), st.data())
def test_split_anywhere_same_frames(payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = FrameDecoder()
    out = []
    start = 0
    for cut in [*cuts, len(stream)]:
        out += decoder.feed(stream[start:cut])
        start = cut
    assert out == [Frame(p) for p in payloads]


def test_bad_fcs_is_reported_and_next_frame_decodes() -> None:
    good = encode_frame(b"\xe1\x00\x00\x02")
    bad = encode_frame(b"\xe1\x00\x00\x02", fcs=0x1234)
    decoder = FrameDecoder()
    out = decoder.feed(bad + good)
    assert isinstance(out[0], BadFrame) and "FCS" in out[0].reason
    assert out[1] == Frame(b"\xe1\x00\x00\x02")
    assert (decoder.frames, decoder.bad_frames) == (1, 1)
    with pytest.raises(DecodeError, match="FCS"):
        decode_frame(bad)


def test_bad_length_and_header() -> None:
    data = b"\x01\x02\x03"
    header = bytes([0x11, 0x01, 0x00, 0x05])  # says 5, holds 3
    body = header + data
    frame = b"\xc0" + escape(body + fcs16(body).to_bytes(2, "little")) + b"\xc1"
    out = FrameDecoder().feed(frame + encode_frame(data))
    assert isinstance(out[0], BadFrame) and "length" in out[0].reason
    assert out[1] == Frame(data)
    wrong = b"\xc0\x12\x01\x00\x00\xaa\xbb\xc1"
    out = FrameDecoder().feed(wrong + encode_frame(data))
    assert isinstance(out[0], BadFrame) and "header" in out[0].reason
    assert out[-1] == Frame(data)


def test_abort_sequence_discards_frame() -> None:
    partial = encode_frame(b"\x01\x02\x03")[:8] + b"\x7d\xc1"  # start, header, data
    out = FrameDecoder().feed(partial + encode_frame(b"\x09"))
    assert isinstance(out[0], BadFrame) and "abort" in out[0].reason
    assert out[1] == Frame(b"\x09")


def test_stray_bytes_and_cut_frames() -> None:
    frame = encode_frame(b"\x0e\x00")
    out = FrameDecoder().feed(b"\x01\x02\x03" + frame[:6] + frame)
    assert [type(r) for r in out] == [BadFrame, BadFrame, Frame]
    assert out[0].size == 3


def test_runaway_frame_is_cut_at_max_length() -> None:
    decoder = FrameDecoder(max_user_data=10)
    out = decoder.feed(b"\xc0\x11\x01\x00\x20" + b"\x00" * 40 + encode_frame(b"ok"))
    assert isinstance(out[0], BadFrame)
    assert out[-1] == Frame(b"ok")


@given(st.binary(max_size=500))
def test_garbage_never_raises_and_resyncs(garbage: bytes) -> None:
    decoder = FrameDecoder()
    out = decoder.feed(garbage)
    assert all(isinstance(r, Frame | BadFrame) for r in out)
    # whatever the garbage left behind, the next good frame after a fresh start byte decodes
    tail = decoder.feed(b"\xc0" + encode_frame(b"\xe1hello"))
    assert tail[-1] == Frame(b"\xe1hello")


@given(st.binary(max_size=200))
def test_decode_frame_only_raises_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_frame(data)


@given(st.binary(min_size=1, max_size=80), st.integers(0, 10_000), st.integers(0, 7))
def test_flipped_bit_is_detected(data: bytes, pos: int, bit: int) -> None:
    frame = bytearray(encode_frame(data))
    i = 1 + pos % (len(frame) - 2)
    frame[i] ^= 1 << bit
    out = FrameDecoder().feed(bytes(frame))
    assert Frame(data) not in out or bytes(frame) == encode_frame(data)
