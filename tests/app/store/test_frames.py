"""The frame codec: observations in, the same observations out, bit for bit."""

from __future__ import annotations

import math
import random
import struct
from datetime import UTC, datetime, timedelta

import pytest

from app.store._frames import Stream, frames, from_micros, micros, observations_of, pack, unpack
from core.model import Observation, ValueStatus

T = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)


def o(value: float | None, code: str = "HR", **kw: object) -> Observation:
    status = ValueStatus.VALID if value is not None else ValueStatus.UNAVAILABLE
    fields = {"t": T, "bed": "ICU-1", "status": status} | kw
    return Observation(code=code, value=value, unit="/min", **fields)  # type: ignore[arg-type]


def bits(x: float | None) -> bytes | None:
    return None if x is None else struct.pack("<d", x)


@pytest.mark.parametrize(
    ("values", "kind", "size"),
    [
        ([72.0, 98.0, -5.0, 32767.0, -32768.0], 0x10, 2),  # whole numbers in int16
        ([72.0, 32768.0], 0x20, 4),  # past int16: int32
        ([37.2, 0.4, 5.0], 0x11, 2),  # tenths: n / 10 gives the same float64 back
        ([7.35, 0.25], 0x12, 2),  # hundredths
        ([0.1, 1e5], 0x21, 4),  # tenths past int16
        ([2.0**70, 0.5], ord("f"), 4),  # exact in float32
        ([72.0, -0.0], ord("f"), 4),  # integers have no negative zero
        ([1e300, 5e-324, -math.pi, 1 / 3], ord("d"), 8),
    ],
)
def test_the_narrowest_exact_kind_is_chosen(values: list[float], kind: int, size: int) -> None:
    vals, flags = pack([o(v) for v in values])
    assert vals[0] == kind and len(vals) == 1 + size * len(values) and flags is None
    back = [v for v, _ in unpack(vals, flags)]
    assert [bits(v) for v in back] == [bits(v) for v in values]
    assert all(type(v) is float for v in back)


def test_any_float_comes_back_bit_for_bit() -> None:
    rnd = random.Random(3)
    for _ in range(2000):
        exponent = rnd.choice([0, 1, 2, 3, 9, 300, -300])
        values = [round(rnd.uniform(-1, 1) * 10.0**exponent, rnd.randrange(0, 6)) for _ in range(5)]
        vals, _ = pack([o(v) for v in values])
        assert [bits(v) for v, _ in unpack(vals, None)] == [bits(v) for v in values]


def test_absent_values_and_statuses_ride_in_flags() -> None:
    run = [
        o(70.0),
        o(None),
        o(1000.0, status=ValueStatus.QUESTIONABLE),
        o(None, status=ValueStatus.QUESTIONABLE),
    ]
    vals, flags = pack(run)
    assert flags is not None and len(flags) == 4
    assert unpack(vals, flags) == [
        (70.0, ValueStatus.VALID),
        (None, ValueStatus.UNAVAILABLE),
        (1000.0, ValueStatus.QUESTIONABLE),
        (None, ValueStatus.QUESTIONABLE),
    ]


def test_a_frame_is_a_run_of_one_bed_device_and_time() -> None:
    later = T + timedelta(seconds=1)
    batch = [
        o(1.0, "A", device="mon"),
        o(2.0, "B", device="mon"),
        o(3.0, "C", device="vent"),
        o(4.0, "D", device="mon"),  # the monitor again: a new frame keeps the order
        o(5.0, "A", device="mon", t=later),
        o(6.0, "A", device=None, t=later),
    ]
    got = frames(batch)
    assert [(f.device, [c for c, _ in f.series]) for f in got] == [
        ("mon", ["A", "B"]),
        ("vent", ["C"]),
        ("mon", ["D"]),
        ("mon", ["A"]),
        (None, ["A"]),
    ]
    out = []
    for i, f in enumerate(got):
        out += observations_of(Stream(i, f.bed, f.device, f.series), f.t, f.vals, f.flags)
    assert out == batch


def test_times_are_exact_microseconds() -> None:
    for t in (T, datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), T.replace(year=2100)):
        assert from_micros(micros(t)) == t
