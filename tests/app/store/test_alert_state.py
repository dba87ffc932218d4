"""The merge table of `app.store.alert_state` (pure; no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from app.store.alert_state import acknowledged, merge, on_station
from core.model import Alert, AlertState, Category, Phase, Priority

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def alert(phase: Phase, minutes: float = 0, **kw: object) -> Alert:
    base = Alert(
        id="a1",
        bed="ICU-1",
        category=Category.HYPOTENSION,
        rule="map_below_65",
        priority=Priority.MEDIUM,
        phase=phase,
        state=AlertState.RESOLVED if phase is Phase.END else AlertState.ACTIVE,
        onset=T0,
        t=T0 + timedelta(minutes=minutes),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_a_new_alert_is_stored_as_given() -> None:
    a = alert(Phase.START)
    assert merge(None, a) == a


def test_an_end_without_ended_at_gets_the_transition_time() -> None:
    end = merge(merge(None, alert(Phase.START)), alert(Phase.END, 5))
    assert end.state is AlertState.RESOLVED and end.ended_at == T0 + timedelta(minutes=5)
    assert on_station(end)  # latched: nobody acknowledged it


def test_an_acknowledgement_survives_updates_and_the_end() -> None:
    acked = acknowledged(merge(None, alert(Phase.START)), by="nurse1", t=T0 + timedelta(minutes=1))
    assert acked.state is AlertState.ACKNOWLEDGED and acked.phase is Phase.ACK
    upd = merge(acked, alert(Phase.UPDATE, 2))  # the engine still says "active"
    assert upd.state is AlertState.ACKNOWLEDGED and upd.acked_by == "nurse1"
    end = merge(upd, alert(Phase.END, 3))
    assert end.state is AlertState.RESOLVED and end.acked_by == "nurse1"
    assert not on_station(end)


def test_acknowledging_an_ended_alert_clears_it_from_the_station() -> None:
    end = merge(merge(None, alert(Phase.START)), alert(Phase.END, 5))
    acked = acknowledged(end, by="nurse1", t=T0 + timedelta(minutes=9))
    assert acked.state is AlertState.RESOLVED and acked.acked_at == T0 + timedelta(minutes=9)
    assert acked.ended_at == end.ended_at
    assert not on_station(acked)


def test_escalation_to_a_higher_priority_must_be_heard_again() -> None:
    acked = acknowledged(merge(None, alert(Phase.START)), by="n", t=T0)
    esc = merge(acked, alert(Phase.ESCALATE, 4, priority=Priority.HIGH))
    assert esc.state is AlertState.ACTIVE and esc.acked_by is None
    same = merge(acked, alert(Phase.ESCALATE, 4, priority=Priority.MEDIUM))
    assert same.state is AlertState.ACKNOWLEDGED


def test_an_ended_alert_stays_ended_until_a_new_start() -> None:
    end = merge(merge(None, alert(Phase.START)), alert(Phase.END, 5))
    late = merge(end, alert(Phase.UPDATE, 6))
    assert late.state is AlertState.RESOLVED and late.ended_at == end.ended_at
    again = merge(end, alert(Phase.START, 30, onset=T0 + timedelta(minutes=30)))
    assert again.state is AlertState.ACTIVE and again.ended_at is None
    assert again.onset == T0 + timedelta(minutes=30)


def test_onset_is_the_earliest_seen() -> None:
    first = merge(None, alert(Phase.START, 1, onset=T0 + timedelta(minutes=1)))
    upd = merge(first, alert(Phase.UPDATE, 2))  # engine revised the onset back
    assert upd.onset == T0


def test_an_ack_time_before_onset_does_not_break_the_alert() -> None:
    a = merge(None, alert(Phase.START))
    acked = acknowledged(a, by="n", t=T0 - timedelta(seconds=3))  # skewed clock
    assert acked.t == T0 and acked.acked_at == T0 - timedelta(seconds=3)
