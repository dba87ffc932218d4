"""`station_episodes`: the alerts still shown, with the times their episodes' timers run from
(what the rules engine is restored from after a restart)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from app.store import Store
from core.model import Alert, AlertState, Category, Phase, Priority

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def alert(alert_id: str, phase: Phase, minutes: float, *, onset_min: float = 0) -> Alert:
    return Alert(
        id=alert_id,
        bed="ICU-1",
        category=Category.ARRHYTHMIA,
        rule="arrhythmia",
        priority=Priority.HIGH,
        phase=phase,
        state=AlertState.RESOLVED if phase is Phase.END else AlertState.ACTIVE,
        onset=at(onset_min),
        t=at(minutes),
        message="VT",
        evidence={"count": 1},
        iae=True,
    )


async def test_no_alerts_no_episodes(store: Store) -> None:
    assert await store.station_episodes() == []


async def test_timers_come_from_the_transitions(store: Store) -> None:
    await store.commit_alert(alert("a", Phase.START, 1))
    await store.commit_alert(alert("a", Phase.UPDATE, 3))
    await store.acknowledge("a", by="nurse", t=at(4))
    await store.commit_alert(alert("a", Phase.ESCALATE, 5))
    await store.commit_alert(alert("b", Phase.START, 2))
    await store.commit_alert(alert("b", Phase.END, 6))  # latched: still shown
    await store.commit_alert(alert("c", Phase.START, 2))
    await store.commit_alert(alert("c", Phase.END, 3))
    await store.acknowledge("c", by="nurse", t=at(4))  # ended and acknowledged: gone
    got = {e.alert.id: e for e in await store.station_episodes()}
    assert set(got) == {"a", "b"}
    a, b = got["a"], got["b"]
    assert (a.started, a.last_trigger, a.escalated) == (at(1), at(3), True)
    assert a.alert.acked_by == "nurse" and a.alert.ended_at is None
    assert all(t.tzinfo is UTC for t in (a.started, a.last_trigger))
    assert (b.started, b.last_trigger, b.escalated) == (at(2), at(2), False)
    assert b.alert.ended_at == at(6) and b.alert.acked_by is None


async def test_a_new_start_under_the_same_id_restarts_the_timers(store: Store) -> None:
    await store.commit_alert(alert("a", Phase.START, 1))
    await store.commit_alert(alert("a", Phase.ESCALATE, 2))
    await store.commit_alert(alert("a", Phase.END, 3))
    await store.commit_alert(replace(alert("a", Phase.START, 10), evidence={"count": 2}))
    (a,) = await store.station_episodes()
    assert (a.started, a.last_trigger, a.escalated) == (at(10), at(10), False)
    assert a.alert.evidence == {"count": 2} and a.alert.ended_at is None
