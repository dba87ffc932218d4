"""The study order and the check of the study pump's programme against it. Pure, no clock.

The order (shared/CLINICAL.md): 10^6 cells/kg in 100 mL normal saline through the central
line over 30–60 min, so 100–200 mL/h. `StudyOrder` computes it for a weight.

What the default rule set already checks for `infusion_problem` (monitors/rulesets/
ucmsc_ards.yaml): pump alarms, a measured rate of 0 while running (60 s), a measured rate
outside 100–200 mL/h while running (60 s), running past 60 min, ending before 30 min, and a
delivered volume > 10 % off at the end. `OrderCheck` adds only what those rules cannot see,
from the study pump's `pump_program` events {state, rate_ml_h, vtbi_ml, volume_infused_ml}:

- `infusion_programme_off_order` (low): the programme does not match the order — a VTBI other
  than 100 mL ± `vtbi_tolerance_ml`, or, before the pump runs, a programmed rate outside
  100–200 mL/h (once it runs, the rule set judges the delivered rate; an episode already open
  for the rate stays open until the programme is corrected). Ends when a programme matching
  the order arrives, or at `infusion_end`.
- `infusion_paused_long` (medium): the pump reports itself not running (paused, stopped, in
  alarm) for longer than `pause_s` (default 5 min) during the infusion — a pump that keeps
  reporting its programmed rate while paused never shows a rate of 0. Onset is when the pause
  began; ends when the pump runs again or the infusion ends.

After an infusion has ended at a bed, programme changes there are not judged (the pump is
cleared or reused) until `reset_bed(bed)` or the next `infusion_start`.

Episodes follow the engine's lifecycle (`monitors.engine.lifecycle`: latching, acknowledgement)
in their own id namespace. `TrialEngine` is the rules engine with this check folded in (feed,
tick, acknowledge, beds, warnings).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.model import Alert, Category, DeviceEvent, EventSource, Observation, Phase, Priority
from core.records import format_time
from monitors.engine.facade import BedSummary, Engine
from monitors.engine.lifecycle import Episode, EpisodeBook, Trigger, alert, step
from monitors.engine.restore import Snapshot, Span
from monitors.rules.ruleset import RuleSet

_NS = uuid.UUID("0b0e9b8e-6a43-4d53-9b1e-5a3c2f6f7d21")  # namespace of order-check alert ids

PROGRAMME_RULE = "infusion_programme_off_order"
PAUSE_RULE = "infusion_paused_long"
RULES = frozenset({PROGRAMME_RULE, PAUSE_RULE})
_NOT_RUNNING = frozenset({"paused", "stopped", "alarm"})


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyOrder:
    """The protocol's order; every number a setting with the protocol's value as default."""

    cells_per_kg: float = 1e6
    volume_ml: float = 100.0
    min_minutes: float = 30.0
    max_minutes: float = 60.0
    vtbi_tolerance_ml: float = 2.0
    route: str = "central venous catheter"
    diluent: str = "normal saline (0.9 % NaCl)"

    @property
    def rate_min_ml_h(self) -> float:
        return self.volume_ml / self.max_minutes * 60.0

    @property
    def rate_max_ml_h(self) -> float:
        return self.volume_ml / self.min_minutes * 60.0

    def cells(self, weight_kg: float | None) -> float | None:
        """The dose in cells for `weight_kg` (None without a plausible weight)."""
        if weight_kg is None or not 0 < weight_kg < 500:
            return None
        return self.cells_per_kg * weight_kg

    def rate_ok(self, rate_ml_h: float) -> bool:
        return self.rate_min_ml_h <= rate_ml_h <= self.rate_max_ml_h

    def vtbi_ok(self, vtbi_ml: float) -> bool:
        return abs(vtbi_ml - self.volume_ml) <= self.vtbi_tolerance_ml

    def as_dict(self, weight_kg: float | None) -> dict[str, Any]:
        """The order for one patient, as the API and the report show it."""
        cells = self.cells(weight_kg)
        return {
            "weight_kg": weight_kg,
            "cells_per_kg": self.cells_per_kg,
            "dose_cells": cells,
            "dose_text": None if cells is None else f"{cells / 1e6:.1f} × 10^6 cells",
            "volume_ml": self.volume_ml,
            "diluent": self.diluent,
            "route": self.route,
            "duration_min": [self.min_minutes, self.max_minutes],
            "rate_ml_h": [self.rate_min_ml_h, self.rate_max_ml_h],
            "vtbi_ml": self.volume_ml,
            "vtbi_tolerance_ml": self.vtbi_tolerance_ml,
        }


@dataclass(slots=True)
class _Bed:
    running: bool = False  # between infusion_start and its end
    ended: bool = False  # an infusion ended here: programme changes are not judged
    started_at: datetime | None = None
    programme: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    paused_since: datetime | None = None
    paused_state: str | None = None
    open: dict[str, Episode] = field(default_factory=dict)  # by rule


def _setting(evidence: dict[str, Any]) -> tuple[Any, Any]:
    """The programmed rate and VTBI an episode's evidence shows (not the pump's state)."""
    p = evidence.get("programme") or {}
    return p.get("rate_ml_h"), p.get("vtbi_ml")


def _kinds(problems: list[str]) -> tuple[str, ...]:
    """What is off ("rate", "vtbi") in an episode's list of problems."""
    return tuple(sorted({p.split(" ", 1)[0].lower() for p in problems}))


def _text(x: Any) -> str | None:
    return x if isinstance(x, str) else None


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x)


class OrderCheck:
    """Study pump programme vs the order; see the module docstring."""

    def __init__(
        self, order: StudyOrder | None = None, *, pause_s: float = 300.0, latching: bool = True
    ) -> None:
        if pause_s <= 0:
            raise ValueError("pause_s must be positive")
        self.order = order or StudyOrder()
        self.pause_s = pause_s
        self._beds: dict[str, _Bed] = {}
        self._book = EpisodeBook(_NS, latching=latching)

    # -- public ------------------------------------------------------------------------------
    def feed(self, msg: Observation | DeviceEvent) -> list[Alert]:
        """Transitions caused by `msg` (only the study infusion's events matter)."""
        if not isinstance(msg, DeviceEvent):
            return []
        name = msg.event
        if name not in ("pump_program", "infusion_start", "infusion_end"):
            return []
        bed = self._beds.setdefault(msg.bed, _Bed())
        out: list[Alert] = []
        self._pause_due(msg.bed, bed, msg.t, out)
        if name == "infusion_start":
            bed.running, bed.ended, bed.started_at = True, False, msg.t
            rate = _num(msg.fields.get("rate_ml_h"))
            vtbi = _num(msg.fields.get("volume_ml"))
            from_pump = msg.source is EventSource.DEVICE
            if from_pump and not bed.programme and (rate is not None or vtbi is not None):
                bed.programme = {"rate_ml_h": rate, "vtbi_ml": vtbi, "state": "running"}
            self._judge_programme(msg.bed, bed, msg.t, out)
        elif name == "infusion_end":
            self._finish(msg.bed, bed, msg.t, out, "infusion ended")
        else:
            self._programme(msg, bed, out)
        return out

    def tick(self, now: datetime) -> list[Alert]:
        """Transitions due by `now`: a pause that has lasted `pause_s`."""
        out: list[Alert] = []
        for name, bed in self._beds.items():
            self._pause_due(name, bed, now, out)
        return out

    def acknowledge(self, alert_id: str, by: str, at: datetime) -> None:
        """`by` acknowledged `alert_id` (unknown ids are ignored: they are the engine's)."""
        self._book.acknowledge(alert_id, by, at)

    def restore(self, snapshot: Snapshot) -> None:
        """Put back the beds' infusions and this check's episodes after a restart, emitting
        nothing (`monitors.engine.restore`). A pause not yet alerted is not restored: the
        pump's next programme report starts it again."""
        for snap in snapshot.beds:
            anchor = snap.infusion
            if anchor is not None:
                bed = self._beds.setdefault(snap.bed, _Bed())
                bed.running, bed.ended = anchor.end is None, anchor.end is not None
                bed.started_at, bed.device = anchor.start, anchor.device
        for oe in snapshot.episodes:
            if oe.rule not in RULES:
                continue
            ep = oe.episode(oe.onset.timestamp())
            self._book.put(ep)
            if ep.open:
                bed = self._beds.setdefault(oe.bed, _Bed())
                bed.open[oe.rule] = ep
                programme = ep.evidence.get("programme")
                if oe.rule == PROGRAMME_RULE and isinstance(programme, dict):
                    bed.programme = dict(programme)
                bed.device = bed.device or _text(ep.evidence.get("device"))

    def reset_bed(self, bed: str) -> None:
        """A new patient at `bed`: judge the next programme again (open episodes stay)."""
        b = self._beds.get(bed)
        if b is not None:
            b.ended = False
            b.programme = {}

    # -- programme ---------------------------------------------------------------------------
    def _programme(self, msg: DeviceEvent, bed: _Bed, out: list[Alert]) -> None:
        f = msg.fields
        state = f.get("state") if isinstance(f.get("state"), str) else None
        rate, vtbi = _num(f.get("rate_ml_h")), _num(f.get("vtbi_ml"))
        bed.programme = {
            "state": state,
            "rate_ml_h": rate,
            "vtbi_ml": vtbi,
            "volume_infused_ml": _num(f.get("volume_infused_ml")),
        }
        bed.device = msg.device
        running = state == "running" if state else bool(rate)
        if state == "completed":
            self._finish(msg.bed, bed, msg.t, out, "pump completed the programme")
            return
        if bed.running:
            if running:
                bed.paused_since = bed.paused_state = None
                self._end(msg.bed, bed, PAUSE_RULE, msg.t, out, "pump running again")
            elif bed.paused_since is None and (state in _NOT_RUNNING or not state):
                bed.paused_since, bed.paused_state = msg.t, state or "rate 0"
        self._judge_programme(msg.bed, bed, msg.t, out)

    def _judge_programme(self, name: str, bed: _Bed, t: datetime, out: list[Alert]) -> None:
        if bed.ended:
            return
        p = bed.programme
        rate, vtbi = p.get("rate_ml_h"), p.get("vtbi_ml")
        state = p.get("state")
        running = state == "running" if state else bed.running
        open_ep = bed.open.get(PROGRAMME_RULE)
        problems: list[str] = []
        o = self.order
        if vtbi is not None and vtbi > 0 and not o.vtbi_ok(vtbi):
            problems.append(f"VTBI {vtbi:g} mL, ordered {o.volume_ml:g} ± {o.vtbi_tolerance_ml:g}")
        rate_judged = not running or (
            open_ep is not None and "rate" in _kinds(open_ep.evidence["problems"])
        )
        if rate_judged and rate is not None and rate > 0 and not o.rate_ok(rate):
            problems.append(f"rate {rate:g} mL/h, allowed {o.rate_min_ml_h:g}–{o.rate_max_ml_h:g}")
        if not problems:
            if open_ep is not None and (vtbi is not None or rate is not None):
                self._end(name, bed, PROGRAMME_RULE, t, out, "programme matches the order")
            return
        evidence = self._programme_evidence(bed, problems)
        if open_ep is None:
            ep = self._open(name, bed, PROGRAMME_RULE, t)
            ep.evidence = evidence
            out.append(self._alert(ep, Phase.START, t))
        elif _kinds(problems) != _kinds(open_ep.evidence["problems"]) or _setting(
            evidence
        ) != _setting(open_ep.evidence):
            nxt = step(open_ep.state, Trigger.WORSE)
            if nxt is None:
                return
            open_ep.evidence = evidence
            out.append(self._alert(open_ep, Phase.UPDATE, t))

    def _programme_evidence(self, bed: _Bed, problems: list[str]) -> dict[str, Any]:
        o = self.order
        p = bed.programme
        rate, vtbi = p.get("rate_ml_h"), p.get("vtbi_ml")
        planned = round(vtbi / rate * 60.0, 1) if rate and vtbi else None
        return {
            "condition": "study pump programme matches the order (VTBI, rate before start)",
            "problems": problems,
            "programme": {k: p.get(k) for k in ("state", "rate_ml_h", "vtbi_ml")},
            "planned_min": planned,
            "order": {
                "volume_ml": o.volume_ml,
                "vtbi_tolerance_ml": o.vtbi_tolerance_ml,
                "rate_ml_h": [o.rate_min_ml_h, o.rate_max_ml_h],
                "duration_min": [o.min_minutes, o.max_minutes],
            },
            "device": bed.device,
            "infusion_start": None if bed.started_at is None else format_time(bed.started_at),
        }

    # -- pause -------------------------------------------------------------------------------
    def _pause_due(self, name: str, bed: _Bed, now: datetime, out: list[Alert]) -> None:
        since = bed.paused_since
        if since is None or PAUSE_RULE in bed.open or not bed.running:
            return
        held = (now - since).total_seconds()
        if held < self.pause_s:
            return
        ep = self._open(name, bed, PAUSE_RULE, since)
        ep.evidence = {
            "condition": f"study pump not running for ≥ {self.pause_s:g} s during the infusion",
            "paused_since": format_time(since),
            "held_s": round(held, 1),
            "limit_s": self.pause_s,
            "pump_state": bed.paused_state,
            "volume_infused_ml": bed.programme.get("volume_infused_ml"),
            "device": bed.device,
            "infusion_start": None if bed.started_at is None else format_time(bed.started_at),
        }
        out.append(self._alert(ep, Phase.START, now))

    # -- episodes ----------------------------------------------------------------------------
    def _finish(self, name: str, bed: _Bed, t: datetime, out: list[Alert], reason: str) -> None:
        if bed.running:
            self._pause_due(name, bed, t, out)
        bed.running, bed.ended = False, True
        bed.paused_since = bed.paused_state = None
        for rule in (PAUSE_RULE, PROGRAMME_RULE):
            self._end(name, bed, rule, t, out, reason)

    def _open(self, name: str, bed: _Bed, rule: str, onset: datetime) -> Episode:
        ep = self._book.open(
            bed=name, rule_id=rule, onset=onset, started=onset.timestamp(), iae=False
        )
        bed.open[rule] = ep
        return ep

    def _end(
        self, name: str, bed: _Bed, rule: str, t: datetime, out: list[Alert], reason: str
    ) -> None:
        ep = bed.open.pop(rule, None)
        if ep is None or not self._book.end(ep, t):
            return
        ev = dict(ep.evidence)
        ev["ended_by"] = reason
        ev["duration_s"] = round((t - ep.onset).total_seconds(), 1)
        ep.evidence = ev
        out.append(self._alert(ep, Phase.END, t))

    def _alert(self, ep: Episode, phase: Phase, t: datetime) -> Alert:
        paused = ep.rule_id == PAUSE_RULE
        return alert(
            ep,
            category=Category.INFUSION_PROBLEM,
            priority=Priority.MEDIUM if paused else Priority.LOW,
            phase=phase,
            t=max(t, ep.onset),
            message=(
                f"Study infusion paused for more than {self.pause_s / 60:g} min"
                if paused
                else "Study pump programme does not match the order"
            ),
            evidence=dict(ep.evidence),
        )


class TrialEngine:
    """The rules engine with the study order check (`OrderCheck`) folded in."""

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        escalate_after_s: float | None = None,
        order_check: OrderCheck | None = None,
    ) -> None:
        self.engine = Engine(ruleset, escalate_after_s=escalate_after_s)
        self.order_check = order_check or OrderCheck(latching=ruleset.latching)

    @property
    def ruleset(self) -> RuleSet:
        return self.engine.ruleset

    @property
    def warnings(self) -> Counter[str]:
        """Data the engine could not use, counted per kind."""
        return self.engine.warnings

    def feed(self, msg: Observation | DeviceEvent) -> list[Alert]:
        """The transitions `msg` causes: the rules', then the order check's."""
        out = self.engine.feed(msg)
        if isinstance(msg, DeviceEvent):
            out += self.order_check.feed(msg)
        return out

    def read_from(self, bed: str, code: str) -> str | None:
        """The device whose values of `code` the rules read at `bed` (`Engine.read_from`)."""
        return self.engine.read_from(bed, code)

    def tick(self, now: datetime) -> list[Alert]:
        """The transitions due by `now`: the rules', then the order check's."""
        return self.engine.tick(now) + self.order_check.tick(now)

    def acknowledge(self, alert_id: str, by: str, at: datetime) -> None:
        """Acknowledge `alert_id`, whichever of the two raised it."""
        self.engine.acknowledge(alert_id, by, at)
        self.order_check.acknowledge(alert_id, by, at)

    @property
    def watched_codes(self) -> frozenset[str]:
        """The parameter codes the rules read."""
        return self.engine.watched_codes

    @property
    def restore_events(self) -> frozenset[str]:
        """The stored events a restore reads (`Engine.restore_events`)."""
        return self.engine.restore_events

    def restore_spans(self, infusion_start: datetime | None, at: datetime) -> tuple[Span, ...]:
        """The stored observations a bed's restore needs (`Engine.restore_spans`)."""
        return self.engine.restore_spans(infusion_start, at)

    def restore(self, snapshot: Snapshot) -> list[Alert]:
        """Put back the state a restart lost, into the rules and the order check (each takes
        its own episodes); only what cannot be restored comes back (`Engine.restore`)."""
        ours = tuple(e for e in snapshot.episodes if e.rule not in RULES)
        out = self.engine.restore(replace(snapshot, episodes=ours))
        self.order_check.restore(snapshot)
        return out

    def beds(self) -> tuple[BedSummary, ...]:
        """The engine's per-bed state (`Engine.beds`)."""
        return self.engine.beds()
