"""MEDIBUS framing: bytes in, frames out. No I/O.

Frame layout (both directions; sources in the constants' comments):

    command   ESC 0x1B · code · argument bytes (≤ 251) · C1 C2 · CR 0x0D
    response  SOH 0x01 · echoed code · data bytes       · C1 C2 · CR 0x0D   (≤ 3845 bytes)

C1 C2 is the checksum: the sum of every byte from ESC/SOH through the last argument/data byte,
low 8 bits, as two ASCII hex characters. We send upper case and accept lower case.

Decoding (`FrameDecoder.feed`) is incremental: "need more bytes" is the normal answer (an empty
list). The rules, applied byte by byte:

- A byte with bit 7 set is real-time (waveform) data interleaved with the slow protocol, even
  inside a frame: it is routed aside as `RealtimeData`, never treated as garbage.
- DC1, DC3 and CAN (software handshake) are stripped wherever they appear.
- ESC or SOH starts a frame. A frame still open when another start byte arrives was truncated
  and is reported as a `BadFrame` — except that a command (ESC) may arrive in the middle of a
  response, as OpenICE allows: the response is set aside, the command decoded, and the
  response resumes.
- CR ends the open frame; it is then checked (`decode_frame`) and becomes a `Command`, a
  `Response`, or a `BadFrame` carrying the `DecodeError` (bad checksum, too short, ...).
- Bytes outside any frame are junk: reported as one `BadFrame` when the next frame starts.
- A frame longer than the protocol allows is reported and the decoder skips to the next start
  byte.

So the decoder resynchronises at the next ESC or SOH whatever came before, and `feed` never
raises: every problem is an event. `decode_frame` raises `DecodeError` for one complete frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from core.errors import DecodeError

ESC = 0x1B  # starts a command (XEN medibus.Rmd citing the spec p.4; VSC; OICE)
SOH = 0x01  # starts a response (XEN p.4; VSC; OICE)
CR = 0x0D  # ends every frame (XEN; VSC; OICE)
ETX = 0x03  # ends each text message in a 0x2A response (VSC; OICE; XEN)
DC1 = 0x11  # software handshake, stripped (OICE strips it; XEN calls it "suspend")
DC3 = 0x13  # software handshake, stripped (OICE strips it; XEN calls it "resume")
CAN = 0x18  # software handshake, stripped (XEN calls it "abort"; meaning unconfirmed)
REALTIME_BIT = 0x80  # bytes with bit 7 set are real-time data (VSC; OICE InputStreamPartition)
MAX_RESPONSE_BYTES = 3845  # whole response frame (XEN medibus.Rmd)
MAX_ARGUMENT_BYTES = 251  # command argument (OICE Medibus.sendCommand)
MAX_COMMAND_BYTES = 1 + 1 + MAX_ARGUMENT_BYTES + 2 + 1
MIN_FRAME_BYTES = 5  # start, code, two checksum characters, CR

HANDSHAKE = frozenset({DC1, DC3, CAN})
_FRAMING = frozenset({ESC, SOH, CR}) | HANDSHAKE


class Cmd(IntEnum):
    """Command codes (XEN config/medibus.js citing the spec p.8; OICE command.map; VSC)."""

    NAK = 0x15  # response code of a "corrupt command" answer (XEN; VSC; OICE)
    ALARMS_CP3 = 0x23
    DATA_CP1 = 0x24  # current measured data, codepage 1
    LOW_LIMITS_CP1 = 0x25
    HIGH_LIMITS_CP1 = 0x26
    ALARMS_CP1 = 0x27
    DATE_TIME = 0x28
    SETTINGS = 0x29  # current device settings
    TEXT = 0x2A  # current text messages (ventilation mode ...)
    DATA_CP2 = 0x2B  # current measured data, codepage 2
    ALARMS_CP2 = 0x2E
    NOP = 0x30  # keep-alive
    TIME_CHANGED = 0x49
    CONFIGURE_RESPONSE = 0x4A
    ICC = 0x51  # initialise communication
    DEVICE_ID = 0x52  # request device identification
    RT_CONFIG = 0x53  # real-time configuration request (VSC)
    RT_CONFIGURE = 0x54  # configure real-time transmission (VSC)
    STOP = 0x55  # stop communication
    RT_CONFIG_CHANGED = 0x56  # real-time configuration changed (VSC)


def code_name(code: int) -> str:
    """`ICC`, `DATA_CP1`, ... or the code in hex for codes we do not name."""
    try:
        return Cmd(code).name
    except ValueError:
        return f"0x{code:02X}"


def checksum(body: bytes) -> int:
    """Sum of `body` (start byte through last data byte), low 8 bits."""
    return sum(body) & 0xFF


def checksum_chars(body: bytes) -> bytes:
    """The checksum of `body` as two upper-case ASCII hex characters."""
    return b"%02X" % checksum(body)


def _check_payload(code: int, payload: bytes, what: str) -> None:
    if not 0 <= code < REALTIME_BIT or code in _FRAMING:
        raise ValueError(f"0x{code:02X} cannot be a MEDIBUS {what} code")
    bad = next((b for b in payload if b & REALTIME_BIT or b in _FRAMING), None)
    if bad is not None:
        raise ValueError(f"byte 0x{bad:02X} cannot appear in a MEDIBUS {what}")


@dataclass(frozen=True, slots=True)
class Command:
    """A command frame (from host or device)."""

    code: int
    args: bytes = b""

    def __post_init__(self) -> None:
        _check_payload(self.code, self.args, "command")
        if len(self.args) > MAX_ARGUMENT_BYTES:
            raise ValueError(f"command argument longer than {MAX_ARGUMENT_BYTES} bytes")

    def encode(self) -> bytes:
        body = bytes((ESC, self.code)) + self.args
        return body + checksum_chars(body) + b"\r"


@dataclass(frozen=True, slots=True)
class Response:
    """A response frame: the echoed command code and its data."""

    code: int
    data: bytes = b""

    def __post_init__(self) -> None:
        _check_payload(self.code, self.data, "response")
        if len(self.data) + MIN_FRAME_BYTES > MAX_RESPONSE_BYTES:
            raise ValueError(f"response longer than {MAX_RESPONSE_BYTES} bytes")

    def encode(self) -> bytes:
        body = bytes((SOH, self.code)) + self.data
        return body + checksum_chars(body) + b"\r"


@dataclass(frozen=True, slots=True)
class RealtimeData:
    """Real-time (bit 7 set) bytes routed aside from the slow protocol, in arrival order."""

    data: bytes


@dataclass(frozen=True, slots=True)
class BadFrame:
    """Bytes that did not decode; `error` says why. The decoder has already resynchronised."""

    error: DecodeError
    raw: bytes
    start: int | None = None  # ESC or SOH when the bytes began a frame, None for junk
    code: int | None = None  # the (possibly garbled) code byte after the start byte
    complete: bool = False  # True when the frame reached its CR

    @property
    def reason(self) -> str:
        return str(self.error)


Frame = Command | Response
Event = Command | Response | RealtimeData | BadFrame


NAK_RESPONSE = Response(Cmd.NAK).encode()  # 01 15 31 36 0D: "your command was corrupt" (XEN)


def encode_command(code: int, args: bytes = b"") -> bytes:
    """Bytes of a command frame."""
    return Command(code, args).encode()


def encode_response(code: int, data: bytes = b"") -> bytes:
    """Bytes of a response frame."""
    return Response(code, data).encode()


def _hex_value(c: int) -> int:
    if 0x30 <= c <= 0x39:
        return c - 0x30
    if 0x41 <= c <= 0x46:
        return c - 0x41 + 10
    if 0x61 <= c <= 0x66:  # lower case accepted on receive (OICE asciiValue)
        return c - 0x61 + 10
    raise DecodeError(f"0x{c:02X} is not a hex digit")


def decode_frame(raw: bytes) -> Frame:
    """One complete frame (start byte through CR) → `Command` / `Response`, or `DecodeError`."""
    if len(raw) < MIN_FRAME_BYTES:
        raise DecodeError(f"frame of {len(raw)} bytes is shorter than {MIN_FRAME_BYTES}")
    start, code = raw[0], raw[1]
    if start not in (ESC, SOH):
        raise DecodeError(f"frame starts with 0x{start:02X}, not ESC or SOH")
    if raw[-1] != CR:
        raise DecodeError("frame does not end with CR")
    if code & REALTIME_BIT or code in _FRAMING:
        raise DecodeError(f"0x{code:02X} is not a command code")
    body, chk = raw[:-3], raw[-3:-1]
    sent = (_hex_value(chk[0]) << 4) | _hex_value(chk[1])
    if sent != checksum(body):
        raise DecodeError(
            f"{code_name(code)}: checksum {chk.decode('ascii')} != {checksum_chars(body).decode()}"
        )
    payload = bytes(body[2:])
    if start == ESC:
        if len(payload) > MAX_ARGUMENT_BYTES:
            raise DecodeError(f"command argument of {len(payload)} bytes")
        return Command(code, payload)
    if len(raw) > MAX_RESPONSE_BYTES:
        raise DecodeError(f"response of {len(raw)} bytes")
    return Response(code, payload)


class FrameDecoder:
    """Incremental decoder: `feed(bytes)` → events, resynchronising after any garbage."""

    def __init__(self) -> None:
        self.frames = 0
        self.bad_frames = 0
        self.realtime_bytes = 0
        self.handshake_bytes = 0
        self.reset()

    def reset(self) -> None:
        """Forget any partial frame (for a new link)."""
        self._cur: bytearray | None = None  # the open frame, start byte first
        self._outer: bytearray | None = None  # a response interrupted by a command
        self._junk = bytearray()
        self._skipping = False  # after an over-long frame, until the next start byte

    def feed(self, data: bytes) -> list[Event]:
        """Decode `data`; an empty list means "need more bytes". Never raises."""
        out: list[Event] = []
        rt = bytearray()

        def emit(event: Event) -> None:
            if rt:
                out.append(RealtimeData(bytes(rt)))
                rt.clear()
            out.append(event)

        for b in data:
            if b & REALTIME_BIT:
                rt.append(b)
                self.realtime_bytes += 1
            elif b in HANDSHAKE:
                self.handshake_bytes += 1
            elif b in (ESC, SOH):
                self._start(b, emit)
            elif self._cur is None:
                if not self._skipping:
                    self._junk.append(b)
            elif b == CR:
                self._cur.append(b)
                emit(self._finish(self._cur))
                self._cur, self._outer = self._outer, None
            else:
                self._cur.append(b)
                limit = MAX_COMMAND_BYTES if self._cur[0] == ESC else MAX_RESPONSE_BYTES
                if len(self._cur) >= limit:  # no room left for the CR
                    emit(self._bad(self._cur, f"frame longer than {limit} bytes"))
                    if self._outer is not None:
                        emit(self._bad(self._outer, "truncated frame"))
                    self._cur = self._outer = None
                    self._skipping = True
        if rt:
            out.append(RealtimeData(bytes(rt)))
        return out

    def _start(self, b: int, emit: Callable[[Event], None]) -> None:
        self._skipping = False
        if self._junk:
            emit(self._bad(self._junk, f"{len(self._junk)} byte(s) outside a frame", junk=True))
            self._junk = bytearray()
        cur = self._cur
        if cur is not None:
            if b == ESC and cur[0] == SOH and self._outer is None:
                self._outer = cur  # a command inside a response (OICE nests them)
            else:
                emit(self._bad(cur, "truncated frame"))
                if b == SOH and self._outer is not None:
                    emit(self._bad(self._outer, "truncated frame"))
                    self._outer = None
        self._cur = bytearray((b,))

    def _finish(self, raw: bytearray) -> Event:
        try:
            frame = decode_frame(bytes(raw))
        except DecodeError as exc:
            self.bad_frames += 1
            return BadFrame(exc, bytes(raw), raw[0], raw[1] if len(raw) > 2 else None, True)
        self.frames += 1
        return frame

    def _bad(self, raw: bytearray, reason: str, *, junk: bool = False) -> BadFrame:
        self.bad_frames += 1
        if junk:
            return BadFrame(DecodeError(reason), bytes(raw))
        code = raw[1] if len(raw) > 1 else None
        return BadFrame(DecodeError(reason), bytes(raw), raw[0], code)
