"""Free days to day 28 from timed events: ventilator-, ICU- and vasopressor-free days.

Day 0 is the patient's enrolment (`t0`); the window is [t0, t0 + 28 days]. A support (the
ventilator, the ICU, a vasopressor) runs over intervals built from timed on/off events, on
at t0 when the patient had it then; an interval still open runs to the end of the window.

    free days = 28 − (time on the support inside the window, in days)     (to 0.01 day)
    free days = 0 when the patient died at or before day 28 (Yehya N et al., Am J Respir
                Crit Care Med 2019, "Reappraisal of ventilator-free days in critical care
                research"; Schoenfeld DA, Bernard GR, Crit Care Med 2002)

A re-intubation opens a new interval, so every ventilated hour counts whatever the number of
extubations; a patient still ventilated at day 28 has 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

HORIZON_DAYS = 28
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Switch:
    """One timed event of a support: `on` True starts it (intubation), False stops it."""

    t: datetime
    on: bool


@dataclass(frozen=True, slots=True)
class Interval:
    """A time on a support; `end` None: still on."""

    start: datetime
    end: datetime | None


class EventOrderError(ValueError):
    """Timed events that cannot describe one support (a stop while off, a start while on)."""


def intervals(t0: datetime, *, on_at_t0: bool, switches: Iterable[Switch]) -> list[Interval]:
    """The intervals on a support from its timed events (those before t0 are refused)."""
    out: list[Interval] = []
    start: datetime | None = t0 if on_at_t0 else None
    for s in sorted(switches, key=lambda s: s.t):
        if s.t < t0:
            raise EventOrderError(f"an event at {s.t.isoformat()} is before day 0")
        if s.on:
            if start is not None:
                raise EventOrderError(f"started at {s.t.isoformat()} while already on")
            start = s.t
        else:
            if start is None:
                raise EventOrderError(f"stopped at {s.t.isoformat()} while not on")
            out.append(Interval(start, s.t))
            start = None
    if start is not None:
        out.append(Interval(start, None))
    return out


def days_on(t0: datetime, spans: Sequence[Interval], horizon_days: int = HORIZON_DAYS) -> float:
    """Days on the support inside [t0, t0 + horizon]."""
    end_of_window = t0 + horizon_days * DAY
    total = timedelta()
    for iv in spans:
        a = max(iv.start, t0)
        b = min(iv.end or end_of_window, end_of_window)
        if b > a:
            total += b - a
    return total / DAY


def free_days(
    t0: datetime,
    spans: Sequence[Interval],
    *,
    death_at: datetime | None,
    horizon_days: int = HORIZON_DAYS,
) -> float:
    """Days alive and free of the support to day `horizon_days` (0 after death by then)."""
    if death_at is not None and death_at <= t0 + horizon_days * DAY:
        return 0.0
    return round(max(0.0, horizon_days - days_on(t0, spans, horizon_days)), 2)
