"""The IAE rules engine: observations and events in, alert transitions out.

Pure and synchronous: `feed(msg)` returns the transitions that message causes (at `msg.t`),
`tick(now)` the ones time alone causes (persistence met, clear time passed, stale data,
escalation, window end). The engine never reads a clock; the caller drives time
(`monitors.engine.stepper`).

`Engine` routes; the work is done by its parts, one job each: `Plan` (which codes and events
matter to which rules), `Intake` (observations into series), `Infusions` (infusion start and
end, baseline, windows) and `Episodes` (rules evaluated, episodes opened, updated, ended,
escalated). Alert ids are uuid5(bed, rule, onset), so a replay gives the same ids every time.
After a restart, `restore(snapshot)` puts back what the store kept (`monitors.engine.restore`).
"""

from __future__ import annotations

from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from core.model import Alert, DeviceEvent, Observation
from core.params import VASOPRESSOR_CODES
from monitors.engine.assess import Assessor
from monitors.engine.episodes import Episodes, device_key
from monitors.engine.infusion import Infusions, confirm_dose
from monitors.engine.intake import Intake
from monitors.engine.plan import Plan
from monitors.engine.restore import TRACKED_EVENTS, Restorer, Snapshot, Span
from monitors.engine.state import BedState
from monitors.engine.warnings import Warnings
from monitors.rules.ruleset import RuleSet

_AGENT_BY_DRUG = {k.lower(): v for k, v in VASOPRESSOR_CODES.items()}
_PAO2 = "MDC_CONC_PO2_ART"


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
    cannot_assess: dict[str, list[str]] = field(default_factory=dict)


class Engine:
    """Rules engine for all beds. See the module docstring."""

    def __init__(self, ruleset: RuleSet, *, escalate_after_s: float | None = None) -> None:
        self.ruleset = ruleset
        self.escalate_after_s = escalate_after_s
        self._warn = Warnings()
        self.warnings: Counter[str] = self._warn.counts
        self._plan = plan = Plan(ruleset)
        self._beds: dict[str, BedState] = {}
        self._episodes = Episodes(ruleset, plan, escalate_after_s=escalate_after_s)
        self._intake = Intake(plan, self._warn, self._episodes.evaluate)
        self._infusions = Infusions(ruleset, plan, self._warn, self._intake, self._episodes)
        self._assess = Assessor(ruleset, self._episodes)
        self._watched = plan.watched
        self._observe = self._intake.observe
        self._restorer = Restorer(
            ruleset, plan, self._intake, self._infusions, self._episodes, self._track
        )

    # -- public interface ----------------------------------------------------------------
    def feed(self, msg: Observation | DeviceEvent) -> list[Alert]:
        """The alert transitions `msg` causes, timed at `msg.t`."""
        if type(msg) is Observation:
            if msg.code not in self._watched:
                return []
            out: list[Alert] = []
            self._observe(self._beds.get(msg.bed) or self._bed(msg.bed), msg, out)
            return out
        if isinstance(msg, DeviceEvent):
            return self._event(msg)
        raise TypeError(f"feed() takes an Observation or a DeviceEvent, not {type(msg).__name__}")

    def read_from(self, bed: str, code: str) -> str | None:
        """The device whose values of `code` the rules read at `bed` now: of two sending one
        code, one is read at a time (`Intake`). None: no device (not seen, not watched, or a
        clinician's entry)."""
        b = self._beds.get(bed)
        s = b.series.get(code) if b is not None else None
        return s.device if s is not None else None

    def tick(self, now: datetime) -> list[Alert]:
        """Transitions due by `now` that no message causes: persistence met, clear time
        passed, stale data, window end, escalation of an unacknowledged high-priority alert."""
        if now.tzinfo is None:
            raise ValueError("tick() needs a timezone-aware time")
        ts = now.timestamp()
        out: list[Alert] = []
        infusions, episodes = self._infusions, self._episodes
        for bed in self._beds.values():
            if bed.infusion_start is not None:
                infusions.windows(bed, ts, now, out)
                self._assess.check(bed, ts, now, out)
            episodes.tick_bed(bed, ts, now, out)
        episodes.escalate(ts, now, out)
        return out

    def quietly(self) -> AbstractContextManager[None]:
        """Observations fed meanwhile fill the series (values, sliding windows, derived
        parameters, baseline history) without evaluating any rule: a restore's warm-up, and
        the intake's own cost in `bench/bench_engine.py`."""
        return self._intake.quietly()

    def acknowledge(self, alert_id: str, by: str, at: datetime) -> None:
        """Record that `by` acknowledged the episode `alert_id`; stops its escalation and
        releases it once its condition is over (latching). Unknown or closed ids are ignored."""
        self._episodes.acknowledge(alert_id, by, at)

    # -- restart ---------------------------------------------------------------------------
    @property
    def watched_codes(self) -> frozenset[str]:
        """The parameter codes the engine reads (any other observation is dropped)."""
        return self._watched

    def restore_spans(self, infusion_start: datetime | None, at: datetime) -> tuple[Span, ...]:
        """The stored observations `restore` needs for a bed with that infusion start, as
        (since, until, codes) spans: the pre-infusion look-back, and a warm-up before `at`."""
        return self._restorer.spans(infusion_start, at)

    @property
    def restore_events(self) -> frozenset[str]:
        """The stored events `restore` reads (in the bed's spans): those that change a bed's
        state outside the rules (connections, vasopressors added, blood gases)."""
        return TRACKED_EVENTS

    def restore(self, snapshot: Snapshot) -> list[Alert]:
        """Put back the state a restart lost (`monitors.engine.restore`), emitting nothing for
        it. Returns only what cannot be restored: `baseline_missing` for a baseline the stored
        samples no longer give. Only a fresh engine takes a snapshot."""
        if self._beds:
            raise RuntimeError("restore() needs a fresh engine")
        restorer = self._restorer
        for snap in snapshot.beds:  # beds, then episodes, in a fixed order (ticks follow it)
            self._bed(snap.bed)
        worst_at: dict[str, dict[str, float]] = {}
        for oe in sorted(snapshot.episodes, key=lambda e: (e.started, e.bed, e.rule, e.id)):
            if restorer.episode(self._bed(oe.bed), oe):
                worst_at.setdefault(oe.bed, {})[oe.rule] = oe.last_trigger.timestamp()
            else:
                self._warn(
                    f"restore_unknown:{oe.rule}",
                    f"{oe.bed}: episode {oe.id} of {oe.rule!r} not restored: no such rule here",
                )
        out: list[Alert] = []
        for snap in snapshot.beds:
            bed = self._bed(snap.bed)
            restorer.bed(bed, snap, worst_at.get(snap.bed, {}), snapshot.at, out)
        return out

    def beds(self) -> tuple[BedSummary, ...]:
        """Per-bed state: infusion, windows, baseline, open alerts."""
        out = []
        book = self._episodes.book
        for name in sorted(self._beds):
            bed = self._beds[name]
            windows: dict[str, datetime] = {}
            if bed.infusion_start is not None:
                for h in self._plan.window_hours:
                    windows[f"{h:g}h"] = datetime.fromtimestamp(
                        bed.infusion_start + h * 3600.0, UTC
                    )
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
                    active_alerts=book.active(name),
                    last_seen=bed.last_dt,
                    cannot_assess={k: list(v) for k, v in bed.cannot_assess.items()},
                )
            )
        return tuple(out)

    # -- routing -----------------------------------------------------------------------------
    def _track(self, bed: BedState, msg: DeviceEvent, ts: float, out: list[Alert]) -> None:
        """What an event of `TRACKED_EVENTS` changes in the bed's state (not its rules)."""
        name = msg.event
        f = msg.fields
        if name == "device_disconnected":
            bed.disconnected.add(device_key(msg))
        elif name == "device_connected":
            bed.disconnected.discard(device_key(msg))
        elif name == "vasopressor_added":
            code = _AGENT_BY_DRUG.get(str(f.get("drug", "")).lower()) or f.get("code")
            if code in self._plan.agents:
                s = bed.series.get(code)
                if s is None or s.value is None or s.value > 0:
                    bed.agent_on[code] = True
        elif name == "vasopressor_status":
            self._status(bed, f)
        elif name == "arrhythmia":
            rhythm = str(f.get("rhythm", "")).lower()
            if bed.infusion_start is None or ts < bed.infusion_start:
                bed.rhythms_before[rhythm] = ts
        elif name == "blood_gas":
            pao2 = f.get("pao2_mmhg")
            if (
                isinstance(pao2, int | float)
                and not isinstance(pao2, bool)
                and _PAO2 in self._watched
            ):
                self._intake.store(bed, _PAO2, ts, float(pao2), msg.device, msg.t, out)

    def _status(self, bed: BedState, f: dict[str, object]) -> None:
        """A nurse's confirmed pre-infusion vasopressors: `none`, or a drug and its dose
        (which also confirms every agent not yet confirmed as not running)."""
        agents = self._plan.agents
        if f.get("status") == "none":
            bed.confirmed_pre = dict.fromkeys(agents, 0.0)
            return
        code = _AGENT_BY_DRUG.get(str(f.get("drug", "")).lower())
        dose, unit = f.get("dose"), f.get("unit")
        if code is None or not isinstance(dose, int | float) or isinstance(dose, bool):
            self._warn("vasopressor_status", f"{bed.name}: vasopressor_status needs drug and dose")
            return
        for other in agents:
            bed.confirmed_pre.setdefault(other, 0.0)
        bed.confirmed_pre.pop(code)
        confirm_dose(bed, code, float(dose), str(unit or ""), self._warn)

    def _bed(self, name: str) -> BedState:
        bed = self._beds.get(name)
        if bed is None:
            bed = self._beds[name] = BedState(name)
        return bed

    def _event(self, msg: DeviceEvent) -> list[Alert]:
        bed = self._bed(msg.bed)
        ts = msg.t.timestamp()
        if bed.last_t < ts:
            bed.last_t = ts
            bed.last_dt = msg.t
        out: list[Alert] = []
        name = msg.event
        bed.seen[name] = ts
        if name == "arrhythmia" and bed.infusion_start is not None and ts >= bed.infusion_start:
            rhythm = str(msg.fields.get("rhythm", "")).lower()
            if rhythm in bed.rhythms_before:  # not new: the monitor reported it before start
                msg = replace(msg, fields={**msg.fields, "present_before_infusion": True})
        if name == "infusion_start":
            if not self._infusions.start(bed, msg, ts, out):
                return out
            self._assess.check(bed, ts, msg.t, out, force=True)
        elif name == "infusion_end":
            ended = self._infusions.end(bed, msg, ts)
            if ended is None:
                return out
            msg = ended
        elif name in TRACKED_EVENTS:
            self._track(bed, msg, ts, out)
        bed.event = msg
        episodes = self._episodes
        try:
            for rule in self._plan.event_rules.get(name, ()):
                episodes.event_rule(bed, rule, msg, ts, out)
            for rule in self._plan.by_trigger.get("@" + name, ()):
                episodes.evaluate(bed, rule, ts, msg.t, out)
        finally:
            bed.event = None
        return out
