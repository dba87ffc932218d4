"""Big-endian field reading and writing for IntelliVue structures (sans-IO).

All Data Export integers are big-endian (IVH). A short read raises `DecodeError`, so no
truncated structure can escape as a half-filled value.
"""

from __future__ import annotations

import struct

from core.errors import DecodeError


class Reader:
    """Cursor over bytes; every read checks the remaining length."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def take(self, n: int, what: str = "field") -> bytes:
        if n < 0 or self._pos + n > len(self._data):
            raise DecodeError(f"truncated {what}: need {n} bytes, have {self.remaining}")
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out

    def u8(self, what: str = "u8") -> int:
        return self.take(1, what)[0]

    def u16(self, what: str = "u16") -> int:
        value: int = struct.unpack(">H", self.take(2, what))[0]
        return value

    def u32(self, what: str = "u32") -> int:
        value: int = struct.unpack(">I", self.take(4, what))[0]
        return value

    def sub(self, n: int, what: str) -> Reader:
        """A reader over the next `n` bytes (a length-prefixed structure)."""
        return Reader(self.take(n, what))

    def rest(self) -> bytes:
        return self.take(self.remaining)


def u16(value: int) -> bytes:
    return struct.pack(">H", value & 0xFFFF)


def u32(value: int) -> bytes:
    return struct.pack(">I", value & 0xFFFFFFFF)


def attribute_list(items: list[tuple[int, bytes]]) -> bytes:
    """AttributeList: count, length, then AVAType {attribute_id, length, value} (IVH)."""
    body = b"".join(u16(attr) + u16(len(value)) + value for attr, value in items)
    return u16(len(items)) + u16(len(body)) + body


def read_attribute_list(reader: Reader) -> tuple[tuple[int, bytes], ...]:
    """Parse an AttributeList (IVH); the count and the byte length must agree."""
    count = reader.u16("attribute count")
    body = reader.sub(reader.u16("attribute list length"), "attribute list")
    items = []
    for _ in range(count):
        attr = body.u16("attribute id")
        items.append((attr, body.take(body.u16("attribute length"), "attribute value")))
    if body.remaining:
        raise DecodeError(f"attribute list has {body.remaining} bytes beyond {count} entries")
    return tuple(items)


def variable_label(text: bytes) -> bytes:
    """VariableLabel: u16 length then the bytes, padded to an even length (IVH)."""
    if len(text) % 2:
        text += b"\x00"
    return u16(len(text)) + text


def intellivue_string(text: str) -> bytes:
    """String: u16 byte length then the text in UTF-16 big-endian (IVH `String`)."""
    data = text.encode("utf-16-be")
    return u16(len(data)) + data


def read_intellivue_string(raw: bytes) -> str:
    """The text of a `String` attribute value; DecodeError when it is cut short."""
    r = Reader(raw)
    return r.take(r.u16("string length"), "string").decode("utf-16-be", errors="replace")
