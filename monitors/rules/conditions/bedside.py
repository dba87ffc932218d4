"""Conditions on what happens at the bed beyond one value: an event, the study infusion,
the vasopressors, data that stopped arriving."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.model import EventSource
from monitors.rules.conditions.base import (
    NEVER,
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
    from monitors.engine.state import BedState, Series


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """One event field test: equal to one of `values` (text compared case-blind), or a bound."""

    field: str
    values: frozenset[Any] | None = None
    op: str | None = None
    limit: float | None = None
    negate: bool = False  # `{not: [...]}`: any value but these (an absent field included)

    def ok(self, fields: dict[str, Any]) -> bool:
        v = fields.get(self.field)
        if self.values is not None:
            if isinstance(v, str):
                v = v.lower()
            return (v in self.values) is not self.negate
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
                word = "not in" if m.negate else "in"
                parts.append(f"{m.field} {word} {sorted(str(v) for v in m.values)}")
            else:
                parts.append(f"{m.field} {OPS[m.op or 'at_least']} {m.limit:g}")
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
            ev["infusion_running_min"] = r3((now - bed.infusion_start) / 60.0)
            if bed.planned_min is not None:
                ev["planned_min"] = bed.planned_min

    def describe(self) -> str:
        if self.longer_than_s is None:
            return "study infusion running"
        return f"study infusion running > {self.longer_than_s / 60:g} min"


class Vasopressor(Cond):
    """START's vasopressor IAE: a dose increased to ≥ its threshold, or a third agent added.

    The comparison is with the dose in effect at infusion start (bed.pre_dose), else the
    nurse's confirmed pre-infusion status (bed.confirmed_pre): a patient already above
    threshold whose dose does not rise has no IAE. Unknown is not zero: a drug first seen
    after the start with neither cannot tell (a pump connecting late, unchanged, is no
    increase), nor can a third agent that may have run before.
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

    def _over(self, bed: BedState, code: str, thr: float) -> tuple[bool | None, float | None]:
        s = bed.series.get(code)
        if s is None or s.value is None:
            return False, None
        dose = s.value
        pre = pre_dose(bed, code)
        if pre is None:
            return (None if dose >= thr else False), dose
        # a tolerance of 1 % absorbs rounding of unit conversions, not a clinical increase
        return dose >= thr and dose > pre * 1.01 + 1e-9, dose

    def _count(self, bed: BedState) -> int:
        return sum(1 for code in self.agents if bed.agent_on.get(code))

    def unknown_agents(self, bed: BedState) -> list[str]:
        """Agents running now whose pre-infusion state nobody knows."""
        return [
            c
            for c in self.agents
            if bed.agent_on.get(c) and c not in bed.pre_on and pre_dose(bed, c) is None
        ]

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        unknown = False
        for code, thr in self.thresholds.items():
            over = self._over(bed, code, thr)[0]
            if over:
                return True
            unknown = unknown or over is None
        if self.third_agent is not None and self._count(bed) >= self.third_agent:
            if bed.pre_agents + len(self.unknown_agents(bed)) < self.third_agent:
                return True
            if bed.pre_agents < self.third_agent:
                unknown = True
        return None if unknown else False

    def triggers(self) -> set[str]:
        return set(self.agents) | set(self.thresholds) | {"@vasopressor_added"}

    def missing(self, bed: BedState, now: float) -> list[str]:
        return [f"{c}: pre-infusion dose unknown (confirm it)" for c in self.unknown_agents(bed)]

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        for code, thr in self.thresholds.items():
            over, dose = self._over(bed, code, thr)
            if dose is None and code not in bed.pre_dose:
                continue
            put_value(ev, code, dose)
            pre = pre_dose(bed, code)
            if pre is None:
                if dose:
                    note(ev, f"no {code} dose known before infusion start: cannot tell")
            else:
                put_baseline(ev, code, pre)
                if bed.pre_dose.get(code) is None:
                    note(ev, f"{code} before infusion start: as the nurse confirmed")
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


def pre_dose(bed: BedState, code: str) -> float | None:
    """The dose of `code` in effect at infusion start: seen then, else confirmed by a nurse,
    else 0 when the pump's first dose seen after the start was 0 (it was added later), else
    None (unknown; never taken as 0)."""
    pre = bed.pre_dose.get(code)
    if pre is None:
        pre = bed.confirmed_pre.get(code)
    if pre is None and bed.first_after.get(code) == 0.0:
        return 0.0
    return pre


class Stale(Cond):
    """A parameter seen at this bed has not arrived for more than its stale time (its device
    not known lost): `after_s`, or `cadence_x` times the source's own learned cadence if
    longer, so a feed that has sent once a minute all along is not stale at 60 s."""

    timed = True

    def __init__(
        self,
        refs: tuple[ParamRef, ...],
        after_s: float,
        cadence_x: float,
        not_after: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.params = refs
        self.codes = tuple(dict.fromkeys(c for r in refs for c in r.codes))
        self.after_s = after_s
        self.cadence_x = cadence_x
        self.not_after = not_after  # events after which these data are no longer expected

    def _after(self, s: Series) -> float:
        cadence = s.cadence()
        return self.after_s if cadence is None else max(self.after_s, cadence * self.cadence_x)

    def stale_codes(self, bed: BedState, now: float) -> list[str]:
        out = []
        for code in self.codes:
            s = bed.series.get(code)
            if s is None or now - s.t <= self._after(s):
                continue
            if s.device is not None and s.device in bed.disconnected:
                continue  # the device_disconnected alert already says it
            if any(bed.seen.get(e, NEVER) > s.t - self.after_s for e in self.not_after):
                continue  # stopped around an extubation: not expected any more
            out.append(code)
        return out

    def next_due(self, bed: BedState, now: float) -> float:
        due = now + self.after_s
        for code in self.codes:
            s = bed.series.get(code)
            if s is not None and s.t + self._after(s) >= now:
                due = min(due, s.t + self._after(s))
        return due

    def test(self, bed: BedState, now: float, active: bool) -> bool | None:
        return bool(self.stale_codes(bed, now))

    def refs(self) -> Iterable[ParamRef]:
        return self.params

    def collect(self, bed: BedState, now: float, ev: Evidence) -> None:
        stale = self.stale_codes(bed, now)
        ev["stale"] = {c: r3(now - bed.series[c].t) for c in stale}
        ev["stale_after_s"] = {c: r3(self._after(bed.series[c])) for c in stale}

    def severity(self, bed: BedState, now: float, out: dict[str, float]) -> None:
        out[str(self.uid)] = float(len(self.stale_codes(bed, now)))

    def describe(self) -> str:
        return f"no data for {self.after_s:g} s: " + ", ".join(r.name for r in self.params)
