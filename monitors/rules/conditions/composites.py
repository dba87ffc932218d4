"""Composite conditions: all, any or none of their children, optionally "each true at some
time within a span" (the span's latches live in the bed's state)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from monitors.rules.conditions.base import NEVER, Cond, Evidence, ParamRef

if TYPE_CHECKING:
    from monitors.engine.state import BedState


class _Composite(Cond):
    word = ""

    def __init__(self, children: tuple[Cond, ...], within_s: float | None) -> None:
        super().__init__()
        self.kids = children
        self.within = within_s
        self.timed = any(c.timed for c in children)
        self._kids_triggers = tuple((c, frozenset(c.triggers())) for c in children)

    def children(self) -> tuple[Cond, ...]:
        return self.kids

    def triggers(self) -> set[str]:
        out: set[str] = set()
        for c in self.kids:
            out |= c.triggers()
        return out

    def refs(self) -> Iterable[ParamRef]:
        return (r for c in self.kids for r in c.refs())

    def baseline_refs(self) -> Iterable[ParamRef]:
        return (r for c in self.kids for r in c.baseline_refs())

    def extremes(self) -> Iterable[tuple[str, float, bool, float]]:
        return (e for c in self.kids for e in c.extremes())

    def _latched(self, bed: BedState, now: float, active: bool) -> int:
        """How many children were true at some time within the span (recording those true
        now)."""
        assert self.within is not None
        latch = bed.latch
        lo = now - self.within
        trig = bed.trigger
        n = 0
        for c, kt in self._kids_triggers:
            # a child whose inputs did not change cannot have become true: keep its latch
            if (trig is None or trig in kt) and c.test(bed, now, active):
                latch[c.uid] = now
                n += 1
            elif latch.get(c.uid, NEVER) >= lo:
                n += 1
        return n

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        for c in self.kids:
            c.collect(bed, now, ev)
        if self.within is not None:
            lo = now - self.within
            ev.setdefault("seen_within_span", {}).update(
                {c.describe(): bed.latch.get(c.uid, NEVER) >= lo for c in self.kids}
            )

    def severity(self, bed: BedState, now: float, out: dict[str, float]) -> None:
        for c in self.kids:
            c.severity(bed, now, out)

    def describe(self) -> str:
        inner = f" {self.word} ".join(f"({c.describe()})" for c in self.kids)
        if self.word == "none":
            inner = "not " + " and not ".join(f"({c.describe()})" for c in self.kids)
        if self.within is not None:
            inner += f" within {self.within:g} s"
        return inner


class AllOf(_Composite):
    word = "and"

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        if self.within is not None:
            return self._latched(bed, now, active) == len(self.kids)
        unknown = False
        for c in self.kids:
            r = c.test(bed, now, active)
            if r is False:
                return False
            if r is None:
                unknown = True
        return None if unknown else True


class AnyOf(_Composite):
    word = "or"

    def missing(self, bed: BedState, now: float) -> list[str]:
        lacks = [k.missing(bed, now) for k in self.kids]
        return [] if not all(lacks) else [m for x in lacks for m in x]

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        if self.within is not None:
            return self._latched(bed, now, active) > 0
        unknown = False
        for c in self.kids:
            r = c.test(bed, now, active)
            if r:
                return True
            if r is None:
                unknown = True
        return None if unknown else False

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        super().collect(bed, now, ev)
        if self.within is None:
            met = [c.describe() for c in self.kids if c.test(bed, now, True)]
            if met:
                ev.setdefault("met", []).extend(m for m in met if m not in ev.get("met", []))


class NoneOf(_Composite):
    """None of the children is true. A child that cannot tell counts as not true."""

    word = "none"

    def missing(self, bed: BedState, now: float) -> list[str]:
        return []  # a veto that cannot tell does not stop the rule

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        if self.within is not None:
            return self._latched(bed, now, active) == 0
        return not any(c.test(bed, now, active) for c in self.kids)
