"""The IAE rules engine: observations and events in, alert transitions out.

Pure and synchronous: `feed(msg)` returns the transitions that message causes (at `msg.t`),
`tick(now)` the ones time alone causes (persistence met, clear time passed, stale data,
escalation, window end). The engine never reads a clock; the caller drives time.

Per bed it keeps the latest usable sample of each parameter a rule reads, sliding extremes
for rate rules, and, until `infusion_start`, the samples from which the baseline is taken
(median of the last 30 min by default, `BaselineSpec`). Values are converted to the
parameter's canonical unit (per-kg doses with the weight from `infusion_start`); an
unconvertible unit, an implausible value or a questionable one is never used by a rule.
Alert ids are uuid5(bed, rule, onset), so a replay gives the same ids every time.
"""

from __future__ import annotations

import logging
import statistics
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from core.errors import UnitError
from core.model import (
    Alert,
    AlertState,
    Category,
    DeviceEvent,
    Observation,
    Phase,
    Priority,
    ValueStatus,
)
from core.params import PARAMETERS, VASOPRESSOR_CODES, Parameter
from core.records import format_time
from core.units import normalise_unit, to_canonical
from monitors.conditions import Infusion, Stale, walk
from monitors.derived import DERIVED, Derived
from monitors.lifecycle import ALERT_STATE, Episode, EpState, Trigger, step
from monitors.ruleset import Rule, RuleSet
from monitors.state import NEVER, BedState, Extreme, RuleRun, Series, SlidingMean

log = logging.getLogger(__name__)

_NS = uuid.UUID("5f1c7a52-3a8e-4d0e-9f57-1b2f4c6d8e90")  # namespace of iaewatch alert ids
_DOSE_UNITS = frozenset({"ug/kg/min", "ug/min", "ug/kg/h", "ug/h", "mg/min", "mg/h"})
_STUDY_PUMP_CODES = frozenset({"MDC_FLOW_FLUID_PUMP", "MDC_VOL_FLUID_DELIV", "MDC_VOL_FLUID_TBI"})
_AGENT_BY_DRUG = {k.lower(): v for k, v in VASOPRESSOR_CODES.items()}
_VALID = ValueStatus.VALID

BASELINE_MISSING = Rule(
    id="baseline_missing",
    category=Category.TECHNICAL,
    priority=Priority.LOW,
    title="No pre-infusion baseline for some parameters: their baseline rules cannot assess",
    source="iaewatch: a rule needing a baseline that does not exist says so, never guesses",
    when=Infusion(),
    kind="event",
    window_h=None,
    window_only=False,
    outside_window="ignore",
    clear_s=None,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class BedSummary:
    """What the engine knows of one bed, for the station page and the report."""

    bed: str
    infusion_start: datetime | None
    infusion_end: datetime | None
    weight_kg: float | None
    windows: dict[str, datetime]  # "6h" -> end of that window
    baseline: dict[str, float]
    baseline_missing: tuple[str, ...]
    pre_infusion_doses: dict[str, float | None]
    active_alerts: int
    last_seen: datetime | None


class Engine:
    """Rules engine for all beds. See the module docstring."""

    def __init__(self, ruleset: RuleSet, *, escalate_after_s: float | None = None) -> None:
        self.ruleset = ruleset
        self.escalate_after_s = escalate_after_s
        self._beds: dict[str, BedState] = {}
        self._by_id: dict[str, tuple[BedState, Episode, Rule]] = {}
        self._escalate: dict[str, tuple[BedState, Episode, Rule]] = {}
        self.warnings: Counter[str] = Counter()
        self._logged: set[str] = set()
        self._rule_by_id: dict[str, Rule] = {r.id: r for r in ruleset.rules}
        self._rule_by_id[BASELINE_MISSING.id] = BASELINE_MISSING
        self._describe = {r.id: r.when.describe() for r in ruleset.rules}
        self._describe[BASELINE_MISSING.id] = "baseline present for every baseline rule"
        self._plan()

    # -- planning: which codes and events matter to which rules -----------------------------
    def _plan(self) -> None:
        rs = self.ruleset
        by_trigger: dict[str, list[Rule]] = {}
        event_rules: dict[str, list[Rule]] = {}
        self._stale_rules: tuple[Rule, ...] = tuple(r for r in rs.rules if r.kind == "stale")
        self._timed_rules: tuple[Rule, ...] = tuple(
            r for r in rs.rules if r.kind == "state" and r.when.timed
        )
        watched: set[str] = set()
        extremes: dict[str, set[tuple[float, bool, float]]] = {}
        baseline_groups: dict[tuple[str, ...], tuple[str, list[str]]] = {}
        for r in rs.rules:
            for ref in r.context:
                watched.update(ref.codes)
            for c in walk(r.when):
                for ref in c.refs():
                    watched.update(ref.codes)
                for ref in c.baseline_refs():
                    _name, ids = baseline_groups.setdefault(ref.codes, (ref.name, []))
                    if r.id not in ids:
                        ids.append(r.id)
                for code, span, is_max, smooth in c.extremes():
                    extremes.setdefault(code, set()).add((span, is_max, smooth))
            if r.kind == "event":
                for trig in r.when.triggers():
                    event_rules.setdefault(trig[1:], []).append(r)
                if r.ends_on is not None:
                    for trig in r.ends_on.triggers():
                        event_rules.setdefault(trig[1:], []).append(r)
            elif r.kind == "state":
                for trig in r.when.triggers():
                    by_trigger.setdefault(trig, []).append(r)
                    if not trig.startswith("@"):
                        watched.add(trig)
        self._baseline_groups = baseline_groups
        self._baseline_codes = frozenset(c for g in baseline_groups for c in g)
        watched |= self._baseline_codes
        # derived parameters in use, and what they need
        self._derived_by_trigger: dict[str, list[Derived]] = {}
        for code in sorted(watched):
            d = DERIVED.get(code)
            if d is None:
                continue
            watched.update((d.a, d.b))
            for trig in d.triggers:
                self._derived_by_trigger.setdefault(trig, []).append(d)
        watched.update(VASOPRESSOR_CODES.values())  # doses feed the agent count
        watched.add("MDC_VOL_FLUID_DELIV")  # volume delivered, checked at infusion_end
        self._watched = frozenset(watched)
        self._by_trigger = {k: tuple(dict.fromkeys(v)) for k, v in by_trigger.items()}
        # a code that is only ever a fallback (pulse behind ECG, cuff behind arterial line)
        # cannot change a rule's answer while a preferred code is fresh: skip re-evaluation
        first: set[str] = set()
        behind: dict[str, set[str]] = {}
        for r in rs.rules:
            for c in walk(r.when):
                for ref in c.refs():
                    first.add(ref.codes[0])
                    for i, code in enumerate(ref.codes[1:], start=1):
                        behind.setdefault(code, set()).update(ref.codes[:i])
        self._shadow = {
            code: tuple(sorted(prefs)) for code, prefs in behind.items() if code not in first
        }
        self._event_rules = {k: tuple(dict.fromkeys(v)) for k, v in event_rules.items()}
        self._extremes = {k: tuple(sorted(v)) for k, v in extremes.items()}
        self._params: dict[str, Parameter] = {
            c: PARAMETERS[c] if c in PARAMETERS else DERIVED[c].param for c in watched
        }
        self._units = {c: p.unit for c, p in self._params.items()}
        self._keep = {c: self.ruleset.baseline.for_code(c)[0] for c in self._baseline_codes}
        self._fresh: dict[str, float] = {}
        default = rs.freshness.get("default") or 60.0
        for code in watched:
            f = rs.freshness.get(code, default)
            self._fresh[code] = float("inf") if f is None else f
        self._agents = tuple(VASOPRESSOR_CODES.values())
        hours = {r.window_h for r in rs.rules if r.window_h is not None}
        self._window_hours = tuple(sorted(hours | {rs.monitoring_window_h}))
        self._conv: dict[tuple[str, str], Callable[[float], float] | None] = {}

    # -- public interface ----------------------------------------------------------------
    def feed(self, msg: Observation | DeviceEvent) -> list[Alert]:
        """The alert transitions `msg` causes, timed at `msg.t`."""
        if type(msg) is Observation:
            if msg.code not in self._watched:
                return []
            out: list[Alert] = []
            self._observation(msg, out)
            return out
        if isinstance(msg, DeviceEvent):
            return self._event(msg)
        raise TypeError(f"feed() takes an Observation or a DeviceEvent, not {type(msg).__name__}")

    def tick(self, now: datetime) -> list[Alert]:
        """Transitions due by `now` that no message causes: persistence met, clear time
        passed, stale data, window end, escalation of an unacknowledged high-priority alert."""
        if now.tzinfo is None:
            raise ValueError("tick() needs a timezone-aware time")
        ts = now.timestamp()
        out: list[Alert] = []
        for bed in self._beds.values():
            self._tick_bed(bed, ts, now, out)
        if self.escalate_after_s is not None and self._escalate:
            for aid, (bed, ep, rule) in list(self._escalate.items()):
                if ep.acked_by is not None or ep.state is EpState.CLOSED:
                    del self._escalate[aid]
                elif ts - ep.started >= self.escalate_after_s:
                    nxt = step(ep.state, Trigger.OVERDUE)
                    del self._escalate[aid]
                    if nxt is None:
                        continue
                    ep.escalated = True
                    ev = dict(ep.evidence)
                    ev["escalated_after_s"] = self.escalate_after_s
                    out.append(self._alert(bed, ep, rule, Phase.ESCALATE, now, ev))
        return out

    def acknowledge(self, alert_id: str, by: str, at: datetime) -> None:
        """Record that `by` acknowledged the episode `alert_id`; stops its escalation and
        releases it once its condition is over (latching). Unknown or closed ids are ignored."""
        entry = self._by_id.get(alert_id)
        if entry is None:
            return
        _bed, ep, _rule = entry
        nxt = step(ep.state, Trigger.ACK)
        if nxt is None:
            return
        ep.state = nxt[0]
        ep.acked_by, ep.acked_at = by, at
        self._escalate.pop(alert_id, None)
        if ep.state is EpState.CLOSED:
            del self._by_id[alert_id]

    def beds(self) -> tuple[BedSummary, ...]:
        """Per-bed state: infusion, windows, baseline, open alerts."""
        out = []
        for name in sorted(self._beds):
            bed = self._beds[name]
            windows: dict[str, datetime] = {}
            if bed.infusion_start is not None:
                for h in self._window_hours:
                    windows[f"{h:g}h"] = datetime.fromtimestamp(
                        bed.infusion_start + h * 3600.0, UTC
                    )
            active = sum(1 for _b, ep, _r in self._by_id.values() if _b is bed)
            out.append(
                BedSummary(
                    bed=name,
                    infusion_start=bed.infusion_start_dt,
                    infusion_end=bed.infusion_end_dt,
                    weight_kg=bed.weight_kg,
                    windows=windows,
                    baseline=dict(bed.baseline),
                    baseline_missing=bed.baseline_missing,
                    pre_infusion_doses=dict(bed.pre_dose),
                    active_alerts=active,
                    last_seen=bed.last_dt,
                )
            )
        return tuple(out)

    # -- observations ------------------------------------------------------------------------
    def _bed(self, name: str) -> BedState:
        bed = self._beds.get(name)
        if bed is None:
            bed = self._beds[name] = BedState(name)
        return bed

    def _series(self, bed: BedState, code: str) -> Series:
        s = bed.series.get(code)
        if s is None:
            s = bed.series[code] = Series()
            for span, is_max, smooth in self._extremes.get(code, ()):
                s.extremes[(span, is_max, smooth)] = Extreme(span, is_max)
                if smooth and smooth not in s.smooth:
                    s.smooth[smooth] = SlidingMean(smooth)
            if bed.collecting_baseline and code in self._baseline_codes:
                s.hist = deque()
        return s

    def _warn(self, key: str, text: str) -> None:
        self.warnings[key] += 1
        if key not in self._logged:
            self._logged.add(key)
            log.warning("%s (further ones counted, not logged)", text)

    def _observation(self, msg: Observation, out: list[Alert]) -> None:
        code = msg.code
        bed = self._beds.get(msg.bed) or self._bed(msg.bed)
        ts = msg.t.timestamp()
        value = msg.value
        usable = value is not None and msg.status is _VALID
        if usable and msg.unit != self._units[code]:
            assert value is not None
            value = self._convert(bed, msg, ts, value)
            if value is None:
                return
        if (
            code in _STUDY_PUMP_CODES
            and bed.study_pump
            and msg.device
            not in (
                None,
                bed.study_pump,
            )
        ):
            return  # another pump's rate is not the study infusion's
        if bed.last_t < ts:
            bed.last_t = ts
            bed.last_dt = msg.t
        self._store(bed, code, ts, value if usable else None, msg.device, msg.t, out)

    def _store(
        self,
        bed: BedState,
        code: str,
        ts: float,
        value: float | None,
        device: str | None,
        dt: datetime,
        out: list[Alert],
    ) -> None:
        s = bed.series.get(code)
        if s is None:
            s = self._series(bed, code)
        elif ts < s.t:
            self._warn(f"out_of_order:{code}", f"{bed.name}: {code} sample older than the last")
            return
        if value is not None:
            p = self._params[code]
            if value < p.low or value > p.high:
                self._warn(
                    f"implausible:{code}",
                    f"{bed.name}: {code} = {value:g} outside {p.low:g}..{p.high:g}, not used",
                )
                value = None
        s.t = ts
        s.value = value
        s.device = device
        if value is not None:
            if s.hist is not None:
                hist = s.hist
                hist.append((ts, value))
                lo = ts - self._keep[code]
                while hist[0][0] < lo:
                    hist.popleft()
            if s.smooth:
                for sm in s.smooth.values():
                    sm.push(ts, value)
            if s.extremes:
                smooth = s.smooth
                for key, ext in s.extremes.items():
                    ext.push(ts, smooth[key[2]].mean if key[2] else value)
            if code in _AGENT_SET:
                bed.agent_on[code] = value > 0.0
        derived = self._derived_by_trigger.get(code)
        if derived:
            for d in derived:
                self._derive(bed, d, ts, device, dt, out)
        rules = self._by_trigger.get(code)
        if rules and code in self._shadow and self._shadowed(bed, code, ts):
            return
        if rules:
            bed.trigger = code
            for rule in rules:
                self._eval(bed, rule, ts, dt, out)
            bed.trigger = None

    def _shadowed(self, bed: BedState, code: str, ts: float) -> bool:
        for pref in self._shadow[code]:
            ps = bed.series.get(pref)
            if ps is not None and ts - ps.t <= self._fresh[pref]:
                return True
        return False

    def _derive(
        self,
        bed: BedState,
        d: Derived,
        ts: float,
        device: str | None,
        dt: datetime,
        out: list[Alert],
    ) -> None:
        a, b = bed.series.get(d.a), bed.series.get(d.b)
        if a is None or b is None:
            return
        if ts - a.t > self._fresh[d.a] or ts - b.t > self._fresh[d.b]:
            return
        value = None
        if a.value is not None and b.value is not None:
            value = d.compute(a.value, b.value)
        self._store(bed, d.code, ts, value, None, dt, out)

    def _convert(self, bed: BedState, msg: Observation, ts: float, value: float) -> float | None:
        code, unit = msg.code, msg.unit
        key = (code, unit)
        if key in self._conv:
            cached = self._conv[key]
            if cached is not None:
                return cached(value)
        norm = normalise_unit(unit)
        try:
            if norm in _DOSE_UNITS:
                return to_canonical(code, value, unit, weight_kg=bed.weight_kg)
            if code in DERIVED:
                raise UnitError(f"derived {code} is not accepted from outside")
            to_canonical(code, 1.0, unit)  # raises when impossible
        except UnitError as exc:
            if norm in _DOSE_UNITS and bed.weight_kg is None:
                # per-kg dose before the weight is known: keep it for infusion_start
                bed.pending_raw[code] = (ts, value, unit, msg.device)
                self._warn(
                    f"needs_weight:{code}",
                    f"{bed.name}: {code} in {unit} waits for the weight from infusion_start",
                )
                return None
            self._conv[key] = None
            self._warn(f"unit:{code}:{unit}", f"{bed.name}: {code}: {exc}; sample ignored")
            return None

        def conv(v: float, _c: str = code, _u: str = unit) -> float:
            return to_canonical(_c, v, _u)

        self._conv[key] = conv
        return conv(value)

    # -- events ------------------------------------------------------------------------------
    def _event(self, msg: DeviceEvent) -> list[Alert]:
        bed = self._bed(msg.bed)
        ts = msg.t.timestamp()
        if bed.last_t < ts:
            bed.last_t = ts
            bed.last_dt = msg.t
        out: list[Alert] = []
        name = msg.event
        f = msg.fields
        if name == "infusion_start":
            if not self._infusion_start(bed, msg, ts, out):
                return out
        elif name == "infusion_end":
            if bed.infusion_start is None or bed.infusion_end is not None:
                self._warn(
                    f"infusion_end_unmatched:{bed.name}", f"{bed.name}: infusion_end ignored"
                )
                return out
            bed.infusion_end, bed.infusion_end_dt = ts, msg.t
            msg = replace(msg, fields={**f, **self._infusion_facts(bed, ts)})
        elif name == "device_disconnected":
            bed.disconnected.add(_device_key(msg))
        elif name == "device_connected":
            bed.disconnected.discard(_device_key(msg))
        elif name == "vasopressor_added":
            code = _AGENT_BY_DRUG.get(str(f.get("drug", "")).lower()) or f.get("code")
            if code in _AGENT_SET:
                s = bed.series.get(code)
                if s is None or s.value is None or s.value > 0:
                    bed.agent_on[code] = True
        elif name == "blood_gas":
            pao2 = f.get("pao2_mmhg")
            if isinstance(pao2, int | float) and not isinstance(pao2, bool):
                code = "MDC_CONC_PO2_ART"
                if code in self._watched:
                    self._store(bed, code, ts, float(pao2), msg.device, msg.t, out)
        bed.event = msg
        try:
            for rule in self._event_rules.get(name, ()):
                self._event_rule(bed, rule, msg, ts, out)
            for rule in self._by_trigger.get("@" + name, ()):
                self._eval(bed, rule, ts, msg.t, out)
        finally:
            bed.event = None
        return out

    def _infusion_facts(self, bed: BedState, ts: float) -> dict[str, Any]:
        assert bed.infusion_start is not None
        facts: dict[str, Any] = {"duration_min": round((ts - bed.infusion_start) / 60.0, 2)}
        s = bed.series.get("MDC_VOL_FLUID_DELIV")
        if s is not None and s.value is not None and bed.volume_ml:
            facts["volume_delivered_ml"] = s.value
            facts["volume_off_pct"] = round(abs(s.value - bed.volume_ml) / bed.volume_ml * 100, 1)
        return facts

    def _infusion_start(self, bed: BedState, msg: DeviceEvent, ts: float, out: list[Alert]) -> bool:
        if bed.infusion_start is not None:
            if bed.monitoring_end is not None and ts < bed.monitoring_end:
                self._warn(
                    f"infusion_start_repeated:{bed.name}",
                    f"{bed.name}: second infusion_start inside the monitoring window ignored "
                    "(the window runs from the first)",
                )
                return False
            self._new_patient(bed)
        f = msg.fields
        bed.infusion_start, bed.infusion_start_dt = ts, msg.t
        bed.infusion_end = bed.infusion_end_dt = None
        bed.weight_kg = _positive(f.get("weight_kg"))
        bed.volume_ml = _positive(f.get("volume_ml"))
        bed.planned_min = _positive(f.get("planned_min"))
        bed.study_pump = msg.device
        arm = f.get("arm")
        bed.arm = arm if isinstance(arm, str) else None
        bed.monitoring_end = ts + self.ruleset.monitoring_window_h * 3600.0
        bed.window_ends = sorted(ts + h * 3600.0 for h in self._window_hours)
        # per-kg doses that waited for the weight
        for code, (t0, value, unit, device) in list(bed.pending_raw.items()):
            s = bed.series.get(code)
            if s is not None and s.t > t0:
                continue
            try:
                v = to_canonical(code, value, unit, weight_kg=bed.weight_kg)
            except UnitError:
                continue
            self._store(bed, code, t0, v, device, msg.t, [])
        bed.pending_raw.clear()
        self._take_baseline(bed, ts)
        for code in self._agents:
            s = bed.series.get(code)
            bed.pre_dose[code] = s.value if s is not None else None
        bed.pre_agents = sum(1 for c in self._agents if bed.agent_on.get(c))
        if bed.baseline_missing:
            self._start_baseline_missing(bed, ts, msg.t, out)
        return True

    def _take_baseline(self, bed: BedState, ts: float) -> None:
        spec = self.ruleset.baseline
        bed.baseline.clear()
        bed.baseline_info.clear()
        for code in sorted(self._baseline_codes):
            lookback, need = spec.for_code(code)
            s = bed.series.get(code)
            vals = (
                [] if s is None or s.hist is None else [v for t, v in s.hist if t >= ts - lookback]
            )
            bed.baseline_info[code] = (len(vals), need)
            if len(vals) >= need:
                bed.baseline[code] = float(statistics.median(vals))
        bed.collecting_baseline = False
        for s in bed.series.values():
            s.hist = None
        missing = []
        for codes, (name, _ids) in self._baseline_groups.items():
            if not any(c in bed.baseline for c in codes):
                missing.append(name)
        bed.baseline_missing = tuple(sorted(set(missing)))

    def _start_baseline_missing(
        self, bed: BedState, ts: float, dt: datetime, out: list[Alert]
    ) -> None:
        rule = BASELINE_MISSING
        rr = bed.run(rule.id)
        if rr.episode is not None:
            return
        missing: dict[str, Any] = {}
        rules: list[str] = []
        for codes, (name, ids) in self._baseline_groups.items():
            if name in bed.baseline_missing:
                missing[name] = {
                    c: dict(zip(("samples", "needed"), bed.baseline_info[c], strict=True))
                    for c in codes
                }
                rules += [i for i in ids if i not in rules]
        ep = self._open(bed, rule, rr, ts, dt, iae=False)
        ev = {
            "condition": "median of the pre-infusion samples, enough of them",
            "missing": missing,
            "rules_not_assessed": rules,
            "infusion_start": format_time(dt),
            "notes": ["watch these parameters clinically; iaewatch will not guess a baseline"],
        }
        ep.evidence = ev
        out.append(self._alert(bed, ep, rule, Phase.START, dt, ev))

    def _new_patient(self, bed: BedState) -> None:
        """A new infusion after the last monitoring window ended: start afresh."""
        bed.baseline.clear()
        bed.baseline_info.clear()
        bed.baseline_missing = ()
        bed.pre_dose.clear()
        bed.pre_agents = 0
        bed.latch.clear()

    def _event_rule(
        self, bed: BedState, rule: Rule, msg: DeviceEvent, ts: float, out: list[Alert]
    ) -> None:
        rr = bed.runs.get(rule.id) or bed.run(rule.id)
        ep = rr.episode
        key = _field_key(msg, rule.key)
        if ep is not None and rule.ends_on is not None and rule.ends_on.test(bed, ts, True):
            if rule.key is None:
                ep.keys.clear()
            else:
                ep.keys.discard(key)
            if not ep.keys:
                self._end(bed, rule, rr, ts, msg.t, out, f"{msg.event}")
            return
        if not rule.when.test(bed, ts, False):
            return
        iae = rule.iae
        if rule.window_only:
            assert rule.window_h is not None
            if not bed.in_window(ts, rule.window_h):
                if rule.outside_window != "warn":
                    return
                iae = False
        rr.last_trigger = ts
        if ep is None or ep.iae != iae:
            if ep is not None:
                self._end(bed, rule, rr, ts, msg.t, out, "superseded")
            ep = self._open(bed, rule, rr, ts, msg.t, iae=iae)
            if rule.key is not None:
                ep.keys.add(key)
            ev = self._evidence(bed, rule, ts, ep)
            ep.evidence = ev
            out.append(self._alert(bed, ep, rule, Phase.START, msg.t, ev))
        else:
            ep.count += 1
            if rule.key is not None:
                ep.keys.add(key)
            ev = self._evidence(bed, rule, ts, ep)
            ep.evidence = ev
            out.append(self._alert(bed, ep, rule, Phase.UPDATE, msg.t, ev))
        bed.timed.add(rule.id)

    # -- state rules -------------------------------------------------------------------------
    def _eval(self, bed: BedState, rule: Rule, ts: float, dt: datetime, out: list[Alert]) -> None:
        rr = bed.runs.get(rule.id) or bed.run(rule.id)
        ep = rr.episode
        iae = rule.iae
        if rule.window_only:
            start = bed.infusion_start
            if start is None or not start <= ts < start + (rule.window_h or 0.0) * 3600.0:
                if rule.outside_window == "ignore" or (ep is not None and ep.iae):
                    rr.pending_since = None
                    return  # open IAE episodes are closed by tick() at the window's end
                iae = False
            elif ep is not None and not ep.iae:
                # an early warning raised before the window opened gives way to the IAE
                self._end(bed, rule, rr, ts, dt, out, "infusion window opened")
                ep = None
        res = rule.when.test(bed, ts, ep is not None)
        if ep is None:
            if res:
                if rr.pending_since is None:
                    rr.pending_since, rr.pending_dt = ts, dt
                    bed.timed.add(rule.id)
                if ts - rr.pending_since >= rule.persist_s:
                    self._start(bed, rule, rr, ts, dt, out, iae)
            elif rr.pending_since is not None:
                rr.pending_since = None
        elif res:
            rr.clear_since = None
            self._maybe_update(bed, rule, ep, ts, dt, out)
        elif res is False:
            if rr.clear_since is None:
                rr.clear_since = ts
                bed.timed.add(rule.id)
            if ts - rr.clear_since >= (rule.clear_s or 0.0):
                self._end(bed, rule, rr, ts, dt, out, "condition cleared")
        else:
            rr.clear_since = None  # cannot tell: neither confirms nor clears

    def _start(
        self,
        bed: BedState,
        rule: Rule,
        rr: RuleRun,
        ts: float,
        dt: datetime,
        out: list[Alert],
        iae: bool,
    ) -> None:
        onset_ts = rr.pending_since if rr.pending_since is not None else ts
        onset = rr.pending_dt if rr.pending_dt is not None else dt
        ep = self._open(bed, rule, rr, onset_ts, onset, iae=iae)
        ep.started = ts
        sev: dict[str, float] = {}
        rule.when.severity(bed, ts, sev)
        ep.worst = sev
        ev = self._evidence(bed, rule, ts, ep)
        if rule.persist_s:
            ev["held_s"] = round(ts - onset_ts, 1)
        ep.evidence = ev
        out.append(self._alert(bed, ep, rule, Phase.START, dt, ev))

    def _open(
        self, bed: BedState, rule: Rule, rr: RuleRun, ts: float, onset: datetime, *, iae: bool
    ) -> Episode:
        stamp = onset.astimezone(UTC).isoformat()
        aid = str(uuid.uuid5(_NS, f"{bed.name}\x1f{rule.id}\x1f{stamp}"))
        ep = Episode(id=aid, bed=bed.name, rule_id=rule.id, onset=onset, started=ts, iae=iae)
        rr.episode = ep
        rr.pending_since = rr.pending_dt = None
        rr.clear_since = None
        self._by_id[aid] = (bed, ep, rule)
        if self.escalate_after_s is not None and rule.priority is Priority.HIGH:
            self._escalate[aid] = (bed, ep, rule)
        bed.timed.add(rule.id)
        return ep

    def _maybe_update(
        self, bed: BedState, rule: Rule, ep: Episode, ts: float, dt: datetime, out: list[Alert]
    ) -> None:
        sev: dict[str, float] = {}
        rule.when.severity(bed, ts, sev)
        worst = ep.worst
        worse = False
        for k, v in sev.items():
            w = worst.get(k)
            if w is None or v >= w + 1.0:
                worse = True
                worst[k] = v
        if worse:
            nxt = step(ep.state, Trigger.WORSE)
            if nxt is None:
                return
            ev = self._evidence(bed, rule, ts, ep)
            ep.evidence = ev
            out.append(self._alert(bed, ep, rule, Phase.UPDATE, dt, ev))

    def _end(
        self,
        bed: BedState,
        rule: Rule,
        rr: RuleRun,
        ts: float,
        dt: datetime,
        out: list[Alert],
        reason: str,
    ) -> None:
        ep = rr.episode
        if ep is None:
            return
        trig = Trigger.CLEAR if self.ruleset.latching else Trigger.CLEAR_UNLATCHED
        nxt = step(ep.state, trig)
        rr.episode = None
        rr.clear_since = None
        if nxt is None:
            return
        ep.state = nxt[0]
        ep.ended_at = dt
        ev = self._evidence(bed, rule, ts, ep) if rule.kind != "event" else dict(ep.evidence)
        ev["ended_by"] = reason
        ev["duration_s"] = round(ts - ep.onset.timestamp(), 1)
        out.append(self._alert(bed, ep, rule, Phase.END, dt, ev))
        if ep.state is EpState.CLOSED:
            self._by_id.pop(ep.id, None)
            self._escalate.pop(ep.id, None)

    # -- time --------------------------------------------------------------------------------
    def _tick_bed(self, bed: BedState, ts: float, now: datetime, out: list[Alert]) -> None:
        if bed.infusion_start is not None:
            self._windows(bed, ts, now, out)
        for rule in self._stale_rules:
            self._stale(bed, rule, ts, now, out)
        if bed.infusion_start is not None:
            for rule in self._timed_rules:
                rr = bed.runs.get(rule.id)
                if bed.infusion_end is None or (rr is not None and rr.episode is not None):
                    self._eval(bed, rule, ts, now, out)
        if not bed.timed:
            return
        for rid in list(bed.timed):
            rule = self._rule_by_id[rid]
            rr = bed.runs[rid]
            ep = rr.episode
            if rule.kind == "event":
                if ep is None:
                    bed.timed.discard(rid)
                elif (
                    rule.clear_s is not None
                    and not ep.keys
                    and ts - rr.last_trigger >= rule.clear_s
                ):
                    self._end(bed, rule, rr, ts, now, out, f"no repeat for {rule.clear_s:g} s")
                continue
            if ep is None and rr.pending_since is not None:
                in_win = not rule.window_only or bed.in_window(ts, rule.window_h or 0.0)
                if not in_win and rule.outside_window == "ignore":
                    rr.pending_since = None
                elif ts - rr.pending_since >= rule.persist_s:
                    self._start(bed, rule, rr, ts, now, out, rule.iae and in_win)
            elif (
                ep is not None
                and rr.clear_since is not None
                and ts - rr.clear_since >= (rule.clear_s or 0.0)
            ):
                self._end(bed, rule, rr, ts, now, out, "condition cleared")
            if rr.episode is None and rr.pending_since is None:
                bed.timed.discard(rid)

    def _windows(self, bed: BedState, ts: float, now: datetime, out: list[Alert]) -> None:
        start = bed.infusion_start
        assert start is not None
        if not bed.window_ends or ts < bed.window_ends[0]:
            return
        while bed.window_ends and bed.window_ends[0] <= ts:
            bed.window_ends.pop(0)
        for rr_id, rr in bed.runs.items():
            ep = rr.episode
            rule = self._rule_by_id[rr_id]
            if rule is BASELINE_MISSING:
                end = bed.monitoring_end
                if ep is not None and end is not None and ts >= end:
                    self._end(bed, rule, rr, ts, now, out, "monitoring window ended")
                continue
            if not rule.window_only or rule.window_h is None:
                continue
            if rule.kind == "event" and rule.clear_s is None:
                continue  # a death or an arrest stays on record: it does not end with a window
            if ts < start + rule.window_h * 3600.0:
                continue
            rr.pending_since = None
            if ep is not None and ep.iae:
                self._end(bed, rule, rr, ts, now, out, f"{rule.window_h:g} h window ended")
        if (
            bed.monitoring_end is not None
            and ts >= bed.monitoring_end
            and not bed.collecting_baseline
        ):
            bed.collecting_baseline = True  # ready for the next patient's baseline
            for code, s in bed.series.items():
                if code in self._baseline_codes:
                    s.hist = deque()

    def _stale(self, bed: BedState, rule: Rule, ts: float, now: datetime, out: list[Alert]) -> None:
        rr = bed.runs.get(rule.id)
        if (rr is None or rr.episode is None) and ts < bed.stale_due.get(rule.id, NEVER):
            return
        cond = rule.when
        assert isinstance(cond, Stale)
        stale = cond.stale_codes(bed, ts)
        rr = rr or bed.run(rule.id)
        if stale:
            if rr.episode is None:
                rr.pending_since, rr.pending_dt = ts, now
                self._start(bed, rule, rr, ts, now, out, False)
            else:
                self._maybe_update(bed, rule, rr.episode, ts, now, out)
        else:
            if rr.episode is not None:
                self._end(bed, rule, rr, ts, now, out, "data arriving again")
            bed.stale_due[rule.id] = cond.next_due(bed, ts)

    # -- evidence and alerts -------------------------------------------------------------
    def _evidence(self, bed: BedState, rule: Rule, ts: float, ep: Episode) -> dict[str, Any]:
        ev: dict[str, Any] = {"condition": self._describe[rule.id]}
        rule.when.collect(bed, ts, ev)
        for ref in rule.context:
            code, v = ref.current(bed, ts)
            if code is not None:
                ev.setdefault("context", {})[code] = None if v is None else round(v, 3)
                b = bed.baseline.get(code)
                if b is not None:
                    ev.setdefault("context_baseline", {})[code] = round(b, 3)
        if rule.kind == "event" and ep.count > 1:
            ev["count"] = ep.count
        if bed.infusion_start is not None and bed.infusion_start_dt is not None:
            hours = rule.window_h or self.ruleset.monitoring_window_h
            ev["infusion_start"] = format_time(bed.infusion_start_dt)
            ev["window_h"] = hours
            ev["in_window"] = bed.in_window(ts, hours)
            if bed.arm:
                ev["arm"] = bed.arm
        else:
            ev["in_window"] = False
            ev["infusion_start"] = None
            if any(True for c in walk(rule.when) for _ in c.baseline_refs()):
                notes = ev.setdefault("notes", [])
                notes.append("no infusion yet: no baseline, change-from-baseline not assessed")
        return ev

    def _alert(
        self,
        bed: BedState,
        ep: Episode,
        rule: Rule,
        phase: Phase,
        t: datetime,
        evidence: dict[str, Any],
    ) -> Alert:
        return Alert(
            id=ep.id,
            bed=bed.name,
            category=rule.category,
            rule=rule.id,
            priority=rule.priority,
            phase=phase,
            state=ALERT_STATE[ep.state] if phase is not Phase.END else AlertState.RESOLVED,
            onset=ep.onset,
            t=t,
            message=_message(rule.title, evidence),
            evidence=evidence,
            iae=ep.iae,
            acked_by=ep.acked_by,
            acked_at=ep.acked_at,
            ended_at=ep.ended_at,
        )


_AGENT_SET = frozenset(VASOPRESSOR_CODES.values())
_DETAIL_FIELDS = ("kind", "rhythm", "sign")


def _message(title: str, evidence: dict[str, Any]) -> str:
    """The rule's title, plus what the device or clinician said (occlusion, VT, urticaria),
    so the nurse reads the alarm without opening its evidence."""
    fields = evidence.get("fields")
    if isinstance(fields, dict):
        said = [str(fields[k]).replace("_", " ") for k in _DETAIL_FIELDS if fields.get(k)]
        if said:
            return f"{title}: {', '.join(said)}"
    return title


def _positive(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not x > 0:
        return None
    return float(x)


def _device_key(msg: DeviceEvent) -> str:
    dev = msg.fields.get("device") or msg.device
    return str(dev) if dev else ""


def _field_key(msg: DeviceEvent, field: str | None) -> str:
    if field is None:
        return ""
    if field == "device":
        return _device_key(msg)
    return str(msg.fields.get(field, ""))
