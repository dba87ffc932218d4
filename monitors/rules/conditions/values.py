"""Conditions on one parameter's value: absolute, change from baseline, change over time."""

from __future__ import annotations

import operator
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.params import PARAMETERS
from monitors.rules.conditions.base import (
    OPS,
    Cond,
    Evidence,
    ParamRef,
    note,
    put_baseline,
    put_value,
    r3,
)

if TYPE_CHECKING:
    from monitors.engine.state import BedState

MIN_RUNNING_REFERENCE = 5
"""Samples a pre-infusion reference needs (as the baseline's own default)."""
_PAST: dict[str, Callable[[float, float], bool]] = {
    "below": operator.lt,
    "at_most": operator.le,
    "above": operator.gt,
    "at_least": operator.ge,
}
"""Whether a value is past a limit, by the threshold's operator."""


class _Leaf(Cond):
    def __init__(self, ref: ParamRef, step: float) -> None:
        super().__init__()
        self.ref = ref
        self.step = step
        self.key = str(self.uid)
        self._triggers = set(ref.codes)

    def triggers(self) -> set[str]:
        return self._triggers

    def refs(self) -> Iterable[ParamRef]:
        return (self.ref,)

    def missing(self, bed: BedState, now: float) -> list[str]:
        return [] if self.ref.seen(bed) else [f"{self.ref.name}: never measured at this bed"]


@dataclass(frozen=True, slots=True)
class AtBaseline:
    """A threshold's answer for a condition already present before the infusion: the value
    must then also be `worse_by` past the patient's own reference. "Present" means the
    reference is past the limit, or within `within` of it."""

    worse_by: float
    within: float = 0.0


class Threshold(_Leaf):
    """value below / at_most / above / at_least a limit; with `at_baseline`, only when new or
    clearly worse than the patient's reference (the pre-infusion baseline; before the
    infusion, the median of the samples in the baseline look-back so far, and cannot tell
    while there are fewer than `MIN_RUNNING_REFERENCE`)."""

    def __init__(
        self,
        ref: ParamRef,
        op: str,
        limit: float,
        hysteresis: float,
        step: float,
        at_baseline: AtBaseline | None = None,
    ):
        super().__init__(ref, step)
        self.op = op
        self.limit = limit
        self.hyst = hysteresis
        self.below = op in ("below", "at_most")
        self.at_baseline = at_baseline
        self._past: Callable[[float, float], bool] = _PAST[op]

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        code, v = self.ref.current(bed, now)
        if v is None:
            return None
        lim = self.limit
        if active:
            lim += self.hyst if self.below else -self.hyst
        if not self._past(v, lim):
            return False
        ab = self.at_baseline
        if ab is None:
            return True
        ref = self._reference(bed, code)
        if ref is None:
            # before the infusion too few samples cannot tell yet; after it, no baseline
            # (baseline_missing says so) leaves the plain threshold
            return None if bed.collecting_baseline else True
        if not self._present(ref):
            return True  # new: not present in the reference
        worse = (ref - v) if self.below else (v - ref)
        return worse >= ab.worse_by - (self.hyst if active else 0.0)

    def _present(self, ref: float) -> bool:
        assert self.at_baseline is not None
        within = self.at_baseline.within
        return self._past(ref, self.limit + within if self.below else self.limit - within)

    def _reference(self, bed: BedState, code: str | None) -> float | None:
        """The pre-infusion baseline, or before the infusion the samples so far."""
        if code is None:
            return None
        if not bed.collecting_baseline:
            return self.ref.baseline(bed, code)[1]
        s = bed.series.get(code)
        if s is None or s.hist is None or len(s.hist) < MIN_RUNNING_REFERENCE:
            return None
        return float(statistics.median([v for _t, v in s.hist]))

    def baseline_refs(self) -> Iterable[ParamRef]:
        return (self.ref,) if self.at_baseline is not None else ()

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        code, v = self.ref.current(bed, now)
        if code is None:
            return
        put_value(ev, code, v)
        ab = self.at_baseline
        if ab is None:
            return
        ref = self._reference(bed, code)
        if ref is None:
            note(ev, f"no reference for {self.ref.name}: taken as new")
            return
        ev.setdefault("reference", {})[code] = r3(ref)
        if self._present(ref):
            note(
                ev,
                f"{self.describe_limit()} already at baseline ({r3(ref):g}): "
                f"needs {ab.worse_by:g} worse",
            )

    def severity(self, bed: BedState, now: float, out: dict[str, float]) -> None:
        v = self.ref.current(bed, now)[1]
        if v is not None:
            out[self.key] = ((self.limit - v) if self.below else (v - self.limit)) / self.step

    def describe_limit(self) -> str:
        return f"{self.ref.name} {OPS[self.op]} {self.limit:g}"

    def describe(self) -> str:
        ab = self.at_baseline
        if ab is None:
            return self.describe_limit()
        word = "below" if self.below else "above"
        return f"{self.describe_limit()} (if already at baseline: {ab.worse_by:g} {word} it)"


class BaselineChange(_Leaf):
    """value risen / fallen from the baseline by at least an amount (absolute or %)."""

    def __init__(
        self,
        ref: ParamRef,
        rise: bool,
        amount: float,
        relative: bool,
        hysteresis: float,
        step: float,
    ) -> None:
        super().__init__(ref, step)
        self.rise = rise
        self.amount = amount
        self.relative = relative
        self.hyst = hysteresis

    def _change(self, bed: BedState, now: float) -> float | None:
        code, v = self.ref.current(bed, now)
        if v is None or code is None:
            return None
        base = self.ref.baseline(bed, code)[1]
        if base is None:
            return None
        delta = v - base if self.rise else base - v
        if self.relative:
            if base == 0:
                return None
            delta = delta / abs(base) * 100.0
        return delta

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        delta = self._change(bed, now)
        if delta is None:
            return None
        return delta >= (self.amount - self.hyst if active else self.amount)

    def baseline_refs(self) -> Iterable[ParamRef]:
        return (self.ref,)

    def missing(self, bed: BedState, now: float) -> list[str]:
        lacks = super().missing(bed, now)
        if lacks or bed.collecting_baseline:
            return lacks
        code, base = None, None
        for c in self.ref.codes:
            code, base = self.ref.baseline(bed, c)
            if base is not None:
                break
        if base is None or code is None:
            return [f"{self.ref.name}: no pre-infusion baseline"]
        p = PARAMETERS.get(code)
        if self.rise and not self.relative and p is not None and base + self.amount > p.high:
            return [
                f"{self.ref.name}: baseline {base:g} + {self.amount:g} is beyond {p.high:g} "
                "(at its ceiling: cannot rise that much)"
            ]
        return []

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        code, v = self.ref.current(bed, now)
        if code is None:
            return
        put_value(ev, code, v)
        bcode, base = self.ref.baseline(bed, code)
        if bcode is None or base is None:
            note(ev, f"no baseline for {self.ref.name}: change not assessed")
            return
        put_baseline(ev, bcode, base)
        if bcode != code:
            note(ev, f"{code} compared with the baseline of {bcode}")
        if v is not None:
            key = "change_pct" if self.relative else "change"
            diff = (v - base) / abs(base) * 100.0 if self.relative and base else v - base
            ev.setdefault(key, {})[code] = r3(diff)

    def severity(self, bed: BedState, now: float, out: dict[str, float]) -> None:
        delta = self._change(bed, now)
        if delta is not None:
            out[self.key] = (delta - self.amount) / self.step

    def describe(self) -> str:
        sign = "+" if self.rise else "−"
        unit = " %" if self.relative else ""
        return f"{self.ref.name} {sign}{self.amount:g}{unit} from baseline"


class Rate(_Leaf):
    """value risen / fallen by at least an amount (absolute or %) within the last `span` s.

    Measured on the `smooth_s` sliding mean (0 = raw samples): the fall is the window's
    maximum of that mean minus its present value, so one noisy sample cannot make a trend.
    """

    def __init__(
        self,
        ref: ParamRef,
        rise: bool,
        amount: float,
        relative: bool,
        span: float,
        step: float,
        smooth_s: float = 0.0,
    ) -> None:
        super().__init__(ref, step)
        self.rise = rise
        self.amount = amount
        self.relative = relative
        self.span = span
        self.smooth_s = smooth_s
        self.ext_key = (span, not rise, smooth_s)  # a fall is measured from the maximum

    def _change(self, bed: BedState, now: float) -> tuple[float | None, float | None]:
        code, v = self.ref.current(bed, now)
        if v is None or code is None:
            return None, None
        s = bed.series[code]
        if self.smooth_s:
            v = s.smooth[self.smooth_s].mean
        ext = s.extremes[self.ext_key].value(now)
        if ext is None:
            return None, None
        delta = v - ext if self.rise else ext - v
        if self.relative:
            if ext == 0:
                return None, ext
            delta = delta / abs(ext) * 100.0
        return delta, ext

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        delta = self._change(bed, now)[0]
        return None if delta is None else delta >= self.amount

    def extremes(self) -> Iterable[tuple[str, float, bool, float]]:
        return ((code, self.span, not self.rise, self.smooth_s) for code in self.ref.codes)

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        code, v = self.ref.current(bed, now)
        if code is None:
            return
        put_value(ev, code, v)
        ext = self._change(bed, now)[1]
        if ext is not None:
            key = "max" if not self.rise else "min"
            ev.setdefault(f"window_{key}", {})[code] = r3(ext)
            if self.smooth_s and v is not None:
                ev.setdefault("smoothed", {})[code] = r3(
                    bed.series[code].smooth[self.smooth_s].mean
                )

    def severity(self, bed: BedState, now: float, out: dict[str, float]) -> None:
        delta = self._change(bed, now)[0]
        if delta is not None:
            out[self.key] = (delta - self.amount) / self.step

    def describe(self) -> str:
        word = "rise" if self.rise else "fall"
        unit = " %" if self.relative else ""
        smooth = f" ({self.smooth_s:g} s mean)" if self.smooth_s else ""
        return f"{self.ref.name}{smooth} {word} ≥ {self.amount:g}{unit} within {self.span:g} s"
