"""IntelliVue Data Export framing on MIB/RS-232 (sans-IO).

Frame layout (VSC, OICE)::

    0xC0 | 0x11 0x01 LEN_hi LEN_lo | user data (LEN bytes) | FCS_lo FCS_hi | 0xC1

- header: protocol id 0x11, message type 0x01, the user-data length as big-endian u16;
- FCS: CRC-16/X.25 (the PPP FCS-16: reflected polynomial 0x8408, initial 0xFFFF, result
  complemented) over the *unescaped* header and user data, sent low byte first. Running the CRC
  over header + data + FCS leaves the residue 0xF0B8;
- transparency: between the start and end bytes every 0xC0, 0xC1 or 0x7D (header and FCS
  included) is sent as 0x7D followed by the byte XOR 0x20; 0x7D 0xC1 aborts the frame.

Resynchronisation rules of `FrameDecoder`:
- bytes outside a frame are dropped; a run of them is reported as one `BadFrame` when the next
  0xC0 ends it;
- an unescaped 0xC0 inside a frame ends the broken frame (a `BadFrame`) and starts a new one;
- a frame whose header is wrong, whose content outgrows its length field, or whose FCS or
  length does not match is a `BadFrame`; the decoder then hunts for the next 0xC0;
- `7D C1` (sender abort) discards the frame as a `BadFrame` and hunts.
Results never depend on how the byte stream was split across `feed` calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from core.errors import DecodeError

BOF = 0xC0  # start of frame (VSC Class3 BOFCHAR, OICE)
EOF = 0xC1  # end of frame (VSC EOFCHAR, OICE)
ESC = 0x7D  # control escape (VSC ESCAPECHAR, OICE)
ESC_XOR = 0x20  # escaped byte = byte XOR 0x20 (VSC BIT5COMPL, OICE)
PROTOCOL_ID = 0x11  # header byte 1: Data Export protocol id (VSC, OICE)
MSG_TYPE = 0x01  # header byte 2: message type (VSC, OICE)
HEADER_LEN = 4  # protocol id, message type, u16 length (VSC, OICE)
FCS_LEN = 2  # (VSC, OICE)
FCS_INIT = 0xFFFF  # CRC-16/X.25 initial value (OICE FCSOutputStream, VSC)
FCS_GOOD = 0xF0B8  # residue over data + FCS (RFC 1662 PPPGOODFCS16; OICE, VSC)
MAX_RS232_MESSAGE = 1000  # largest message on RS-232 (IVH max MTU on MIB/RS232)
DEFAULT_MAX_USER_DATA = 0xFFFF  # the u16 length field's limit; guard against runaway frames

_SPECIAL = frozenset({BOF, EOF, ESC})


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1  # reflected 0x1021 (OICE)
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_update(crc: int, data: bytes) -> int:
    """Run the reflected CRC-16/X.25 register over `data` (no final complement)."""
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


def fcs16(data: bytes) -> int:
    """The frame check sequence of `data`: CRC-16/X.25 (`fcs16(b"123456789") == 0x906E`)."""
    return crc16_update(FCS_INIT, data) ^ 0xFFFF


def escape(data: bytes) -> bytes:
    """Apply transparency: 0xC0, 0xC1 and 0x7D become 0x7D, byte ^ 0x20."""
    out = bytearray()
    for byte in data:
        if byte in _SPECIAL:
            out += bytes((ESC, byte ^ ESC_XOR))
        else:
            out.append(byte)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    """Undo transparency on the bytes between start and end (DecodeError on a dangling 0x7D)."""
    out = bytearray()
    it = iter(data)
    for byte in it:
        if byte == ESC:
            nxt = next(it, None)
            if nxt is None:
                raise DecodeError("escape byte at the end of the frame")
            out.append(nxt ^ ESC_XOR)
        else:
            out.append(byte)
    return bytes(out)


def encode_frame(user_data: bytes, *, fcs: int | None = None) -> bytes:
    """One escaped frame around `user_data`; `fcs` overrides the checksum (fault injection)."""
    if len(user_data) > 0xFFFF:
        raise ValueError(f"user data of {len(user_data)} bytes does not fit a frame")
    header = bytes((PROTOCOL_ID, MSG_TYPE)) + len(user_data).to_bytes(2, "big")
    body = header + user_data
    check = fcs16(body) if fcs is None else fcs & 0xFFFF
    return bytes((BOF,)) + escape(body + check.to_bytes(2, "little")) + bytes((EOF,))


def decode_frame(frame: bytes) -> bytes:
    """The user data of exactly one complete frame `C0 … C1`; DecodeError otherwise."""
    decoder = FrameDecoder()
    results = decoder.feed(frame)
    complete = decoder.idle
    if complete and len(results) == 1 and isinstance(results[0], Frame):
        return results[0].user_data
    bad = next((r for r in results if isinstance(r, BadFrame)), None)
    if bad is not None:
        raise bad.error
    raise DecodeError("not exactly one complete frame")


def _check(body: bytes) -> bytes:
    if len(body) < HEADER_LEN + FCS_LEN:
        raise DecodeError(f"frame of {len(body)} bytes is shorter than header and FCS")
    if body[0] != PROTOCOL_ID or body[1] != MSG_TYPE:
        raise DecodeError(f"bad header {body[:2].hex()} (want 1101)")
    length = int.from_bytes(body[2:4], "big")
    got = len(body) - HEADER_LEN - FCS_LEN
    if length != got:
        raise DecodeError(f"length field says {length} bytes, frame holds {got}")
    if crc16_update(FCS_INIT, body) != FCS_GOOD:
        want = fcs16(body[:-FCS_LEN])
        have = int.from_bytes(body[-FCS_LEN:], "little")
        raise DecodeError(f"bad FCS {have:04x} (computed {want:04x})")
    return body[HEADER_LEN:-FCS_LEN]


@dataclass(frozen=True, slots=True)
class Frame:
    """A good frame's user data."""

    user_data: bytes


@dataclass(frozen=True, slots=True)
class BadFrame:
    """Bytes the decoder had to discard, and why."""

    reason: str
    size: int = 0

    @property
    def error(self) -> DecodeError:
        return DecodeError(self.reason)


FrameResult = Frame | BadFrame


class _State(Enum):
    HUNT = "hunt"  # outside a frame, dropping bytes until 0xC0
    BODY = "body"  # inside a frame
    ESCAPED = "escaped"  # inside a frame, the previous byte was 0x7D


class FrameDecoder:
    """Incremental decoder: `feed(bytes)` → list of `Frame` / `BadFrame`, never raises."""

    def __init__(self, *, max_user_data: int = DEFAULT_MAX_USER_DATA) -> None:
        self.max_user_data = max_user_data
        self._state = _State.HUNT
        self._buf = bytearray()
        self._stray = 0
        self.frames = 0
        self.bad_frames = 0

    @property
    def idle(self) -> bool:
        """True between frames with nothing pending (no partial frame, no stray bytes)."""
        return self._state is _State.HUNT and not self._stray and not self._buf

    def feed(self, data: bytes) -> list[FrameResult]:
        out: list[FrameResult] = []
        for byte in data:
            result = self._step(byte)
            if result is not None:
                if isinstance(result, Frame):
                    self.frames += 1
                else:
                    self.bad_frames += 1
                out.append(result)
        return out

    def _step(self, byte: int) -> FrameResult | None:
        state = self._state
        if state is _State.HUNT:
            if byte != BOF:
                self._stray += 1
                return None
            self._start()
            if self._stray:
                stray, self._stray = self._stray, 0
                return BadFrame(f"{stray} byte(s) outside a frame", stray)
            return None
        if state is _State.ESCAPED:
            if byte == EOF:
                return self._fail("frame aborted by the sender (7D C1)")
            if byte == BOF:
                size = len(self._buf)
                self._start()
                return BadFrame("start byte after an escape byte", size)
            self._state = _State.BODY
            return self._append(byte ^ ESC_XOR)
        # BODY
        if byte == ESC:
            self._state = _State.ESCAPED
            return None
        if byte == BOF:
            size = len(self._buf)
            self._start()
            return BadFrame("frame cut short by a new start byte", size)
        if byte == EOF:
            body = bytes(self._buf)
            self._hunt()
            try:
                return Frame(_check(body))
            except DecodeError as exc:
                return BadFrame(str(exc), len(body))
        return self._append(byte)

    def _append(self, byte: int) -> BadFrame | None:
        buf = self._buf
        buf.append(byte)
        n = len(buf)
        if n == 2 and (buf[0] != PROTOCOL_ID or buf[1] != MSG_TYPE):
            return self._fail(f"bad header {bytes(buf).hex()} (want 1101)")
        if n > HEADER_LEN:
            length = int.from_bytes(buf[2:4], "big")
            if length > self.max_user_data:
                return self._fail(f"length field {length} exceeds {self.max_user_data}")
            if n > HEADER_LEN + length + FCS_LEN:
                return self._fail(f"frame longer than its length field ({length})")
        return None

    def _fail(self, reason: str) -> BadFrame:
        size = len(self._buf)
        self._hunt()
        return BadFrame(reason, size)

    def _start(self) -> None:
        self._buf.clear()
        self._state = _State.BODY

    def _hunt(self) -> None:
        self._buf.clear()
        self._state = _State.HUNT
