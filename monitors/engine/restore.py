"""An engine's state after a restart, put back from what the store kept.

The store keeps the infusion record, every observation and every alert transition; an engine
keeps nothing across a restart. `Snapshot` is that stored state in plain values: per bed the
infusion anchor and the stored observations the engine asks for (`Engine.restore_spans`), and
the episodes still on the station. `Engine.restore` / `TrialEngine.restore` rebuild their
state from it without emitting a transition:

- the infusion anchor (first start, weight, volume, planned minutes, study pump, end) and so
  both windows; the baseline and the pre-infusion doses are computed again by the engine's own
  code from the stored pre-infusion observations;
- the series, sliding means and extremes warm up on the stored recent observations, with no
  rule evaluated meanwhile;
- open and latched episodes take back their ids, acknowledgement, latch, evidence, the worst
  values behind their last update, and escalation timers from their original start.

A condition lasting across the restart therefore continues its episode (same id) and ends
normally. What cannot be restored is said, never guessed: a baseline the stored samples no
longer give raises `baseline_missing` (the only transitions a restore returns).

Not restored (the next messages rebuild them): a pending onset or clear timer that had not
yet produced a transition (an onset pending at the restart starts again; an episode clearing
at the restart ends up to its clear time later), and the time-span latches of composite
conditions. Events are replayed only for the state they keep outside the rules
(`TRACKED_EVENTS`), from the earliest span on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.model import Alert, DeviceEvent, EventSource, Observation, Priority
from monitors.engine.episodes import Episodes
from monitors.engine.infusion import Infusions
from monitors.engine.intake import Intake
from monitors.engine.lifecycle import Episode, EpState
from monitors.engine.plan import Plan
from monitors.engine.state import BedState
from monitors.rules.derived import DERIVED
from monitors.rules.ruleset import RuleSet

TRACKED_EVENTS = frozenset(
    {
        "device_connected",
        "device_disconnected",
        "vasopressor_added",
        "vasopressor_status",
        "blood_gas",
        "arrhythmia",
    }
)
"""Events that change a bed's state outside the rules; a restore replays them quietly."""
Track = Callable[[BedState, DeviceEvent, float, list[Alert]], None]
Span = tuple[datetime, datetime, frozenset[str]]
"""(since, until, codes): stored observations of `codes` with since <= t <= until."""

# evidence a transition adds to its own copy (end, escalation), not the episode's
_TRANSITION_KEYS = frozenset({"ended_by", "duration_s", "escalated_after_s"})
RESTORED_NOTE = "raised again after a restart: the stored samples do not give this baseline"


@dataclass(frozen=True, slots=True, kw_only=True)
class InfusionAnchor:
    """A bed's study infusion as the store recorded it (its first start)."""

    start: datetime
    end: datetime | None = None
    weight_kg: float | None = None
    volume_ml: float | None = None
    planned_min: float | None = None
    device: str | None = None  # the study pump, None for a clinician's start
    time_source: str | None = None  # "pump", "seen_at_reconnect" or None (seen live)
    uncertainty_s: float | None = None  # seen at reconnect: the start lies up to this earlier

    def event(self, bed: str) -> DeviceEvent:
        """The `infusion_start` this anchor records."""
        fields: dict[str, Any] = {
            "weight_kg": self.weight_kg,
            "volume_ml": self.volume_ml,
            "planned_min": self.planned_min,
        }
        if self.time_source == "pump":
            fields["time_source"] = "pump"
        elif self.time_source == "seen_at_reconnect":
            fields["seen_at_reconnect"] = True
            if self.uncertainty_s is not None:
                fields["gap_s"] = self.uncertainty_s
        source = EventSource.CLINICIAN if self.device is None else EventSource.DEVICE
        return DeviceEvent(
            t=self.start,
            bed=bed,
            event="infusion_start",
            fields=fields,
            device=self.device,
            source=source,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenEpisode:
    """An episode still on the station: open, or ended and not yet acknowledged (latched)."""

    id: str
    bed: str
    rule: str
    onset: datetime
    iae: bool
    started: datetime  # its start transition: escalation runs from here
    last_trigger: datetime  # its last start or update: an event rule's clear time runs from here
    evidence: Mapping[str, Any] = field(default_factory=dict)
    acked_by: str | None = None
    acked_at: datetime | None = None
    ended_at: datetime | None = None  # set: latched
    escalated: bool = False

    @property
    def state(self) -> EpState:
        if self.ended_at is not None:
            return EpState.LATCHED if self.acked_by is None else EpState.CLOSED
        return EpState.ACKNOWLEDGED if self.acked_by is not None else EpState.ACTIVE

    def episode(self, started: float) -> Episode:
        """The lifecycle's episode, `started` in engine seconds."""
        ev = {k: v for k, v in self.evidence.items() if k not in _TRANSITION_KEYS}
        count = ev.get("count")
        return Episode(
            id=self.id,
            bed=self.bed,
            rule_id=self.rule,
            onset=self.onset,
            started=started,
            iae=self.iae,
            state=self.state,
            acked_by=self.acked_by,
            acked_at=self.acked_at,
            ended_at=self.ended_at,
            escalated=self.escalated,
            count=count if isinstance(count, int) and not isinstance(count, bool) else 1,
            evidence=ev,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BedSnapshot:
    """One bed: its latest infusion (None: none recorded), the stored observations in the
    spans `Engine.restore_spans` gave, and the stored events named by `Engine.restore_events`
    from the earliest of those spans on."""

    bed: str
    infusion: InfusionAnchor | None = None
    observations: tuple[Observation, ...] = ()
    events: tuple[DeviceEvent, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """What the store kept, as of `at` (the restart)."""

    at: datetime
    beds: tuple[BedSnapshot, ...] = ()
    episodes: tuple[OpenEpisode, ...] = ()

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("Snapshot.at needs a timezone-aware time")


WARM_UP_S = 900.0
"""The least warm-up before the restart: the stale rules and most sliding windows need less."""


class Restorer:
    """Puts a `Snapshot` back into an engine's parts (`Engine.restore` drives it)."""

    def __init__(
        self,
        ruleset: RuleSet,
        plan: Plan,
        intake: Intake,
        infusions: Infusions,
        episodes: Episodes,
        track: Track,
    ) -> None:
        self._plan = plan
        self._track = track
        self._intake = intake
        self._infusions = infusions
        self._episodes = episodes
        # what a bed's baseline and pre-infusion doses read: code -> look-back
        self._lookback = {c: ruleset.baseline.for_code(c)[0] for c in plan.baseline_codes}
        for code, lookback in list(self._lookback.items()):
            d = DERIVED.get(code)  # computed by the engine, never stored: read its inputs
            for source in () if d is None else d.inputs:
                self._lookback[source] = max(lookback, self._lookback.get(source, 0.0))
        for code in plan.agents:
            self._lookback.setdefault(code, ruleset.baseline.lookback_s)
        spans = [span + smooth for keys in plan.extremes.values() for span, _, smooth in keys]
        self.warm_up_s = max([WARM_UP_S, *spans])

    def spans(self, infusion_start: datetime | None, at: datetime) -> tuple[Span, ...]:
        """The stored observations a bed's restore needs, as (since, until, codes): each
        baseline code's look-back before the infusion start (before `at` without one), and
        the warm-up of every code before `at`. No two spans overlap for a code."""
        warm = timedelta(seconds=self.warm_up_s)
        end = at if infusion_start is None else infusion_start
        need: dict[str, list[tuple[datetime, datetime]]] = {}
        for code, lookback in self._lookback.items():
            need.setdefault(code, []).append((end - timedelta(seconds=lookback), end))
        recent_from = at - warm if infusion_start is None else max(infusion_start, at - warm)
        for code in self._plan.watched:
            need.setdefault(code, []).append((recent_from, at))
        grouped: dict[tuple[datetime, datetime], set[str]] = {}
        for code, spans in need.items():
            for since, until in _merged(spans):
                grouped.setdefault((since, until), set()).add(code)
        return tuple(
            (since, until, frozenset(codes)) for (since, until), codes in sorted(grouped.items())
        )

    def episode(self, bed: BedState, oe: OpenEpisode) -> bool:
        """Put back one episode of a rule this engine runs; False when it runs no such rule.
        (A closed one, ended and acknowledged, has nothing to put back.)"""
        eps = self._episodes
        rule = eps.rule_by_id.get(oe.rule)
        if rule is None:
            return False
        if oe.state is EpState.CLOSED:
            return True
        ep = oe.episode(oe.started.timestamp())
        if rule.key is not None and rule.ends_on is not None and ep.open:
            ep.keys.add(_key(oe.evidence, rule.key))
        eps.book.put(ep)
        if ep.open:
            rr = bed.run(rule.id)
            rr.episode = ep
            rr.last_trigger = oe.last_trigger.timestamp()
            bed.timed[rule.id] = None
        if (
            eps.escalate_after_s is not None
            and rule.priority is Priority.HIGH
            and not ep.escalated
            and ep.acked_by is None
        ):
            eps.escalating[ep.id] = (bed, ep, rule)
        return True

    def bed(
        self,
        bed: BedState,
        snap: BedSnapshot,
        worst_at: dict[str, float],
        at: datetime,
        out: list[Alert],
    ) -> None:
        """The bed's infusion, baseline, doses and series, from its stored observations;
        `worst_at`: rule id -> when its restored episode last got worse."""
        watched = self._plan.watched
        msgs: list[Observation | DeviceEvent] = [
            o for o in snap.observations if o.code in watched and o.t <= at
        ]
        msgs += (e for e in snap.events if e.event in TRACKED_EVENTS and e.t <= at)
        obs = sorted(msgs, key=lambda m: m.t)  # stable: each instant's stored order kept
        anchor = snap.infusion
        sink: list[Alert] = []  # quiet: nothing evaluates, so nothing lands here

        def observe(b: BedState, m: Observation | DeviceEvent, into: list[Alert]) -> None:
            if isinstance(m, Observation):
                self._intake.observe(b, m, into)
            else:
                self._track(b, m, m.t.timestamp(), into)

        with self._intake.quietly():
            i = 0
            if anchor is not None:
                while i < len(obs) and obs[i].t < anchor.start:
                    observe(bed, obs[i], sink)
                    i += 1
                self._anchor(bed, anchor, at, out)
            # an episode's worst values are those of its last update: taken at that instant
            # when the warm-up covers it, else at the end of the warm-up
            first = obs[i].t.timestamp() if i < len(obs) else float("inf")
            pending = sorted(
                (t if t >= first else float("inf"), rid) for rid, t in worst_at.items()
            )
            for o in obs[i:]:
                ts = o.t.timestamp()
                while pending and pending[0][0] < ts:
                    t, rid = pending.pop(0)
                    self._worst(bed, rid, t)
                observe(bed, o, sink)
            for t, rid in pending:
                self._worst(bed, rid, t if t != float("inf") else max(bed.last_t, at.timestamp()))

    def _anchor(
        self, bed: BedState, anchor: InfusionAnchor, at: datetime, out: list[Alert]
    ) -> None:
        ts = anchor.start.timestamp()
        self._infusions.start(bed, anchor.event(bed.name), ts, [], raise_missing=False)
        if anchor.end is not None:
            bed.infusion_end, bed.infusion_end_dt = anchor.end.timestamp(), anchor.end
        end = bed.monitoring_end
        if bed.baseline_missing and end is not None and at.timestamp() < end:
            self._infusions.raise_baseline_missing(
                bed, at.timestamp(), at, out, notes=(RESTORED_NOTE,)
            )

    def _worst(self, bed: BedState, rule_id: str, ts: float) -> None:
        rr = bed.runs.get(rule_id)
        if rr is None or rr.episode is None:
            return
        sev: dict[str, float] = {}
        self._episodes.rule_by_id[rule_id].when.severity(bed, ts, sev)
        rr.episode.worst = sev


def _key(evidence: Mapping[str, Any], field_name: str) -> str:
    """The key an open event episode waits for (`episodes.field_key`), from its evidence."""
    if field_name == "device":  # the evidence keeps the sender (a `device` field is dropped)
        return str(evidence.get("device") or "")
    fields = evidence.get("fields")
    return str(fields.get(field_name, "")) if isinstance(fields, dict) else ""


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for since, until in sorted(spans):
        if out and since <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], until))
        else:
            out.append((since, until))
    return out
