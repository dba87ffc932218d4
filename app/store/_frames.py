"""How observations are laid out on disk: one row per device frame, not one row per value.

A *stream* (`observation_streams`) is one bed's device sending one list of (code, unit) series
in one order: a monitor's 12 numerics are one stream. A *frame* (`observation_frames`) is one
sample of a stream: its time (microseconds since 1970, UTC), the stream, and the values packed
into one blob. A run of consecutive observations of one batch with the same bed, device and time
is one frame, so the order observations went in is the order they come out.

`vals` is one kind byte and the values, little-endian, in the narrowest kind that gives back
every value bit for bit: whole numbers, or tenths or hundredths (read back as n / 10 or
n / 100, which is the float64 a device's "37.2" was parsed to) as int16 or int32; else float32;
else float64. A monitor's frame costs 2 bytes a value, a frame with any value that is not a
short decimal 8; reads always give float64. `flags` is NULL when every value is
present and valid (the usual case); otherwise one byte per value: the status's index in
`STATUSES`, plus 0x80 when the value is absent (stored as 0).
"""

from __future__ import annotations

import functools
import json
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from core.model import Observation, ValueStatus

STATUSES = (ValueStatus.VALID, ValueStatus.QUESTIONABLE, ValueStatus.UNAVAILABLE)
"""Stored as their index: append only."""
_STATUS_INDEX = {s: i for i, s in enumerate(STATUSES)}
_NO_VALUE = 0x80
_VALID = ValueStatus.VALID
_SWAP = sys.byteorder == "big"  # stored little-endian
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

# kind byte -> (array typecode, decimals): whole numbers (or hundredths, tenths, read back
# as n / 10**decimals) in int16 or int32; float32; float64
_SCALES = (1, 10, 100)
_SCALED = {"h": 0x10, "i": 0x20}
_SHORT = [bytes([_SCALED["h"] + d]) for d in range(len(_SCALES))]
_LONG = [bytes([_SCALED["i"] + d]) for d in range(len(_SCALES))]
_KINDS = {
    **{_SCALED[tc] + d: (tc, d) for tc in _SCALED for d in range(len(_SCALES))},
    ord("f"): ("f", 0),
    ord("d"): ("d", 0),
}

Series = tuple[tuple[str, str], ...]
"""A stream's (code, unit) pairs, in frame order."""


@dataclass(frozen=True, slots=True)
class Stream:
    """One bed's device and the series its frames carry."""

    id: int
    bed: str
    device: str | None
    series: Series

    def has_any(self, codes: Iterable[str] | None) -> bool:
        return codes is None or any(code in codes for code, _ in self.series)


class Frame(NamedTuple):
    """One frame ready to insert: its stream's identity, time and packed values."""

    bed: str
    device: str | None
    series: Series
    t: int
    vals: bytes
    flags: bytes | None


def micros(t: datetime) -> int:
    """Microseconds since 1970 of an aware time (exact)."""
    return (t - EPOCH) // _US


def from_micros(us: int) -> datetime:
    """The aware UTC time of `micros`."""
    return EPOCH + timedelta(microseconds=us)


@functools.lru_cache(maxsize=4096)
def series_text(series: Series) -> str:
    """The `series` column: JSON [[code, unit], ...]."""
    return json.dumps([list(s) for s in series], separators=(",", ":"))


def series_of(text: str) -> Series:
    return tuple((str(code), str(unit)) for code, unit in json.loads(text))


def frames(batch: Sequence[Observation]) -> list[Frame]:
    """The batch as frames: each run of observations with one bed, device and time."""
    out: list[Frame] = []
    run: list[Observation] = []
    last: object = None
    for o in batch:
        key = (o.bed, o.device, o.t)
        if key != last:
            if run:
                out.append(_frame(run))
            run = [o]
            last = key
        else:
            run.append(o)
    if run:
        out.append(_frame(run))
    return out


def _frame(run: list[Observation]) -> Frame:
    first = run[0]
    vals, flags = pack(run)
    series = tuple([(o.code, o.unit) for o in run])
    return Frame(first.bed, first.device, series, micros(first.t), vals, flags)


def pack(run: Sequence[Observation]) -> tuple[bytes, bytes | None]:
    """The `vals` and `flags` of one frame's observations."""
    values = [o.value for o in run]
    if None in values or [o.status for o in run].count(_VALID) != len(run):
        flags = bytes(
            [_STATUS_INDEX[o.status] | (_NO_VALUE if o.value is None else 0) for o in run]
        )
        return _narrowest(array("d", [0.0 if v is None else v for v in values])), flags
    return _narrowest(array("d", values)), None  # type: ignore[arg-type]  # no None here


def _narrowest(values: array[float]) -> bytes:
    exact = values.tobytes()
    for decimals, scale in enumerate(_SCALES):
        try:
            if decimals == 0:
                whole = list(map(int, values))
                back = array("d", whole)
            else:
                whole = list(map(round, map(float(scale).__mul__, values)))
                back = array("d", map(scale.__rtruediv__, whole))
        except (OverflowError, ValueError):
            break
        if back.tobytes() != exact:
            continue
        try:
            return _SHORT[decimals] + _little(array("h", whole))
        except OverflowError:
            pass
        try:
            return _LONG[decimals] + _little(array("i", whole))
        except OverflowError:
            break
    single = array("f", values)
    if array("d", single).tobytes() == exact:
        return b"f" + _little(single)
    return b"d" + _little(values)


def _little(a: array[int] | array[float]) -> bytes:
    if not _SWAP:
        return a.tobytes()
    a = array(a.typecode, a)
    a.byteswap()
    return a.tobytes()


def _values(vals: bytes) -> list[float]:
    typecode, decimals = _KINDS[vals[0]]
    raw = array(typecode)
    raw.frombytes(vals[1:])
    if _SWAP:
        raw.byteswap()
    if decimals:
        scale = _SCALES[decimals]
        return [n / scale for n in raw]
    return array("d", raw).tolist() if typecode in "hi" else list(raw)


def unpack(vals: bytes, flags: bytes | None) -> list[tuple[float | None, ValueStatus]]:
    """The (value, status) of each position of a frame."""
    values = _values(vals)
    if flags is None:
        return [(v, _VALID) for v in values]
    return [
        (None if f & _NO_VALUE else v, STATUSES[f & ~_NO_VALUE])
        for v, f in zip(values, flags, strict=True)
    ]


def usable_at(vals: bytes, flags: bytes | None, positions: Sequence[int]) -> list[float | None]:
    """The values at `positions` of a frame, None where not usable (absent or not valid)."""
    values = _values(vals)
    if flags is None:
        return [values[i] for i in positions]
    return [None if flags[i] else values[i] for i in positions]


def observations_of(
    stream: Stream, t: int, vals: bytes, flags: bytes | None, codes: Iterable[str] | None = None
) -> list[Observation]:
    """A frame's observations (of `codes` only, when given), in frame order."""
    at = from_micros(t)
    return [
        Observation(
            t=at,
            bed=stream.bed,
            code=code,
            value=value,
            unit=unit,
            device=stream.device,
            status=status,
        )
        for (code, unit), (value, status) in zip(stream.series, unpack(vals, flags), strict=True)
        if codes is None or code in codes
    ]
