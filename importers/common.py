"""What every importer shares: the error that names file, row and field, observations in
the vocabulary's canonical units, the synthetic study infusion, and writing the stream."""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import IO

from core.errors import ConfigError, UnitError
from core.model import DeviceEvent, EventSource, Observation
from core.params import parameter
from core.records import EARLIEST, LATEST, dump_record
from core.units import convert, normalise_unit
from core.vocabulary import EVENTS

Record = Observation | DeviceEvent

STUDY_VOLUME_ML = 100.0
"""The trial's infusion: 100 mL over 30-60 min (CLINICAL.md); the synthetic one runs 45 min."""
STUDY_PLANNED_MIN = 45.0


class SourceError(ConfigError):
    """A source file cannot be imported: names the file, the row (1-based data row or sample)
    and the field (column or signal)."""

    def __str__(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(f"row {self.line}")
        if self.field:
            parts.append(self.field)
        return ": ".join([*parts, self.message])


def unit_of(text: str) -> str:
    """A source's unit spelling ('units/hour', 'mcg/kg/hour', 'Deg C') → UCUM (core.units)."""
    s = text.strip()
    low = s.lower().replace("/hour", "/h").replace("units/", "u/").replace("mcg", "ug")
    if low in ("deg c", "degc", "celsius"):
        return "Cel"
    norm = normalise_unit(low)
    return norm if norm != low or low != s.lower() else s


def observation(
    t: datetime, bed: str, code: str, value: float, unit: str, *, weight_kg: float | None = None
) -> Observation:
    """An observation in `code`'s canonical unit; a unit that cannot be converted here (a
    per-kg dose without a weight) is kept as written, for the engine to convert or report."""
    param = parameter(code)
    u = unit_of(unit)
    if param is not None and u != param.unit:
        with suppress(UnitError):
            value, u = convert(value, u, param.unit, weight_kg=weight_kg), param.unit
    return Observation(t=t, bed=bed, code=code, value=round(value, 6), unit=u)


def valid_fields(event: str, fields: dict[str, object]) -> dict[str, object]:
    """`fields` without the values the vocabulary refuses for `event` (a pH of 0.0, a weight
    of 4,000 kg: source typos `iaewatch replay` would stop at)."""
    spec = EVENTS[event].fields
    return {k: v for k, v in fields.items() if k not in spec or spec[k].problem(v) is None}


_CENTURY = timedelta(weeks=5218)  # 100 years to within 2 days, whole weeks: weekdays kept


def into_record_range(records: list[Record]) -> tuple[list[Record], timedelta]:
    """Records moved by whole weeks (about a century at a time) into the years a recorded
    stream accepts (core.records EARLIEST-LATEST), with the shift; de-identified data (MIMIC
    moves each patient into 2100-2200) keep their intervals, times of day and weekdays.
    Records already in range are returned unchanged, with a zero shift."""
    if not records:
        return records, timedelta(0)
    first, last = min(r.t for r in records), max(r.t for r in records)
    shift = timedelta(0)
    while last + shift >= LATEST:
        shift -= _CENTURY
    while first + shift < EARLIEST:
        shift += _CENTURY
    if not shift:
        return records, shift
    return [replace(r, t=r.t + shift) for r in records], shift


def synthetic_infusion(
    bed: str, t: datetime, *, weight_kg: float | None, arm: str = "synthetic"
) -> list[DeviceEvent]:
    """The study infusion a recording did not have: a start at `t` (as a clinician enters it)
    and its end 45 min later with the full 100 mL, so the engine's windows apply and no
    infusion-problem rule fires for the invented infusion itself."""
    start: dict[str, object] = {
        "volume_ml": STUDY_VOLUME_ML,
        "planned_min": STUDY_PLANNED_MIN,
        "arm": arm,
    }
    if weight_kg is not None:
        start["weight_kg"] = round(weight_kg, 1)
    start = valid_fields("infusion_start", start)
    end_t = t + timedelta(minutes=STUDY_PLANNED_MIN)
    return [
        DeviceEvent(
            t=t, bed=bed, event="infusion_start", fields=start, source=EventSource.CLINICIAN
        ),
        DeviceEvent(
            t=end_t,
            bed=bed,
            event="infusion_end",
            fields={"volume_infused_ml": STUDY_VOLUME_ML},
            source=EventSource.CLINICIAN,
        ),
    ]


_DURATION = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*(s|min|m|h|d)?\s*$")
_UNIT_S = {"s": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> timedelta:
    """'24h', '90min', '1.5h', '2d', '30s' (a bare number is hours); ValueError otherwise."""
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(f"not a duration: {text!r} (say 24h, 90min, 2d)")
    return timedelta(seconds=float(m.group(1)) * _UNIT_S[m.group(2) or "h"])


def as_utc(t: datetime) -> datetime:
    """A source time in UTC; a naive time is UTC by the source's own definition (CLIF)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@dataclass
class Recording:
    """One bed's imported stream, in time order once `sorted()`."""

    bed: str
    records: list[Record] = field(default_factory=list)
    weight_kg: float | None = None

    def sorted(self) -> list[Record]:
        """The records by time; at one instant, observations before events (stable)."""
        return sorted(self.records, key=lambda r: (r.t, isinstance(r, DeviceEvent)))


def write_stream(records: Iterable[Record], out: IO[str]) -> int:
    """Write `records` as JSON Lines; returns how many."""
    n = 0
    for r in records:
        out.write(dump_record(r) + "\n")
        n += 1
    return n
