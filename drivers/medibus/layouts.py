"""MEDIBUS data layouts: the payloads inside responses, parsed and built. No I/O.

    measured data, alarm limits  6-byte items: 2 hex chars data code + 4 chars value
    device settings (0x29)       7-byte items: 2 hex chars setting code + 5 chars value
    alarms (0x27 / 0x2E / 0x23)  15-byte items: priority char (priority + 0x30, 1…31, 31 highest)
                                 + 2 hex chars alarm code + 12 chars alarm phrase
    text messages (0x2A)         2 hex chars code + length char (length + 0x30) + text + ETX
    device identification (0x52) 4-char id + 'name' (between apostrophes) + revision (11 chars)
    date and time (0x28)         17 chars `HH:MM:SSDD-MMM-YY`, German month abbreviations (XEN
                                 model/medibus dateTime.js: "09:11:4806-OKT-21")

Value patterns (XEN medibusParams.json `format`, Dräger's own notation): `X` a digit place,
`_` a space, `.` the decimal point; `*` in front marks a value that may be negative (it takes
no place of its own). Digits fill their run from the right: pressures `_XX_` are whole mbar
between spaces (" 12 "), rates `XX__` are left-justified ("24  "), FiO2 `XXX_` (" 60 ").

Values: leading zeros and empty positions are spaces; a negative value carries '-' in a
leading position (XEN; OICE). A value field that holds no number ("    ", "---") is "no value"
(None), not an error; a payload whose length does not fit the item size, or a code that is not
hex, raises `DecodeError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from core.errors import DecodeError
from drivers.medibus.codec import ETX

MEASURED_ITEM = 6  # 2 + 4 (XEN dataSegment; OICE receiveDataCodes; VSC)
MEASURED_VALUE = 4
SETTING_ITEM = 7  # 2 + 5 (XEN settingSegment; OICE receiveDeviceSetting; VSC)
SETTING_VALUE = 5
ALARM_ITEM = 15  # 1 + 2 + 12 (OICE receiveAlarmCodes; XEN alarmSegment)
ALARM_PHRASE = 12
ALARM_PRIORITY_MIN, ALARM_PRIORITY_MAX = 1, 31  # byte − 0x30; 31 highest (OICE; XEN)
TEXT_LENGTH_OFFSET = 0x30  # length character = length + 0x30 (VSC; OICE; XEN)
REVISION_CHARS = 11  # device revision field, padded with spaces (OICE sendDeviceIdentification)
APOSTROPHE = 0x27  # delimits the device name (OICE; XEN splits on it)

_NUMBER = re.compile(r"^(-?)\s*(\d+(?:\.\d*)?|\.\d+)$")


def parse_value(text: str) -> float | None:
    """A value field → float, or None when it holds no number."""
    m = _NUMBER.match(text.strip())
    if m is None:
        return None
    value = float(m.group(2))
    return -value if m.group(1) else value


def format_value(value: float, width: int, decimals: int = 0) -> str:
    """`value` right-aligned in `width` characters, spaces for leading zeros.

    Decimals are dropped one by one until the number fits; ValueError when it cannot fit.
    """
    for d in range(max(decimals, 0), -1, -1):
        text = f"{value:.{d}f}"
        if text in ("-0", "-0.0", "-0.00"):
            text = text[1:]
        if len(text) <= width:
            return text.rjust(width)
    raise ValueError(f"{value!r} does not fit in {width} characters")


def format_pattern(value: float, pattern: str) -> str:
    """`value` written in a Dräger pattern (see the module docstring); a value too wide for
    the pattern's digit run takes the whole field, right-aligned; ValueError if even that
    cannot hold it."""
    pattern = pattern.removeprefix("*")
    start = next((i for i, ch in enumerate(pattern) if ch in "X."), len(pattern))
    end = max((i + 1 for i, ch in enumerate(pattern) if ch in "X."), default=start)
    run = pattern[start:end]
    decimals = len(run) - run.index(".") - 1 if "." in run else 0
    text = f"{value:.{decimals}f}"
    if text.startswith("-0") and float(text) == 0:
        text = text[1:]
    if len(text) <= len(run) or (text.startswith("-") and len(text) <= end):
        left = end - len(text)
        return (" " * left + text).ljust(len(pattern))
    return format_value(value, len(pattern), decimals)


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEZ")
"""Month abbreviations of the 0x28 reply, as an Evita with German settings sends them (XEN);
English ones (MAY, OCT, DEC) are also read."""
_MONTH_INDEX = {m: i + 1 for i, m in enumerate(MONTHS)} | {"MAY": 5, "OCT": 10, "DEC": 12}
DATE_TIME_CHARS = 17


def encode_date_time(t: datetime) -> bytes:
    """The 0x28 reply's data: `HH:MM:SSDD-MMM-YY` in the device's local time `t`."""
    return f"{t:%H:%M:%S}{t:%d}-{MONTHS[t.month - 1]}-{t:%y}".encode("ascii")


def parse_date_time(data: bytes, tz: tzinfo) -> datetime:
    """A 0x28 reply's data, read in the device's zone `tz`; DecodeError when it is not one."""
    text = _ascii(data)
    month = _MONTH_INDEX.get(text[11:14].upper()) if len(text) == DATE_TIME_CHARS else None
    try:
        if month is None or text[2] + text[5] + text[10] + text[14] != "::--":
            raise ValueError(text)
        hour, minute, second = int(text[0:2]), int(text[3:5]), int(text[6:8])
        day, year = int(text[8:10]), 2000 + int(text[15:17])
        return datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        raise DecodeError(f"not a MEDIBUS date and time: {text!r}") from None


def _hex_code(raw: bytes, where: str) -> int:
    text = raw.decode("ascii", "replace")
    if len(raw) != 2 or not all(c in "0123456789abcdefABCDEF" for c in text):
        raise DecodeError(f"{where}: code {text!r} is not two hex digits")
    return int(text, 16)


def _ascii(raw: bytes) -> str:
    return raw.decode("ascii", "replace")


@dataclass(frozen=True, slots=True)
class DataItem:
    """One measured value, alarm limit or setting: its code, the raw field, the number."""

    code: int
    raw: str
    value: float | None


def parse_data_items(data: bytes, value_width: int = MEASURED_VALUE) -> list[DataItem]:
    """Items of `2 + value_width` bytes (measured data: 4, settings: 5)."""
    size = 2 + value_width
    if len(data) % size:
        raise DecodeError(f"data of {len(data)} bytes is not a whole number of {size}-byte items")
    items = []
    for off in range(0, len(data), size):
        code = _hex_code(data[off : off + 2], f"item {off // size}")
        raw = _ascii(data[off + 2 : off + size])
        items.append(DataItem(code, raw, parse_value(raw)))
    return items


def parse_measured(data: bytes) -> list[DataItem]:
    """Measured data or alarm limits (6-byte items)."""
    return parse_data_items(data, MEASURED_VALUE)


def parse_settings(data: bytes) -> list[DataItem]:
    """Device settings (7-byte items)."""
    return parse_data_items(data, SETTING_VALUE)


def encode_data_items(
    items: Iterable[tuple[int, float | None, int]],
    value_width: int = MEASURED_VALUE,
    patterns: Mapping[int, str] | None = None,
) -> bytes:
    """(code, value or None, decimals) items → payload; None is sent as spaces. A code with a
    pattern in `patterns` is written in it (`format_pattern`), others right-aligned."""
    out = bytearray()
    for code, value, decimals in items:
        if not 0 <= code <= 0xFF:
            raise ValueError(f"data code {code!r} out of range")
        pattern = (patterns or {}).get(code)
        if value is None:
            field = " " * value_width
        elif pattern is not None and len(pattern.removeprefix("*")) == value_width:
            field = format_pattern(value, pattern)
        else:
            field = format_value(value, value_width, decimals)
        out += b"%02X" % code + field.encode("ascii")
    return bytes(out)


def encode_measured(
    items: Iterable[tuple[int, float | None, int]], patterns: Mapping[int, str] | None = None
) -> bytes:
    """Measured data or alarm limits (6-byte items)."""
    return encode_data_items(items, MEASURED_VALUE, patterns)


def encode_settings(items: Iterable[tuple[int, float | None, int]]) -> bytes:
    return encode_data_items(items, SETTING_VALUE)


@dataclass(frozen=True, slots=True)
class Alarm:
    """One current alarm: priority (1…31, 31 highest), alarm code, phrase such as `PAW HIGH`."""

    priority: int
    code: int
    text: str

    def __post_init__(self) -> None:
        if not ALARM_PRIORITY_MIN <= self.priority <= ALARM_PRIORITY_MAX:
            raise ValueError(f"alarm priority {self.priority} outside 1…31")
        if not 0 <= self.code <= 0xFF:
            raise ValueError(f"alarm code {self.code!r} out of range")
        if len(self.text) > ALARM_PHRASE or not self.text.isascii():
            raise ValueError(f"alarm phrase {self.text!r} is not ≤ 12 ASCII characters")


def parse_alarms(data: bytes) -> list[Alarm]:
    if len(data) % ALARM_ITEM:
        raise DecodeError(f"alarm data of {len(data)} bytes is not a whole number of items")
    alarms = []
    for off in range(0, len(data), ALARM_ITEM):
        priority = data[off] - 0x30
        if not ALARM_PRIORITY_MIN <= priority <= ALARM_PRIORITY_MAX:
            raise DecodeError(f"alarm {off // ALARM_ITEM}: priority {priority} outside 1…31")
        code = _hex_code(data[off + 1 : off + 3], f"alarm {off // ALARM_ITEM}")
        text = _ascii(data[off + 3 : off + ALARM_ITEM]).strip()
        try:
            alarms.append(Alarm(priority, code, text))
        except ValueError as exc:
            raise DecodeError(f"alarm {off // ALARM_ITEM}: {exc}") from exc
    return alarms


def encode_alarms(alarms: Iterable[Alarm]) -> bytes:
    out = bytearray()
    for a in alarms:
        out.append(0x30 + a.priority)
        out += b"%02X" % a.code + a.text.ljust(ALARM_PHRASE).encode("ascii")
    return bytes(out)


@dataclass(frozen=True, slots=True)
class TextMessage:
    """One text message (ventilation mode, status ...)."""

    code: int
    text: str

    def __post_init__(self) -> None:
        if not 0 <= self.code <= 0xFF:
            raise ValueError(f"text code {self.code!r} out of range")
        if not self.text.isascii() or not self.text.isprintable():
            raise ValueError(f"text {self.text!r} is not printable ASCII")
        if len(self.text) > 0x7F - TEXT_LENGTH_OFFSET:
            raise ValueError("text message too long")


def parse_text_messages(data: bytes) -> list[TextMessage]:
    """Text messages; an empty payload (no messages) is a valid, empty list."""
    messages: list[TextMessage] = []
    off = 0
    while off < len(data):
        if off + 4 > len(data):
            raise DecodeError(f"text message {len(messages)}: truncated")
        code = _hex_code(data[off : off + 2], f"text message {len(messages)}")
        length = data[off + 2] - TEXT_LENGTH_OFFSET
        end = off + 3 + length
        if length < 0 or end >= len(data) or data[end] != ETX:
            raise DecodeError(f"text message {len(messages)}: length does not reach an ETX")
        try:
            messages.append(TextMessage(code, _ascii(data[off + 3 : end])))
        except ValueError as exc:
            raise DecodeError(f"text message {len(messages)}: {exc}") from exc
        off = end + 1
    return messages


def encode_text_messages(messages: Iterable[TextMessage]) -> bytes:
    out = bytearray()
    for m in messages:
        out += b"%02X" % m.code
        out.append(TEXT_LENGTH_OFFSET + len(m.text))
        out += m.text.encode("ascii")
        out.append(ETX)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """`<4-char id>'<name>'<revision>`, e.g. `0161'Evita4'01.03:06.00` (VSC; OICE; XEN)."""

    device_id: str
    name: str
    revision: str

    def __post_init__(self) -> None:
        if self.device_id and len(self.device_id) != 4:
            raise ValueError(f"device id {self.device_id!r} is not 4 characters")
        if "'" in self.name:
            raise ValueError(f"device name {self.name!r} has an apostrophe")
        for part in (self.device_id, self.name, self.revision):
            if not part.isascii() or not part.isprintable():
                raise ValueError(f"{part!r} is not printable ASCII")

    @property
    def device_revision(self) -> str:
        """The device's own revision (before the colon)."""
        return self.revision.partition(":")[0]

    @property
    def medibus_version(self) -> str | None:
        """The MEDIBUS version after the colon, when the device sends one (VSC sends `06.00`)."""
        _, sep, version = self.revision.partition(":")
        return version if sep else None


def parse_device_id(data: bytes) -> DeviceIdentity:
    """The device-id response payload; an empty payload (allowed, VSC) gives empty fields."""
    if not data:
        return DeviceIdentity("", "", "")
    if len(data) < 6 or data[4] != APOSTROPHE:
        raise DecodeError(f"device id {_ascii(data[:20])!r}: no 4-char id and 'name'")
    close = data.find(APOSTROPHE, 5)
    if close < 0:
        raise DecodeError("device id: the name's closing apostrophe is missing")
    try:
        return DeviceIdentity(
            _ascii(data[:4]), _ascii(data[5:close]), _ascii(data[close + 1 :]).strip()
        )
    except ValueError as exc:
        raise DecodeError(f"device id: {exc}") from exc


def encode_device_id(identity: DeviceIdentity) -> bytes:
    if len(identity.revision) > REVISION_CHARS:
        raise ValueError(f"revision {identity.revision!r} exceeds {REVISION_CHARS} characters")
    text = f"{identity.device_id}'{identity.name}'{identity.revision.ljust(REVISION_CHARS)}"
    return text.encode("ascii")
