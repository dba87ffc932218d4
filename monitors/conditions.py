"""The condition kinds a rule is built from. Pure: they read a `BedState` and the time.

`test(bed, now, active)` answers True, False, or None ("cannot tell": no fresh usable value,
no baseline). `active` is True while the rule's episode is open, which widens the condition
by its hysteresis so that a value hovering at the limit does not flap the alert.

Kinds: `Threshold` (absolute), `BaselineChange` (absolute or relative change from the bed's
pre-infusion baseline), `Rate` (change within a sliding span), `EventMatch` (a device or
clinician event), `Infusion` (the study infusion's state), `Vasopressor` (the trial's
vasopressor escalation), `Stale` (a parameter stopped arriving), and the composites `AllOf`,
`AnyOf`, `NoneOf` (optionally "each true at some time within a span").
Persistence and clearing belong to the rule (monitors/engine.py), not to conditions.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.model import EventSource
from monitors.state import BedState

_uids = itertools.count(1)
Evidence = dict[str, Any]


def _r(v: float) -> float:
    return round(v, 3)


@dataclass(frozen=True, slots=True)
class ParamRef:
    """A parameter as a rule names it: one code, or an ordered group (first fresh code wins).

    A group such as `[MDC_PRESS_BLD_ART_SYS, MDC_PRESS_BLD_NONINV_SYS]` prefers the arterial
    line while it reports and falls back to the cuff; a preferred code whose latest sample is
    fresh but unusable makes the group unknown rather than falling back.
    """

    name: str
    codes: tuple[str, ...]
    fresh: tuple[float, ...]  # seconds a sample stands for the present value, per code

    def current(self, bed: BedState, now: float) -> tuple[str | None, float | None]:
        series = bed.series
        if len(self.codes) == 1:
            code = self.codes[0]
            s = series.get(code)
            if s is not None and now - s.t <= self.fresh[0]:
                return code, s.value
            return None, None
        for code, fresh in zip(self.codes, self.fresh, strict=True):
            s = series.get(code)
            if s is not None and now - s.t <= fresh:
                return code, s.value
        return None, None

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

    def describe(self) -> str:
        raise NotImplementedError


def _put_value(ev: Evidence, code: str, v: float | None) -> None:
    ev.setdefault("values", {})[code] = None if v is None else _r(v)


def _put_baseline(ev: Evidence, code: str, v: float) -> None:
    ev.setdefault("baseline", {})[code] = _r(v)


def _note(ev: Evidence, text: str) -> None:
    notes = ev.setdefault("notes", [])
    if text not in notes:
        notes.append(text)


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


_OPS = {"below": "<", "at_most": "≤", "above": ">", "at_least": "≥"}


class Threshold(_Leaf):
    """value below / at_most / above / at_least a limit."""

    def __init__(self, ref: ParamRef, op: str, limit: float, hysteresis: float, step: float):
        super().__init__(ref, step)
        self.op = op
        self.limit = limit
        self.hyst = hysteresis
        self.below = op in ("below", "at_most")
        self.strict = op in ("below", "above")

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        v = self.ref.current(bed, now)[1]
        if v is None:
            return None
        lim = self.limit
        if self.below:
            if active:
                lim += self.hyst
            return v < lim if self.strict else v <= lim
        if active:
            lim -= self.hyst
        return v > lim if self.strict else v >= lim

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        code, v = self.ref.current(bed, now)
        if code is not None:
            _put_value(ev, code, v)

    def severity(self, bed: BedState, now: float, out: dict[str, float]) -> None:
        v = self.ref.current(bed, now)[1]
        if v is not None:
            out[self.key] = ((self.limit - v) if self.below else (v - self.limit)) / self.step

    def describe(self) -> str:
        return f"{self.ref.name} {_OPS[self.op]} {self.limit:g}"


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

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        code, v = self.ref.current(bed, now)
        if code is None:
            return
        _put_value(ev, code, v)
        bcode, base = self.ref.baseline(bed, code)
        if bcode is None or base is None:
            _note(ev, f"no baseline for {self.ref.name}: change not assessed")
            return
        _put_baseline(ev, bcode, base)
        if bcode != code:
            _note(ev, f"{code} compared with the baseline of {bcode}")
        if v is not None:
            key = "change_pct" if self.relative else "change"
            diff = (v - base) / abs(base) * 100.0 if self.relative and base else v - base
            ev.setdefault(key, {})[code] = _r(diff)

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
        _put_value(ev, code, v)
        ext = self._change(bed, now)[1]
        if ext is not None:
            key = "max" if not self.rise else "min"
            ev.setdefault(f"window_{key}", {})[code] = _r(ext)
            if self.smooth_s and v is not None:
                ev.setdefault("smoothed", {})[code] = _r(
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


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """One event field test: equal to one of `values` (text compared case-blind), or a bound."""

    field: str
    values: frozenset[Any] | None = None
    op: str | None = None
    limit: float | None = None

    def ok(self, fields: dict[str, Any]) -> bool:
        v = fields.get(self.field)
        if self.values is not None:
            if isinstance(v, str):
                v = v.lower()
            return v in self.values
        if isinstance(v, bool) or not isinstance(v, int | float) or self.limit is None:
            return False
        lim = self.limit
        return {
            "below": v < lim,
            "at_most": v <= lim,
            "above": v > lim,
            "at_least": v >= lim,
        }[self.op or "at_least"]


class EventMatch(Cond):
    """A device or clinician event with a name (one of several) and matching fields."""

    momentary = True

    def __init__(
        self,
        names: tuple[str, ...],
        match: tuple[FieldMatch, ...] = (),
        source: EventSource | None = None,
    ) -> None:
        super().__init__()
        self.names = frozenset(names)
        self.match = match
        self.source = source

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        ev = bed.event
        if ev is None or ev.event not in self.names:
            return False
        if self.source is not None and ev.source is not self.source:
            return False
        return all(m.ok(ev.fields) for m in self.match)

    def triggers(self) -> set[str]:
        return {"@" + n for n in self.names}

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        e = bed.event
        if e is not None and e.event in self.names:
            ev["event"] = e.event
            ev["fields"] = {k: v for k, v in e.fields.items() if k != "device"}
            if e.device:
                ev["device"] = e.device
            ev["source"] = e.source.value

    def describe(self) -> str:
        names = "/".join(sorted(self.names))
        parts = []
        for m in self.match:
            if m.values is not None:
                parts.append(f"{m.field} in {sorted(str(v) for v in m.values)}")
            else:
                parts.append(f"{m.field} {_OPS[m.op or 'at_least']} {m.limit:g}")
        return names + (f" ({', '.join(parts)})" if parts else "")


class Infusion(Cond):
    """The study infusion: `running`, or running longer than `longer_than_min` minutes."""

    timed = True

    def __init__(self, longer_than_min: float | None = None) -> None:
        super().__init__()
        self.longer_than_s = None if longer_than_min is None else longer_than_min * 60.0

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        start = bed.infusion_start
        if start is None or bed.infusion_end is not None:
            return False
        return self.longer_than_s is None or now - start > self.longer_than_s

    def triggers(self) -> set[str]:
        return {"@infusion_start", "@infusion_end"}

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        if bed.infusion_start is not None:
            ev["infusion_running_min"] = _r((now - bed.infusion_start) / 60.0)
            if bed.planned_min is not None:
                ev["planned_min"] = bed.planned_min

    def describe(self) -> str:
        if self.longer_than_s is None:
            return "study infusion running"
        return f"study infusion running > {self.longer_than_s / 60:g} min"


class Vasopressor(Cond):
    """START's vasopressor IAE: a dose increased to ≥ its threshold, or a third agent added.

    The comparison is with the dose in effect at infusion start (bed.pre_dose): a patient
    already above threshold whose dose does not rise has no IAE. No dose recorded before the
    infusion means the drug was not running (stated in the evidence).
    """

    def __init__(
        self,
        thresholds: dict[str, float],
        agents: tuple[str, ...],
        third_agent: int | None,
        step_pct: float,
    ) -> None:
        super().__init__()
        self.thresholds = thresholds
        self.agents = agents
        self.third_agent = third_agent
        self.step_pct = step_pct

    def _over(self, bed: BedState, code: str, thr: float) -> tuple[bool, float | None]:
        s = bed.series.get(code)
        if s is None or s.value is None:
            return False, None
        dose = s.value
        pre = bed.pre_dose.get(code) or 0.0
        # a tolerance of 1 % absorbs rounding of unit conversions, not a clinical increase
        return dose >= thr and dose > pre * 1.01 + 1e-9, dose

    def _count(self, bed: BedState) -> int:
        return sum(1 for code in self.agents if bed.agent_on.get(code))

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        for code, thr in self.thresholds.items():
            if self._over(bed, code, thr)[0]:
                return True
        if self.third_agent is not None:
            return self._count(bed) >= self.third_agent > bed.pre_agents
        return False

    def triggers(self) -> set[str]:
        return set(self.agents) | set(self.thresholds) | {"@vasopressor_added"}

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        for code, thr in self.thresholds.items():
            over, dose = self._over(bed, code, thr)
            if dose is None and code not in bed.pre_dose:
                continue
            _put_value(ev, code, dose)
            pre = bed.pre_dose.get(code)
            if pre is None:
                if dose:
                    _note(ev, f"no {code} dose recorded before infusion start: taken as 0")
            else:
                _put_baseline(ev, code, pre)
            if over:
                ev.setdefault("over_threshold", {})[code] = thr
        ev["agents_running"] = sorted(c for c in self.agents if bed.agent_on.get(c))
        ev["agents_at_infusion_start"] = bed.pre_agents

    def severity(self, bed: BedState, now: float, out: dict[str, float]) -> None:
        for code, thr in self.thresholds.items():
            over, dose = self._over(bed, code, thr)
            if over and dose is not None:
                out[f"{self.uid}:{code}"] = dose / thr * 100.0 / self.step_pct
        if self.third_agent is not None:
            out[f"{self.uid}:agents"] = float(self._count(bed))

    def describe(self) -> str:
        parts = [
            f"{c.removeprefix('IAEW_DOSE_').lower()} ≥ {t:g}" for c, t in self.thresholds.items()
        ]
        text = "vasopressor increased to " + " or ".join(parts)
        if self.third_agent is not None:
            text += f", or agent number {self.third_agent} added"
        return text


class Stale(Cond):
    """A parameter seen at this bed has not arrived for `after_s` (its device not known lost)."""

    timed = True

    def __init__(self, refs: tuple[ParamRef, ...], after_s: float) -> None:
        super().__init__()
        self.params = refs
        self.codes = tuple(dict.fromkeys(c for r in refs for c in r.codes))
        self.after_s = after_s

    def stale_codes(self, bed: BedState, now: float) -> list[str]:
        out = []
        for code in self.codes:
            s = bed.series.get(code)
            if s is None or now - s.t < self.after_s:
                continue
            if s.device is not None and s.device in bed.disconnected:
                continue  # the device_disconnected alert already says it
            out.append(code)
        return out

    def next_due(self, bed: BedState, now: float) -> float:
        due = now + self.after_s
        for code in self.codes:
            s = bed.series.get(code)
            if s is not None and s.t + self.after_s > now:
                due = min(due, s.t + self.after_s)
        return due

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        return bool(self.stale_codes(bed, now))

    def refs(self) -> Iterable[ParamRef]:
        return self.params

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        stale = self.stale_codes(bed, now)
        ev["stale"] = {c: _r(now - bed.series[c].t) for c in stale}

    def severity(self, bed: BedState, now: float, out: dict[str, float]) -> None:
        out[str(self.uid)] = float(len(self.stale_codes(bed, now)))

    def describe(self) -> str:
        return f"no data for {self.after_s:g} s: " + ", ".join(r.name for r in self.params)


class _Composite(Cond):
    word = ""

    def __init__(self, children: tuple[Cond, ...], within_s: float | None) -> None:
        super().__init__()
        self.kids = children
        self.within = within_s
        self.timed = any(c.timed for c in children)
        self._kid_triggers = tuple(frozenset(c.triggers()) for c in children)

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

    def _latched(self, bed: BedState, now: float, active: bool) -> list[bool]:
        """Each child: true at some time within the span (recording when it is true now)."""
        assert self.within is not None
        out = []
        latch = bed.latch
        lo = now - self.within
        trig = bed.trigger
        for c, kt in zip(self.kids, self._kid_triggers, strict=True):
            # a child whose inputs did not change cannot have become true: keep its latch
            if (trig is None or trig in kt) and c.test(bed, now, active):
                latch[c.uid] = now
            out.append(latch.get(c.uid, float("-inf")) >= lo)
        return out

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        for c in self.kids:
            c.collect(bed, now, ev)
        if self.within is not None:
            lo = now - self.within
            ev.setdefault("seen_within_span", {}).update(
                {c.describe(): bed.latch.get(c.uid, float("-inf")) >= lo for c in self.kids}
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
            return all(self._latched(bed, now, active))
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

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        if self.within is not None:
            return any(self._latched(bed, now, active))
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

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        if self.within is not None:
            return not any(self._latched(bed, now, active))
        return not any(c.test(bed, now, active) for c in self.kids)


def walk(c: Cond) -> Iterable[Cond]:
    yield c
    for k in c.children():
        yield from walk(k)
