"""Alerts: seq assignment, latching, acknowledgement, station list and resume."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.store import Store
from core.model import Alert, AlertState, Category, Phase, Priority

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def alert(
    alert_id: str,
    phase: Phase = Phase.START,
    minutes: float = 0,
    *,
    bed: str = "ICU-1",
    category: Category = Category.HYPOTENSION,
    priority: Priority = Priority.MEDIUM,
    onset_min: float = 0,
    **kw: object,
) -> Alert:
    a = Alert(
        id=alert_id,
        bed=bed,
        category=category,
        rule=f"rule_{category.value}",
        priority=priority,
        phase=phase,
        state=AlertState.RESOLVED if phase is Phase.END else AlertState.ACTIVE,
        onset=T0 + timedelta(minutes=onset_min),
        t=T0 + timedelta(minutes=minutes),
        message=f"{category.value} at {bed}",
        evidence={"MDC_PRESS_BLD_ART_MEAN": 58.0, "baseline": 75},
    )
    return replace(a, **kw)  # type: ignore[arg-type]


async def test_commit_assigns_increasing_seqs_and_returns_the_alert(store: Store) -> None:
    assert await store.max_seq() == 0
    a = alert("a1")
    first = await store.commit_alert(a)
    assert first == replace(a, seq=1)
    second = await store.commit_alert(alert("a1", Phase.UPDATE, 1))
    third = await store.commit_alert(alert("a2", bed="ICU-2"))
    assert (second.seq, third.seq) == (2, 3)
    assert await store.max_seq() == 3
    stored = await store.alert("a1")
    assert stored is not None and stored.seq == 2 and stored.phase is Phase.UPDATE
    assert stored.evidence == {"MDC_PRESS_BLD_ART_MEAN": 58.0, "baseline": 75}
    assert stored.iae is False and stored.t.tzinfo == UTC
    assert await store.alert("nope") is None


async def test_commit_alerts_takes_several_in_one_transaction_in_order(
    store: Store, migrated_url: str
) -> None:
    first = await store.commit_alert(alert("a1"))
    batch = [alert("a1", Phase.UPDATE, 1), alert("a2", bed="ICU-2"), alert("a1", Phase.END, 2)]
    other = await Store.open(migrated_url)  # a second instance committing meanwhile
    try:
        done, theirs = await asyncio.gather(
            store.commit_alerts(batch), other.commit_alert(alert("b1", bed="ICU-3"))
        )
    finally:
        await other.close()
    seqs = [a.seq for a in done]
    assert seqs in ([2, 3, 4], [3, 4, 5])  # consecutive: nothing of the other's in between
    assert [(a.id, a.phase, a.seq) for a in done] == [
        (a.id, a.phase, q) for a, q in zip(batch, seqs, strict=True)
    ]
    assert theirs.seq in ({5} if seqs[0] == 2 else {2})
    assert (
        await store.transitions_after(first.seq or 0, 2)
        == sorted([*done, theirs], key=lambda a: a.seq or 0)[:2]
    )
    stored = await store.alert("a1")
    assert stored is not None and stored.seq == seqs[-1] and stored.phase is Phase.END
    assert await store.commit_alerts([]) == []


async def test_resolved_unacknowledged_alerts_latch_on_the_station(store: Store) -> None:
    await store.commit_alert(alert("a1"))
    await store.commit_alert(alert("a2", category=Category.ARRHYTHMIA, priority=Priority.HIGH))
    end = await store.commit_alert(alert("a1", Phase.END, 5))
    assert end.state is AlertState.RESOLVED and end.ended_at == T0 + timedelta(minutes=5)
    station = await store.station_alerts()
    assert [a.id for a in station] == ["a2", "a1"]  # high priority first; a1 latched
    acked = await store.acknowledge("a1", by="nurse1", t=T0 + timedelta(minutes=7))
    assert acked.state is AlertState.RESOLVED and acked.phase is Phase.ACK
    assert acked.acked_by == "nurse1" and acked.acked_at == T0 + timedelta(minutes=7)
    assert [a.id for a in await store.station_alerts()] == ["a2"]


async def test_acknowledge_a_running_alert(store: Store) -> None:
    await store.commit_alert(alert("a1"))
    acked = await store.acknowledge("a1", by="nurse1", t=T0 + timedelta(minutes=1))
    assert acked.state is AlertState.ACKNOWLEDGED and acked.seq == 2
    # the engine keeps updating it, unaware of the ack: it stays acknowledged
    upd = await store.commit_alert(alert("a1", Phase.UPDATE, 2))
    assert upd.state is AlertState.ACKNOWLEDGED and upd.acked_by == "nurse1"
    assert [a.id for a in await store.station_alerts()] == ["a1"]  # still running: shown
    end = await store.commit_alert(alert("a1", Phase.END, 3))
    assert end.state is AlertState.RESOLVED
    assert await store.station_alerts() == []
    history = await store.alert_history("a1")
    assert [(h.seq, h.phase, h.state) for h in history] == [
        (1, Phase.START, AlertState.ACTIVE),
        (2, Phase.ACK, AlertState.ACKNOWLEDGED),
        (3, Phase.UPDATE, AlertState.ACKNOWLEDGED),
        (4, Phase.END, AlertState.RESOLVED),
    ]


async def test_acknowledge_is_audited_and_idempotent(store: Store) -> None:
    await store.commit_alert(alert("a1"))
    first = await store.acknowledge("a1", by="nurse1", t=T0 + timedelta(minutes=1))
    second = await store.acknowledge("a1", by="nurse2", t=T0 + timedelta(minutes=2))
    assert second == first  # first who/when kept; no new transition
    assert await store.max_seq() == 2
    log = await store.audit_log()
    assert [(r.actor, r.action, r.target) for r in log] == [
        ("nurse2", "alert.acknowledge", "a1"),
        ("nurse1", "alert.acknowledge", "a1"),
    ]
    assert log[0].details["already_by"] == "nurse1"
    assert log[1].details == {
        "seq": 2,
        "bed": "ICU-1",
        "category": "hypotension",
        "state": "acknowledged",
    }


async def test_acknowledge_unknown_alert_raises_key_error(store: Store) -> None:
    with pytest.raises(KeyError):
        await store.acknowledge("ghost", by="nurse1", t=T0)
    assert await store.audit_log() == []


async def test_escalation_re_alerts_an_acknowledged_alert(store: Store) -> None:
    await store.commit_alert(alert("a1"))
    await store.acknowledge("a1", by="nurse1", t=T0)
    esc = await store.commit_alert(alert("a1", Phase.ESCALATE, 3, priority=Priority.HIGH))
    assert esc.state is AlertState.ACTIVE and esc.acked_by is None
    again = await store.acknowledge("a1", by="nurse2", t=T0 + timedelta(minutes=4))
    assert again.acked_by == "nurse2"


async def test_transitions_after_returns_exactly_the_missed_ones_in_order(store: Store) -> None:
    committed = [
        await store.commit_alert(alert("a1")),
        await store.commit_alert(alert("a2", bed="ICU-2")),
        await store.commit_alert(alert("a1", Phase.UPDATE, 1)),
    ]
    seen = committed[-1].seq
    assert seen is not None
    missed = [
        await store.commit_alert(alert("a2", Phase.END, 2, bed="ICU-2")),
        await store.acknowledge("a1", by="nurse1", t=T0 + timedelta(minutes=3)),
        await store.commit_alert(alert("a3", category=Category.FEVER)),
    ]
    got = await store.transitions_after(seen)
    assert got == missed
    assert [a.seq for a in got] == [4, 5, 6]
    assert await store.transitions_after(6) == []
    assert await store.transitions_after(0) == committed + missed
    assert await store.transitions_after(0, limit=2) == committed[:2]


async def test_concurrent_commits_get_unique_gap_free_seqs(store: Store, migrated_url: str) -> None:
    # a second Store on the same database stands for a second process
    other = await Store.open(migrated_url)
    try:
        tasks = [
            (store if i % 2 else other).commit_alert(alert(f"a{i % 7}", Phase.UPDATE, i))
            for i in range(60)
        ]
        results = await asyncio.gather(*tasks)
    finally:
        await other.close()
    seqs = sorted(a.seq for a in results if a.seq is not None)
    assert seqs == list(range(1, 61))
    history = await store.transitions_after(0)
    assert [a.seq for a in history] == list(range(1, 61))
    # each alert's current row carries the seq of its newest transition
    for i in range(7):
        current = await store.alert(f"a{i}")
        newest = max(a.seq for a in history if a.id == f"a{i}" and a.seq is not None)
        assert current is not None and current.seq == newest


async def test_alerts_filters_newest_first(store: Store) -> None:
    await store.commit_alert(alert("a1", onset_min=0))
    await store.commit_alert(alert("a2", minutes=10, onset_min=10, bed="ICU-2"))
    await store.commit_alert(alert("a3", minutes=20, onset_min=20, category=Category.ARRHYTHMIA))
    await store.commit_alert(alert("a1", Phase.END, 30))
    assert [a.id for a in await store.alerts()] == ["a3", "a2", "a1"]
    assert [a.id for a in await store.alerts(bed="ICU-1")] == ["a3", "a1"]
    assert [a.id for a in await store.alerts(state="resolved")] == ["a1"]
    assert [a.id for a in await store.alerts(category="arrhythmia")] == ["a3"]
    assert (await store.alerts(category="arrhythmia"))[0].iae is True
    since = T0 + timedelta(minutes=5)
    assert [a.id for a in await store.alerts(since=since)] == ["a3", "a2"]
    assert [a.id for a in await store.alerts(until=since)] == ["a1"]
    assert [a.id for a in await store.alerts(limit=1)] == ["a3"]
    with pytest.raises(ValueError):
        await store.alerts(state="sleeping")


async def test_evidence_json_lacks_is_stored_as_text(store: Store) -> None:
    a = alert("a1", evidence={"since": T0, "values": (1.5, float("nan"))})
    await store.commit_alert(a)
    stored = await store.alert("a1")
    assert stored is not None
    assert stored.evidence == {"since": "2026-03-01T08:00:00+00:00", "values": [1.5, None]}
