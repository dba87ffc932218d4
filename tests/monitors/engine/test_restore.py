"""A restored engine continues where the stopped one was.

Each test runs a stream half-way, builds the snapshot a store would give at that instant
(the infusion record, the stored observations the engine asks for, the alerts still on the
station folded from their transitions and acknowledgements), restores it into a fresh engine,
continues the stream there, and compares the transitions with an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

import pytest

from core.model import Alert, DeviceEvent, Observation, Phase
from monitors import build_engine, default_ruleset
from monitors.engine.restore import (
    RESTORED_NOTE,
    BedSnapshot,
    InfusionAnchor,
    OpenEpisode,
    Snapshot,
)
from monitors.engine.stepper import Stepper
from monitors.trial.order_check import PROGRAMME_RULE, TrialEngine
from tests.monitors.conftest import Scenario, at, baseline

Msg = Observation | DeviceEvent
Build = Callable[[Scenario], None]


# -- the store, as far as a restore reads it ----------------------------------------------
def open_episodes(
    alerts: Iterable[Alert], acks: dict[str, tuple[str, datetime]]
) -> list[OpenEpisode]:
    """Fold transitions and acknowledgements as the store does: the alerts still shown."""
    first: dict[str, Alert] = {}
    last: dict[str, Alert] = {}
    trigger: dict[str, datetime] = {}
    ended: dict[str, datetime] = {}
    escalated: set[str] = set()
    for a in alerts:
        if a.phase is Phase.START and (a.id not in first or a.id in ended):
            first[a.id] = a
            ended.pop(a.id, None)
        if a.phase in (Phase.START, Phase.UPDATE):
            trigger[a.id] = a.t
        if a.phase is Phase.END:
            ended.setdefault(a.id, a.ended_at or a.t)
        if a.phase is Phase.ESCALATE:
            escalated.add(a.id)
        last[a.id] = a
    out = []
    for aid, a in last.items():
        by, when = acks.get(aid, (None, None))
        if aid in ended and by is not None:
            continue  # ended and acknowledged: off the station
        out.append(
            OpenEpisode(
                id=aid,
                bed=a.bed,
                rule=a.rule,
                onset=a.onset,
                iae=bool(a.iae),
                started=first[aid].t,
                last_trigger=trigger[aid],
                evidence=a.evidence,
                acked_by=by,
                acked_at=when,
                ended_at=ended.get(aid),
                escalated=aid in escalated,
            )
        )
    return out


def snapshot(
    engine: TrialEngine,
    msgs: list[Msg],
    cut: datetime,
    alerts: list[Alert],
    acks: dict[str, tuple[str, datetime]],
) -> Snapshot:
    beds = []
    for name in sorted({m.bed for m in msgs}):
        start = next(
            (
                m
                for m in msgs
                if isinstance(m, DeviceEvent) and m.bed == name and m.event == "infusion_start"
            ),
            None,
        )
        anchor = None
        if start is not None:
            f = start.fields
            anchor = InfusionAnchor(
                start=start.t,
                weight_kg=f.get("weight_kg"),
                volume_ml=f.get("volume_ml"),
                planned_min=f.get("planned_min"),
                device=start.device,
            )
        stored = [
            m
            for since, until, codes in engine.restore_spans(
                None if anchor is None else anchor.start, cut
            )
            for m in msgs
            if isinstance(m, Observation)
            and m.bed == name
            and m.code in codes
            and since <= m.t <= until
        ]
        spans = engine.restore_spans(None if anchor is None else anchor.start, cut)
        since = min(span[0] for span in spans)
        events = [
            m
            for m in msgs
            if isinstance(m, DeviceEvent)
            and m.bed == name
            and m.event in engine.restore_events
            and since <= m.t <= cut
        ]
        beds.append(
            BedSnapshot(bed=name, infusion=anchor, observations=tuple(stored), events=tuple(events))
        )
    return Snapshot(at=cut, beds=tuple(beds), episodes=tuple(open_episodes(alerts, acks)))


# -- running --------------------------------------------------------------------------------
class Run:
    """The trial engine through a stepper, as the service runs it; acks by rule at times."""

    def __init__(self, engine: TrialEngine, acks: Iterable[tuple[float, str]] = ()) -> None:
        self.engine = engine
        self.stepper = Stepper(engine)
        self.pending = sorted(acks)
        self.alerts: list[Alert] = []
        self.acked: dict[str, tuple[str, datetime]] = {}

    def feed(self, msgs: Iterable[Msg], until: float) -> None:
        for m in msgs:
            self._advance(m.t)
            self.alerts += self.stepper.feed(m)
        self._advance(at(until))

    def _advance(self, t: datetime) -> None:
        while self.pending and at(self.pending[0][0]) <= t:
            s, rule = self.pending.pop(0)
            self.alerts += self.stepper.advance(at(s))
            seen = [a for a in self.alerts if a.rule == rule]
            if seen:
                self.engine.acknowledge(seen[-1].id, "nurse", at(s))
                self.acked[seen[-1].id] = ("nurse", at(s))
        self.alerts += self.stepper.advance(t)


def messages(build: Build) -> list[Msg]:
    sc = Scenario()
    build(sc)
    return sorted(sc.msgs, key=lambda m: m.t)


def split_run(
    build: Build,
    cut_s: float,
    until: float,
    acks: Iterable[tuple[float, str]] = (),
    *,
    escalate_after_s: float | None = None,
) -> tuple[list[Alert], list[Alert], list[Alert], TrialEngine]:
    """(uninterrupted transitions after the cut, restored ones, restore's own, the restored
    engine)."""
    msgs = messages(build)
    cut = at(cut_s)
    acks = sorted(acks)
    whole = Run(build_engine(escalate_after_s=escalate_after_s), acks)
    whole.feed(msgs, until)
    first = Run(build_engine(escalate_after_s=escalate_after_s), [a for a in acks if a[0] <= cut_s])
    before = [m for m in msgs if m.t <= cut]
    first.feed(before, cut_s)
    engine = build_engine(escalate_after_s=escalate_after_s)
    own = engine.restore(snapshot(engine, before, cut, first.alerts, first.acked))
    second = Run(engine, [a for a in acks if a[0] > cut_s])
    second.stepper.advance(cut)  # the restarted service's ticks run on from the restart
    second.feed([m for m in msgs if m.t > cut], until)
    return [a for a in whole.alerts if a.t > cut], second.alerts, own, engine


def key(a: Alert) -> tuple[object, ...]:
    return (a.id, a.rule, a.phase.value, a.t, a.state.value, a.iae, a.acked_by)


# -- scenarios --------------------------------------------------------------------------------
def mid_window(sc: Scenario) -> None:
    """No FiO2 before start (baseline_missing open), tachycardia 900-2400 s acknowledged at
    1000 s, a VT at 600 s (latched, escalated), VTs at 1100 and 1300 s (one episode across the
    restart at 1200 s), a new VT at 2000 s."""
    baseline(sc, fio2=lambda _s: None)
    sc.infusion(0)
    sc.steady(0, 3600, 5.0, hr=lambda s: 140 if 900 <= s < 2400 else 90)
    for s in (600, 1100, 1300, 2000):
        sc.event(s, "arrhythmia", rhythm="VT")


def test_mid_window_restart_continues_every_episode() -> None:
    whole, restored, own, engine = split_run(
        mid_window, 1200, 3600, [(1000, "tachycardia")], escalate_after_s=400
    )
    assert own == []
    assert [key(a) for a in restored] == [key(a) for a in whole]
    assert restored == whole  # evidence too: series, baseline and windows came back
    phases = [(a.rule, a.phase.value) for a in restored]
    assert ("baseline_missing", "start") not in phases
    assert ("arrhythmia", "update") in phases  # the VT at 1300 s repeats the open episode
    assert ("arrhythmia", "escalate") in phases  # 400 s after its start at 1100 s
    tachy_end = next(a for a in restored if a.rule == "tachycardia" and a.phase is Phase.END)
    assert tachy_end.acked_by == "nurse"
    new_vt = next(a for a in restored if a.rule == "arrhythmia" and a.onset == at(2000))
    assert new_vt.iae is True
    assert new_vt.evidence["infusion_start"] == "2026-03-01T08:00:00Z"
    (bed,) = engine.beds()
    assert bed.infusion_start == at(0) and bed.weight_kg == 70
    assert "MDC_ECG_HEART_RATE" in bed.baseline


def pre_infusion(sc: Scenario) -> None:
    baseline(sc)
    sc.infusion(0)
    sc.steady(0, 1800, 5.0, hr=lambda s: 125 if s >= 600 else 90)


def test_restart_during_the_baseline_rebuilds_it_from_stored_data() -> None:
    whole, restored, own, engine = split_run(pre_infusion, -600, 1800)
    assert own == []
    assert restored == whole
    (tachy,) = [a for a in restored if a.rule == "tachycardia"]  # +35 over the baseline
    assert tachy.evidence["baseline"] == {"MDC_ECG_HEART_RATE": 90}
    (bed,) = engine.beds()
    # no blood gas in this stream, restart or not: no P/F and no OI (issue 13) baseline
    assert bed.baseline_missing == ("oi", "pf")
    assert bed.baseline["MDC_ECG_HEART_RATE"] == 90


def test_a_baseline_the_store_no_longer_gives_is_said_once() -> None:
    msgs = messages(pre_infusion)
    cut = at(600)
    engine = build_engine()
    snap = snapshot(engine, [m for m in msgs if m.t <= cut], cut, [], {})
    lost = replace(
        snap,
        beds=tuple(
            replace(b, observations=tuple(o for o in b.observations if o.t >= at(0)))
            for b in snap.beds
        ),
    )
    (raised,) = engine.restore(lost)
    assert raised.rule == "baseline_missing" and raised.phase is Phase.START
    assert raised.t == cut and raised.onset == at(0)
    assert RESTORED_NOTE in raised.evidence["notes"]
    assert "heart rate" in raised.evidence["missing"] or raised.evidence["missing"]
    # restored again with that alert open: not raised a second time
    again = build_engine()
    episode = open_episodes([raised], {})
    assert again.restore(replace(lost, episodes=tuple(episode))) == []


def off_order(sc: Scenario) -> None:
    baseline(sc)
    sc.event(-120, "pump_program", device="pump-1", state="stopped", rate_ml_h=150, vtbi_ml=50)
    sc.infusion(0, device="pump-1")
    sc.steady(0, 1200, 5.0)
    sc.event(900, "pump_program", device="pump-1", state="running", rate_ml_h=150, vtbi_ml=100)


def test_an_order_check_episode_continues_and_ends_under_its_id() -> None:
    whole, restored, own, _engine = split_run(off_order, 300, 1200, [(200, PROGRAMME_RULE)])
    assert own == []
    assert [key(a) for a in restored] == [key(a) for a in whole]
    (end,) = [a for a in restored if a.rule == PROGRAMME_RULE]
    assert end.phase is Phase.END and end.acked_by == "nurse"


def test_only_a_fresh_engine_takes_a_snapshot() -> None:
    engine = build_engine(default_ruleset())
    engine.feed(Observation(t=at(0), bed="ICU-1", code="MDC_ECG_HEART_RATE", value=80, unit="/min"))
    with pytest.raises(RuntimeError, match="fresh"):
        engine.restore(Snapshot(at=at(1)))


def blood_gas(sc: Scenario) -> None:
    baseline(sc)
    sc.event(-900, "blood_gas", pao2_mmhg=80.0)
    sc.infusion(0)
    sc.steady(0, 1800, 5.0)
    sc.event(1000, "blood_gas", pao2_mmhg=45.0)


def test_a_blood_gas_baseline_comes_back_from_the_stored_events() -> None:
    whole, restored, own, engine = split_run(blood_gas, 600, 1800)
    assert own == []  # the P/F baseline is there: nothing to say
    assert restored == whole
    (bed,) = engine.beds()
    assert bed.baseline_missing == ()
    assert bed.baseline["IAEW_PF_RATIO"] == 160  # PaO2 80 at FiO2 50 %
