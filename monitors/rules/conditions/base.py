"""What every condition is: `Cond`, the parameter reference `ParamRef`, evidence helpers.

`test(bed, now, active)` answers True, False, or None ("cannot tell": no fresh usable value,
no baseline). `active` is True while the rule's episode is open, which widens the condition
by its hysteresis so that a value hovering at the limit does not flap the alert.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitors.engine.state import BedState

_uids = itertools.count(1)
Evidence = dict[str, Any]
NEVER = float("-inf")
"""A time before every other (a latch never set, an event never seen)."""


def r3(v: float) -> float:
    """A value as evidence shows it (3 decimals)."""
    return round(v, 3)


@dataclass(frozen=True, slots=True)
class ParamRef:
    """A parameter as a rule names it: one code, or an ordered group (first fresh code wins).

    A group such as `[MDC_PRESS_BLD_ART_SYS, MDC_PRESS_BLD_NONINV_SYS]` prefers the arterial
    line while it reports and falls back to the cuff; a preferred code whose latest sample is
    fresh but unusable makes the group unknown rather than falling back. With `agree_within`
    (ECG heart rate before the oximeter's pulse), two fresh codes further apart than that
    make the group unknown: the fallback never stands in for a reading it contradicts.
    """

    name: str
    codes: tuple[str, ...]
    fresh: tuple[float, ...]  # seconds a sample stands for the present value, per code
    agree_within: float | None = None

    def current(self, bed: BedState, now: float) -> tuple[str | None, float | None]:
        series, codes, fresh = bed.series, self.codes, self.fresh
        s = series.get(codes[0])
        i = 0
        if s is None or now - s.t > fresh[0]:  # the first code is not fresh: the next that is
            for i in range(1, len(codes)):
                s = series.get(codes[i])
                if s is not None and now - s.t <= fresh[i]:
                    break
            else:
                return None, None
        assert s is not None
        v, agree = s.value, self.agree_within
        if agree is None or v is None:
            return codes[i], v
        for j in range(i + 1, len(codes)):  # the next fresh value must agree with it
            o = series.get(codes[j])
            if o is not None and now - o.t <= fresh[j] and o.value is not None:
                return (codes[i], None) if abs(o.value - v) > agree else (codes[i], v)
        return codes[i], v

    def seen(self, bed: BedState) -> bool:
        """Any of the codes has ever arrived at this bed."""
        return any(c in bed.series for c in self.codes)

    def baseline(self, bed: BedState, code: str) -> tuple[str | None, float | None]:
        b = bed.baseline.get(code)
        if b is not None:
            return code, b
        for other in self.codes:
            b = bed.baseline.get(other)
            if b is not None:
                return other, b
        return None, None


class Cond:
    """Base of every condition."""

    momentary = False  # true only at the instant of an event
    timed = False  # truth can change with time alone (evaluated on ticks too)

    def __init__(self) -> None:
        self.uid = next(_uids)

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        raise NotImplementedError

    def triggers(self) -> set[str]:
        """Codes (and `@event` names) whose arrival may change the answer."""
        return set()

    def refs(self) -> Iterable[ParamRef]:
        return ()

    def baseline_refs(self) -> Iterable[ParamRef]:
        """Parameters this condition compares with the baseline."""
        return ()

    def extremes(self) -> Iterable[tuple[str, float, bool, float]]:
        """(code, span, is_max, smoothing span) sliding extremes this condition reads."""
        return ()

    def children(self) -> tuple[Cond, ...]:
        return ()

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        """Add the values (and baselines) behind the answer to `ev`."""

    def severity(self, bed: BedState, now: float, out: dict[str, float]) -> None:
        """How far past the limit, per leaf (bigger is worse), for 'worse values' updates."""

    def missing(self, bed: BedState, now: float) -> list[str]:
        """What this condition lacks to assess at `bed` (empty: it can assess)."""
        return [m for c in self.children() for m in c.missing(bed, now)]

    def describe(self) -> str:
        raise NotImplementedError


def put_value(ev: Evidence, code: str, v: float | None) -> None:
    ev.setdefault("values", {})[code] = None if v is None else r3(v)


def put_baseline(ev: Evidence, code: str, v: float) -> None:
    ev.setdefault("baseline", {})[code] = r3(v)


def note(ev: Evidence, text: str) -> None:
    notes = ev.setdefault("notes", [])
    if text not in notes:
        notes.append(text)


OPS = {"below": "<", "at_most": "≤", "above": ">", "at_least": "≥"}
"""How each comparison reads in a description."""


def walk(c: Cond) -> Iterable[Cond]:
    yield c
    for k in c.children():
        yield from walk(k)
