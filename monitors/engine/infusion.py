"""The study infusion at a bed: start and end, baseline, pre-infusion doses, windows.

One infusion per bed at a time, as the store records it (`app.infusions`): a repeated
`infusion_start` is ignored while the first runs (no end yet) or inside its monitoring window.
At `infusion_start` the bed takes the weight (then converts per-kg doses that waited for it),
the baseline (median of the usable samples in the look-back before start, `BaselineSpec`),
the vasopressor doses in effect and the agents running, and the ends of its rule windows.
A parameter some baseline rule needs with too few samples raises `baseline_missing` (never
a guessed baseline). At `infusion_end` the event gains the infusion's duration and how far
the delivered volume is off. When a window ends, the IAE episodes counted in it end; when
the monitoring window ends, the bed collects a baseline again for a next patient.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.errors import UnitError
from core.model import Alert, Category, DeviceEvent, Phase, Priority
from core.records import format_time
from core.units import to_canonical
from monitors.engine.episodes import Episodes
from monitors.engine.intake import Intake
from monitors.engine.plan import Plan
from monitors.engine.state import BedState
from monitors.engine.warnings import Warnings
from monitors.rules.conditions import Infusion
from monitors.rules.ruleset import Rule, RuleSet


def engine_rule(rule_id: str, title: str, source: str) -> Rule:
    """A technical, low-priority rule of the engine's own: it raises the episode itself."""
    return Rule(
        id=rule_id,
        category=Category.TECHNICAL,
        priority=Priority.LOW,
        title=title,
        source=source,
        when=Infusion(),
        kind="event",
        window_h=None,
        window_only=False,
        outside_window="ignore",
        clear_s=None,
    )


BASELINE_MISSING = engine_rule(
    "baseline_missing",
    "No pre-infusion baseline for some parameters: their baseline rules cannot assess",
    "iaewatch: a rule needing a baseline that does not exist says so, never guesses",
)


class Infusions:
    """Infusion start and end at each bed, and the windows that run from the start."""

    def __init__(
        self, ruleset: RuleSet, plan: Plan, warn: Warnings, intake: Intake, episodes: Episodes
    ) -> None:
        self.ruleset = ruleset
        self.plan = plan
        self._warn = warn
        self._intake = intake
        self._episodes = episodes
        episodes.register(BASELINE_MISSING, "baseline present for every baseline rule")

    def start(
        self,
        bed: BedState,
        msg: DeviceEvent,
        ts: float,
        out: list[Alert],
        *,
        raise_missing: bool = True,
    ) -> bool:
        """Take `infusion_start`; False when it is ignored (a repeat inside the window).
        `raise_missing=False`: a missing baseline is left for the caller to raise."""
        if bed.infusion_start is not None:
            running = bed.infusion_end is None
            if running or (bed.monitoring_end is not None and ts < bed.monitoring_end):
                why = "an infusion is running" if running else "inside the monitoring window"
                self._warn(
                    f"infusion_start_repeated:{bed.name}",
                    f"{bed.name}: second infusion_start ignored, {why} "
                    "(the windows run from the first start)",
                )
                return False
            _new_patient(bed)
        f = msg.fields
        bed.infusion_start, bed.infusion_start_dt = ts, msg.t
        bed.infusion_start_source, bed.infusion_start_uncertainty_s = _start_certainty(f)
        bed.infusion_end = bed.infusion_end_dt = None
        bed.weight_kg = _positive(f.get("weight_kg"))
        bed.volume_ml = _positive(f.get("volume_ml"))
        bed.planned_min = _positive(f.get("planned_min"))
        bed.study_pump = msg.device
        bed.monitoring_end = ts + self.ruleset.monitoring_window_h * 3600.0
        bed.window_ends = sorted(ts + h * 3600.0 for h in self.plan.window_hours)
        # per-kg doses that waited for the weight
        for code, (t0, value, unit, device) in list(bed.pending_raw.items()):
            s = bed.series.get(code)
            if s is not None and s.t > t0:
                continue
            try:
                v = to_canonical(code, value, unit, weight_kg=bed.weight_kg)
            except UnitError:
                continue
            self._intake.store(bed, code, t0, v, device, msg.t, [])
        bed.pending_raw.clear()
        for code, (dose, unit) in list(bed.confirmed_raw.items()):
            confirm_dose(bed, code, dose, unit, self._warn)
        self._take_baseline(bed, ts)
        agents = self.plan.agents
        for code in agents:
            s = bed.series.get(code)
            bed.pre_dose[code] = s.value if s is not None else None
        bed.pre_on = frozenset(c for c in agents if bed.agent_on.get(c))
        bed.pre_agents = len(bed.pre_on)
        if bed.baseline_missing and raise_missing:
            self.raise_baseline_missing(bed, ts, msg.t, out)
        return True

    def end(self, bed: BedState, msg: DeviceEvent, ts: float) -> DeviceEvent | None:
        """Take `infusion_end`: the event with the infusion's facts added, or None when no
        infusion is running here (then it is ignored)."""
        if bed.infusion_start is None or bed.infusion_end is not None:
            self._warn(f"infusion_end_unmatched:{bed.name}", f"{bed.name}: infusion_end ignored")
            return None
        bed.infusion_end, bed.infusion_end_dt = ts, msg.t
        return replace(msg, fields={**msg.fields, **self._facts(bed, ts)})

    def windows(self, bed: BedState, ts: float, now: datetime, out: list[Alert]) -> None:
        """End the IAE episodes whose window has closed by `ts` (a bed with an infusion)."""
        start = bed.infusion_start
        assert start is not None
        if not bed.window_ends or ts < bed.window_ends[0]:
            return
        while bed.window_ends and bed.window_ends[0] <= ts:
            bed.window_ends.pop(0)
        episodes = self._episodes
        for rr_id, rr in bed.runs.items():
            ep = rr.episode
            rule = episodes.rule_by_id[rr_id]
            if rule is BASELINE_MISSING:
                end = bed.monitoring_end
                if ep is not None and end is not None and ts >= end:
                    episodes.end(bed, rule, rr, ts, now, out, "monitoring window ended")
                continue
            if not rule.window_only or rule.window_h is None:
                continue
            if rule.kind == "event" and rule.clear_s is None:
                continue  # a death or an arrest stays on record: it does not end with a window
            if ts < start + rule.window_h * 3600.0:
                continue
            rr.pending_since = None
            if ep is not None and ep.iae:
                episodes.end(bed, rule, rr, ts, now, out, f"{rule.window_h:g} h window ended")
        if (
            bed.monitoring_end is not None
            and ts >= bed.monitoring_end
            and not bed.collecting_baseline
        ):
            bed.collecting_baseline = True  # ready for the next patient's baseline
            for code, s in bed.series.items():
                if code in self.plan.baseline_codes:
                    s.hist = deque()

    def _facts(self, bed: BedState, ts: float) -> dict[str, Any]:
        assert bed.infusion_start is not None
        facts: dict[str, Any] = {"duration_min": round((ts - bed.infusion_start) / 60.0, 2)}
        s = bed.series.get("MDC_VOL_FLUID_DELIV")
        if s is not None and s.value is not None and bed.volume_ml:
            facts["volume_delivered_ml"] = s.value
            facts["volume_off_pct"] = round(abs(s.value - bed.volume_ml) / bed.volume_ml * 100, 1)
        return facts

    def _take_baseline(self, bed: BedState, ts: float) -> None:
        spec = self.ruleset.baseline
        bed.baseline.clear()
        bed.baseline_info.clear()
        for code in sorted(self.plan.baseline_codes):
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
        for codes, (name, _ids) in self.plan.baseline_groups.items():
            if not any(c in bed.baseline for c in codes):
                missing.append(name)
        bed.baseline_missing = tuple(sorted(set(missing)))

    def raise_baseline_missing(
        self,
        bed: BedState,
        ts: float,
        dt: datetime,
        out: list[Alert],
        notes: tuple[str, ...] = (),
    ) -> None:
        """Open `baseline_missing` at `dt` for the bed's missing baselines (its onset is the
        infusion start, so its id is the same whenever it is raised), unless it is open."""
        rule = BASELINE_MISSING
        rr = bed.run(rule.id)
        start_dt = bed.infusion_start_dt
        if rr.episode is not None or bed.infusion_start is None or start_dt is None:
            return
        missing: dict[str, Any] = {}
        rules: list[str] = []
        for codes, (name, ids) in self.plan.baseline_groups.items():
            if name in bed.baseline_missing:
                missing[name] = {
                    c: dict(zip(("samples", "needed"), bed.baseline_info[c], strict=True))
                    for c in codes
                }
                rules += [i for i in ids if i not in rules]
        ep = self._episodes.open(bed, rule, rr, bed.infusion_start, start_dt, iae=False)
        ep.started = ts
        ev = {
            "condition": "median of the pre-infusion samples, enough of them",
            "missing": missing,
            "rules_not_assessed": rules,
            "infusion_start": format_time(start_dt),
            "notes": [
                *notes,
                "watch these parameters clinically; iaewatch will not guess a baseline",
            ],
        }
        ep.evidence = ev
        out.append(self._episodes.alert(ep, rule, Phase.START, dt, ev))


def _new_patient(bed: BedState) -> None:
    """A new infusion after the last monitoring window ended: start afresh."""
    bed.baseline.clear()
    bed.baseline_info.clear()
    bed.baseline_missing = ()
    bed.pre_dose.clear()
    bed.pre_agents = 0
    bed.pre_on = frozenset()
    ended = bed.monitoring_end if bed.monitoring_end is not None else float("-inf")
    bed.confirmed_pre.clear()
    bed.confirmed_raw.clear()
    bed.first_after.clear()
    bed.rhythms_before = {r: t for r, t in bed.rhythms_before.items() if t >= ended}
    bed.latch.clear()


def confirm_dose(bed: BedState, code: str, dose: float, unit: str, warn: Warnings) -> None:
    """A nurse's confirmed pre-infusion dose in canonical units; a per-kg dose entered before
    the weight is known waits for `infusion_start`."""
    try:
        bed.confirmed_pre[code] = to_canonical(code, dose, unit, weight_kg=bed.weight_kg)
        bed.confirmed_raw.pop(code, None)
    except UnitError as exc:
        if bed.weight_kg is None and "/kg" in unit:
            bed.confirmed_raw[code] = (dose, unit)
            return
        warn("vasopressor_status", f"{bed.name}: vasopressor_status: {exc}")


def _positive(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not x > 0:
        return None
    return float(x)


def _start_certainty(f: dict[str, Any]) -> tuple[str | None, float]:
    """Whose time an `infusion_start` is, and how much earlier the true start may lie."""
    if f.get("time_source") == "pump":
        return "pump", 0.0
    if f.get("seen_at_reconnect") is True:
        return "seen_at_reconnect", _positive(f.get("gap_s")) or 0.0
    return None, 0.0
