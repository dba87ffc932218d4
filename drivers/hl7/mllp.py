"""MLLP framing (Minimal Lower Layer Protocol), sans-IO.

Frame layout (HL7 MLLP, as python-hl7 `hl7/client.py` writes it)::

    0x0B  message bytes (HL7 segments separated by CR)  0x1C 0x0D
    <SB>                                                <EB> <CR>

Several blocks may follow each other on one stream and a read may end anywhere, so the
decoder buffers across `feed()` calls; `next_frame()` answers `None` for "need more data".

Resync rules:
- bytes outside a block (before an SB) are garbage: they are dropped and reported once per
  run as a `DecodeError`, however many reads the run arrives in (`garbage_bytes` counts
  them); decoding resumes at the next SB;
- an SB inside a block means the block was cut short (the sender restarted): the partial
  block is dropped with a `DecodeError` and a new block starts at that SB (a run of SBs is one
  cut-short block, so a storm of them costs linear time);
- a block longer than `max_size` is dropped with a `DecodeError` as soon as more than
  `max_size` bytes of it are buffered (never the whole block), and bytes are skipped, not
  kept, until the next SB; `room` says how many bytes a reader may fetch without passing the
  limit;
- an EB that is not followed by CR still ends the block (python-hl7's reader splits on EB
  alone); the missing CR is not an error, and CR/LF bytes between blocks are ignored.
After a `DecodeError` call `next_frame()` again: the decoder has already resynchronised.
"""

from __future__ import annotations

from core.errors import DecodeError

SB = 0x0B  # start block, vertical tab (python-hl7 hl7/client.py; HL7 MLLP)
EB = 0x1C  # end block, file separator (python-hl7 hl7/client.py; HL7 MLLP)
CR = 0x0D  # carriage return after EB (python-hl7 hl7/client.py; HL7 MLLP)

_LINE_ENDS = b"\r\n"  # line ends some senders add between blocks: ignored

DEFAULT_MAX_SIZE = 1 << 20
"""Largest message accepted (1 MiB). Our choice: a PCD-01 numerics message is a few kB."""


def frame(message: bytes) -> bytes:
    """`message` wrapped in one MLLP block. The message must not contain SB or EB."""
    if SB in message or EB in message:
        raise ValueError("an HL7 message cannot contain the MLLP bytes 0x0B or 0x1C")
    return bytes((SB,)) + message + bytes((EB, CR))


class MllpDecoder:
    """Incremental MLLP decoder: `feed()` bytes, then call `next_frame()` until None."""

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        if max_size <= 0:
            raise ValueError("max_size must be positive")
        self.max_size = max_size
        self._buf = bytearray()
        self._in_block = False  # _buf holds the body of an open block (after its SB)
        self._skipping = False  # an oversize block is being skipped until the next SB
        self._pending_eb = False  # the block ended with EB; a CR may still follow
        self._garbage_reported = False  # a run of garbage, already reported, may go on
        self.garbage_bytes = 0
        self.frames = 0

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def room(self) -> int:
        """Bytes that may be fed before an open block passes `max_size` (at least 1)."""
        return max(1, self.max_size + 1 - len(self._buf))

    @property
    def buffered(self) -> int:
        """Bytes held, waiting for the rest of a block."""
        return len(self._buf)

    def next_frame(self) -> bytes | None:
        """The next complete message (without SB/EB/CR), None when more bytes are needed.

        Raises DecodeError for garbage, a cut-short block or an oversize block; the decoder
        has resynchronised when it raises.
        """
        buf = self._buf
        if self._pending_eb and buf:
            self._pending_eb = False
            if buf[0] == CR:
                del buf[0]
        if self._skipping:
            start = buf.find(SB)
            if start < 0:
                self.garbage_bytes += len(buf)
                buf.clear()
                return None
            self.garbage_bytes += start
            del buf[:start]
            self._skipping = False
        if not self._in_block:
            line_ends = len(buf) - len(buf.lstrip(_LINE_ENDS))
            if line_ends:
                del buf[:line_ends]
            if not buf:
                return None
            start = buf.find(SB)
            skipped = len(buf) if start < 0 else start
            if skipped:
                self.garbage_bytes += skipped
                del buf[:skipped]
                reported, self._garbage_reported = self._garbage_reported, start < 0
                if not reported:
                    raise DecodeError(f"{skipped} byte(s) outside an MLLP block skipped")
            if start < 0:
                return None
            self._garbage_reported = False
            del buf[0]
            self._in_block = True
        end = buf.find(EB)
        # the last SB before the end: a run of restarts is one cut-short block (linear time)
        restart = buf.rfind(SB, 0, end if end >= 0 else len(buf))
        if restart >= 0:
            self.garbage_bytes += restart
            del buf[:restart]
            self._in_block = False
            raise DecodeError(f"MLLP block cut short after {restart} byte(s) by a new start")
        if end < 0:
            if len(buf) > self.max_size:
                self.garbage_bytes += len(buf)
                buf.clear()
                self._in_block = False
                self._skipping = True
                raise DecodeError(f"MLLP block longer than {self.max_size} bytes dropped")
            return None
        if end > self.max_size:
            self.garbage_bytes += end + 1
            del buf[: end + 1]
            self._in_block = False
            self._pending_eb = True
            raise DecodeError(f"MLLP block of {end} bytes is longer than {self.max_size}")
        message = bytes(buf[:end])
        del buf[: end + 1]
        self._in_block = False
        self._pending_eb = True
        if buf:
            self._pending_eb = False
            if buf[0] == CR:
                del buf[0]
        self.frames += 1
        return message

    def frames_available(self) -> list[bytes]:
        """Every complete frame now buffered, skipping (not raising for) bad ones."""
        out: list[bytes] = []
        while True:
            try:
                got = self.next_frame()
            except DecodeError:
                continue
            if got is None:
                return out
            out.append(got)
