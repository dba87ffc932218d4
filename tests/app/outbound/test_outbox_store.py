"""The outbox is written in the alert's own transaction, kept in order, and emptied on
acceptance (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from factories import T0, make_alert

from app.alert_desk import AlertDesk
from app.store import Store
from app.store._outbox import OutboxItem
from core.model import Alert, Phase


def _router(endpoints: Sequence[str]) -> object:
    def route(alert: Alert, patient: str) -> list[OutboxItem]:
        return [
            OutboxItem(
                endpoint=e,
                control_id=f"A{alert.seq}",
                payload=f"{alert.phase.value} {patient}",
                created=alert.t,
                alert_id=alert.id,
                seq=alert.seq,
            )
            for e in endpoints
        ]

    return route


async def test_every_transition_queues_its_messages_in_seq_order(store: Store) -> None:
    store.route_alerts_to_outbox(_router(["am", "hook"]))  # type: ignore[arg-type]
    desk = AlertDesk(store)
    await store.enrol_patient(
        bed="ICU-1", study_id="S-1", weight_kg=70, arm="cells", ards_onset=None
    )
    start = await desk.commit(make_alert(1))
    await desk.acknowledge("alert-1", by="nurse1", t=T0 + timedelta(minutes=1))
    await desk.commit(make_alert(1, phase=Phase.END, t=T0 + timedelta(minutes=2)))
    head = await store.outbox_head("am")
    assert [(r.item.payload, r.item.seq) for r in head] == [
        ("start S-1", start.seq),
        ("ack S-1", start.seq + 1),  # type: ignore[operator]
        ("end S-1", start.seq + 2),  # type: ignore[operator]
    ]
    depths = await store.outbox_depths()
    assert {k: v.depth for k, v in depths.items()} == {"am": 3, "hook": 3}
    assert depths["am"].oldest == T0
    await store.outbox_failed(head[0].id, "AE busy")
    again = await store.outbox_head("am", limit=1)
    assert (again[0].attempts, again[0].last_error) == (1, "AE busy")
    await store.outbox_accepted(head[0].id)
    assert [r.item.payload for r in await store.outbox_head("am")] == ["ack S-1", "end S-1"]


async def test_a_failing_router_rolls_the_transition_back(store: Store) -> None:
    def broken(alert: Alert, patient: str) -> list[OutboxItem]:
        raise RuntimeError("renderer broke")

    store.route_alerts_to_outbox(broken)
    with pytest.raises(RuntimeError):
        await store.commit_alert(make_alert(1))
    assert await store.alert("alert-1") is None and await store.max_seq() == 0
    assert await store.outbox_depths() == {}


async def test_enqueue_skips_what_is_already_queued(store: Store) -> None:
    item = OutboxItem(endpoint="ehr", control_id="NICU-1.1", payload="x", created=T0)
    assert await store.enqueue([item]) == 1
    assert await store.enqueue([item]) == 0
    assert await store.enqueue([]) == 0
    assert len(await store.outbox_head("ehr")) == 1
