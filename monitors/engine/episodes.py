"""Rules against a bed's state, and the alert episodes they open, update, end and escalate.

A state rule is evaluated when a code it reads arrives (or an event inside its span, or a
tick for rules time alone can change): it opens an episode once its condition has held for
`persist_s`, updates it when the values get worse, and ends it once clear for `clear_s`.
An event rule opens an episode at its event, counts repeats, and ends at its `ends_on` event
or after `clear_s` without a repeat. Protocol IAEs count only inside their window after
infusion start; outside it they are dropped or raised as early warnings (`outside_window`).
The episodes' state table is `monitors.engine.lifecycle`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from core.model import Alert, DeviceEvent, Phase, Priority
from core.records import format_time
from monitors.engine.lifecycle import Episode, EpisodeBook, EpState, Trigger, alert, step
from monitors.engine.plan import Plan
from monitors.engine.state import NEVER, BedState, RuleRun
from monitors.rules.conditions import Stale, walk
from monitors.rules.ruleset import Rule, RuleSet

_NS = uuid.UUID("5f1c7a52-3a8e-4d0e-9f57-1b2f4c6d8e90")  # namespace of iaewatch alert ids
_DETAIL_FIELDS = ("kind", "rhythm", "sign")


class Episodes:
    """Every rule's progress at every bed, and the episodes open or latched."""

    def __init__(self, ruleset: RuleSet, plan: Plan, *, escalate_after_s: float | None) -> None:
        self.ruleset = ruleset
        self.plan = plan
        self.escalate_after_s = escalate_after_s
        self.book = EpisodeBook(_NS, latching=ruleset.latching)
        self.escalating: dict[str, tuple[BedState, Episode, Rule]] = {}
        self.rule_by_id: dict[str, Rule] = {r.id: r for r in ruleset.rules}
        self._describe = {r.id: r.when.describe() for r in ruleset.rules}

    def register(self, rule: Rule, describe: str) -> None:
        """A rule of the engine's own (not from the rule set), with its condition in words."""
        self.rule_by_id[rule.id] = rule
        self._describe[rule.id] = describe

    # -- state rules -------------------------------------------------------------------------
    def evaluate(
        self, bed: BedState, rule: Rule, ts: float, dt: datetime, out: list[Alert]
    ) -> None:
        """Test a state rule now: pending onset, start, worse values, clearing, end."""
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
                self.end(bed, rule, rr, ts, dt, out, "infusion window opened")
                ep = None
        res = rule.when.test(bed, ts, ep is not None)
        if ep is None:
            if res:
                if rr.pending_since is None:
                    rr.pending_since, rr.pending_dt = ts, dt
                    rr.pending_seen = None
                    bed.timed[rule.id] = None
                if bed.trigger is not None or bed.event is not None:
                    rr.pending_seen = ts  # a sample (or an event) agrees, not a tick
                if held(rule, rr):
                    self.start(bed, rule, rr, ts, dt, out, iae)
            elif rr.pending_since is not None:
                rr.pending_since = None
        elif res:
            rr.clear_since = None
            self.maybe_update(bed, rule, ep, ts, dt, out)
        elif res is False:
            if rr.clear_since is None:
                rr.clear_since = ts
                bed.timed[rule.id] = None
            if ts - rr.clear_since >= (rule.clear_s or 0.0):
                self.end(bed, rule, rr, ts, dt, out, "condition cleared")
        else:
            rr.clear_since = None  # cannot tell: neither confirms nor clears

    # -- event rules -------------------------------------------------------------------------
    def event_rule(
        self, bed: BedState, rule: Rule, msg: DeviceEvent, ts: float, out: list[Alert]
    ) -> None:
        """An event a rule names: its `ends_on`, a first trigger, or a repeat."""
        rr = bed.runs.get(rule.id) or bed.run(rule.id)
        ep = rr.episode
        key = field_key(msg, rule.key)
        if ep is not None and rule.ends_on is not None and rule.ends_on.test(bed, ts, True):
            if rule.key is None:
                ep.keys.clear()
            else:
                ep.keys.discard(key)
            if not ep.keys:
                self.end(bed, rule, rr, ts, msg.t, out, f"{msg.event}")
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
                self.end(bed, rule, rr, ts, msg.t, out, "superseded")
            ep = self.open(bed, rule, rr, ts, msg.t, iae=iae)
            if rule.key is not None:
                ep.keys.add(key)
            ev = self.evidence(bed, rule, ts, ep)
            ep.evidence = ev
            out.append(self.alert(ep, rule, Phase.START, msg.t, ev))
        else:
            ep.count += 1
            if rule.key is not None:
                ep.keys.add(key)
            ev = self.evidence(bed, rule, ts, ep)
            ep.evidence = ev
            out.append(self.alert(ep, rule, Phase.UPDATE, msg.t, ev))
        bed.timed[rule.id] = None

    # -- episodes ----------------------------------------------------------------------------
    def start(
        self,
        bed: BedState,
        rule: Rule,
        rr: RuleRun,
        ts: float,
        dt: datetime,
        out: list[Alert],
        iae: bool,
    ) -> None:
        """Open an episode whose condition has held long enough (onset: when it began)."""
        onset_ts = rr.pending_since if rr.pending_since is not None else ts
        onset = rr.pending_dt if rr.pending_dt is not None else dt
        ep = self.open(bed, rule, rr, onset_ts, onset, iae=iae)
        ep.started = ts
        sev: dict[str, float] = {}
        rule.when.severity(bed, ts, sev)
        ep.worst = sev
        ev = self.evidence(bed, rule, ts, ep)
        if rule.persist_s:
            ev["held_s"] = round(ts - onset_ts, 1)
        ep.evidence = ev
        out.append(self.alert(ep, rule, Phase.START, dt, ev))

    def open(
        self, bed: BedState, rule: Rule, rr: RuleRun, ts: float, onset: datetime, *, iae: bool
    ) -> Episode:
        """A new episode of `rule` at `bed` (no alert yet: the caller emits the start)."""
        ep = self.book.open(bed=bed.name, rule_id=rule.id, onset=onset, started=ts, iae=iae)
        rr.episode = ep
        rr.pending_since = rr.pending_dt = None
        rr.clear_since = None
        if self.escalate_after_s is not None and rule.priority is Priority.HIGH:
            self.escalating[ep.id] = (bed, ep, rule)
        bed.timed[rule.id] = None
        return ep

    def maybe_update(
        self, bed: BedState, rule: Rule, ep: Episode, ts: float, dt: datetime, out: list[Alert]
    ) -> None:
        """An update when some value is at least one `step` worse than the worst so far."""
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
            ev = self.evidence(bed, rule, ts, ep)
            ep.evidence = ev
            out.append(self.alert(ep, rule, Phase.UPDATE, dt, ev))

    def end(
        self,
        bed: BedState,
        rule: Rule,
        rr: RuleRun,
        ts: float,
        dt: datetime,
        out: list[Alert],
        reason: str,
    ) -> None:
        """End the rule's open episode at `bed`, if any, saying why."""
        ep = rr.episode
        if ep is None:
            return
        rr.episode = None
        rr.clear_since = None
        if not self.book.end(ep, dt):
            return
        ev = self.evidence(bed, rule, ts, ep) if rule.kind != "event" else dict(ep.evidence)
        ev["ended_by"] = reason
        ev["duration_s"] = round(ts - ep.onset.timestamp(), 1)
        out.append(self.alert(ep, rule, Phase.END, dt, ev))
        if ep.state is EpState.CLOSED:
            self.escalating.pop(ep.id, None)

    def acknowledge(self, alert_id: str, by: str, at: datetime) -> None:
        """Record the acknowledgement; an acknowledged episode is not escalated."""
        if self.book.acknowledge(alert_id, by, at) is not None:
            self.escalating.pop(alert_id, None)

    # -- time --------------------------------------------------------------------------------
    def tick_bed(self, bed: BedState, ts: float, now: datetime, out: list[Alert]) -> None:
        """What time alone causes at `bed`: stale data, timed rules, persistence and clear
        timers, event rules without a repeat."""
        for rule in self.plan.stale_rules:
            self._stale(bed, rule, ts, now, out)
        if bed.infusion_start is not None:
            for rule in self.plan.timed_rules:
                rr = bed.runs.get(rule.id)
                if bed.infusion_end is None or (rr is not None and rr.episode is not None):
                    self.evaluate(bed, rule, ts, now, out)
        if not bed.timed:
            return
        for rid in list(bed.timed):
            rule = self.rule_by_id[rid]
            rr = bed.runs[rid]
            ep = rr.episode
            if rule.kind == "event":
                if ep is None:
                    bed.timed.pop(rid, None)
                elif (
                    rule.clear_s is not None
                    and not ep.keys
                    and ts - rr.last_trigger >= rule.clear_s
                ):
                    self.end(bed, rule, rr, ts, now, out, f"no repeat for {rule.clear_s:g} s")
                continue
            if ep is None and rr.pending_since is not None:
                in_win = not rule.window_only or bed.in_window(ts, rule.window_h or 0.0)
                if not in_win and rule.outside_window == "ignore":
                    rr.pending_since = None
                elif held(rule, rr):
                    self.start(bed, rule, rr, ts, now, out, rule.iae and in_win)
            elif (
                ep is not None
                and rr.clear_since is not None
                and ts - rr.clear_since >= (rule.clear_s or 0.0)
            ):
                self.end(bed, rule, rr, ts, now, out, "condition cleared")
            if rr.episode is None and rr.pending_since is None:
                bed.timed.pop(rid, None)

    def escalate(self, ts: float, now: datetime, out: list[Alert]) -> None:
        """Escalate, once, high-priority episodes unacknowledged for `escalate_after_s`."""
        if self.escalate_after_s is None or not self.escalating:
            return
        for aid, (_bed, ep, rule) in list(self.escalating.items()):
            if ep.acked_by is not None or ep.state is EpState.CLOSED:
                del self.escalating[aid]
            elif ts - ep.started >= self.escalate_after_s:
                nxt = step(ep.state, Trigger.OVERDUE)
                del self.escalating[aid]
                if nxt is None:
                    continue
                ep.escalated = True
                ev = dict(ep.evidence)
                ev["escalated_after_s"] = self.escalate_after_s
                out.append(self.alert(ep, rule, Phase.ESCALATE, now, ev))

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
                self.start(bed, rule, rr, ts, now, out, False)
            else:
                self.maybe_update(bed, rule, rr.episode, ts, now, out)
        else:
            if rr.episode is not None:
                why = next(
                    (e for e in cond.not_after if bed.seen.get(e, NEVER) >= rr.episode.started),
                    "data arriving again",
                )
                self.end(bed, rule, rr, ts, now, out, why)
            bed.stale_due[rule.id] = cond.next_due(bed, ts)

    # -- evidence and alerts -----------------------------------------------------------------
    def evidence(self, bed: BedState, rule: Rule, ts: float, ep: Episode) -> dict[str, Any]:
        """What the rule saw: its condition, the values behind it, context, the window."""
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
            _start_certainty(bed, ts, hours, ev)
        else:
            ev["in_window"] = False
            ev["infusion_start"] = None
            if any(True for c in walk(rule.when) for _ in c.baseline_refs()):
                notes = ev.setdefault("notes", [])
                notes.append("no infusion yet: no baseline, change-from-baseline not assessed")
        return ev

    def alert(
        self, ep: Episode, rule: Rule, phase: Phase, t: datetime, evidence: dict[str, Any]
    ) -> Alert:
        return alert(
            ep,
            category=rule.category,
            priority=rule.priority,
            phase=phase,
            t=t,
            message=_message(rule.title, evidence),
            evidence=evidence,
        )


def held(rule: Rule, rr: RuleRun) -> bool:
    """The rule's condition has held for its `persist_s`: shown by an agreeing sample at least
    `persist_s` after the first, so one sample (which stays fresh for a while) never is."""
    if not rule.persist_s:
        return True
    since, seen = rr.pending_since, rr.pending_seen
    return since is not None and seen is not None and seen - since >= rule.persist_s


def _start_certainty(bed: BedState, ts: float, hours: float, ev: dict[str, Any]) -> None:
    """How sure the infusion start is, and whether `ts` may fall either side of a window edge:
    a start seen at reconnection lies up to `gap` before the recorded one, so its window may
    open up to `gap` earlier and close up to `gap` earlier than the recorded window."""
    source, gap = bed.infusion_start_source, bed.infusion_start_uncertainty_s
    if source is None:
        return
    ev["infusion_start_time_source"] = source
    start = bed.infusion_start
    if source != "seen_at_reconnect" or start is None:
        return
    ev["infusion_start_uncertainty_s"] = gap
    end = start + hours * 3600.0
    if start - gap <= ts < start or end - gap <= ts < end:
        ev["window_edge_uncertain"] = True


def _message(title: str, evidence: dict[str, Any]) -> str:
    """The rule's title, plus what the device or clinician said (occlusion, VT, urticaria),
    so the nurse reads the alarm without opening its evidence."""
    fields = evidence.get("fields")
    if isinstance(fields, dict):
        said = [str(fields[k]).replace("_", " ") for k in _DETAIL_FIELDS if fields.get(k)]
        if said:
            return f"{title}: {', '.join(said)}"
    return title


def device_key(msg: DeviceEvent) -> str:
    """The device an event is about: its `device` field, else its sender."""
    dev = msg.fields.get("device") or msg.device
    return str(dev) if dev else ""


def field_key(msg: DeviceEvent, field: str | None) -> str:
    """The value pairing a trigger with its ending event (a rule's `key`)."""
    if field is None:
        return ""
    if field == "device":
        return device_key(msg)
    return str(msg.fields.get(field, ""))
