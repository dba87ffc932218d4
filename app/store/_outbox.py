"""The outbound outbox: per-endpoint queues of messages, oldest first (app.outbound drains it).

An alert transition's messages are written by `_outbox_alert` inside the transaction that
commits the transition (`AlertQueries._append` calls it), so a transition is never committed
without its messages, nor a message without its transition. What each endpoint receives is
decided by the router `route_alerts_to_outbox` installs; without one nothing is queued.
A row is deleted once its endpoint accepted it; `(endpoint, control_id)` is unique, so the
same message is never queued twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, type_coerce, update

from app.store.base import StoreBase
from app.store.schema import outbox, patients
from app.store.types import UTCDateTime
from core.model import Alert


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxItem:
    """One message for one endpoint, as queued."""

    endpoint: str
    control_id: str
    payload: str
    created: datetime
    alert_id: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxRow:
    """A queued message as stored: its place in the queue and its delivery history."""

    id: int
    item: OutboxItem
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxDepth:
    """How much one endpoint has waiting."""

    depth: int
    oldest: datetime | None


OutboxRouter = Callable[[Alert, str], Sequence[OutboxItem]]
"""The messages one committed transition (with its seq) sends, given the bed's patient id
('' when no patient is enrolled at the bed)."""


class OutboxQueries(StoreBase):
    _outbox_router: OutboxRouter | None = None

    def route_alerts_to_outbox(self, router: OutboxRouter | None) -> None:
        """Queue `router`'s messages with every alert transition committed from now on."""
        self._outbox_router = router

    def _outbox_alert(self, conn: Connection, alert: Alert) -> None:
        """Queue `alert`'s messages in `conn`'s transaction (blocking API: the alert commit's
        transaction runs in one piece, `StoreBase._write_blocking`)."""
        router = self._outbox_router
        if router is None:
            return
        c = patients.c
        patient = conn.scalar(
            select(c.study_id)
            .where(c.bed == alert.bed, c.discharged_at.is_(None))
            .order_by(c.enrolled_at.desc())
            .limit(1)
        )
        items = router(alert, patient or "")
        if items:
            conn.execute(outbox.insert(), [_values(i) for i in items])

    async def enqueue(self, items: Iterable[OutboxItem]) -> int:
        """Queue messages that belong to no alert transition (periodic numerics); one already
        queued (same endpoint and control id) is skipped. Returns how many were queued."""
        rows = [_values(i) for i in items]
        if not rows:
            return 0
        async with self._write() as conn:
            result = await conn.execute(self._upsert(outbox).values(rows).on_conflict_do_nothing())
            return int(result.rowcount or 0)

    async def outbox_head(self, endpoint: str, limit: int = 50) -> list[OutboxRow]:
        """The oldest messages waiting for `endpoint`, in queue order."""
        c = outbox.c
        stmt = select(outbox).where(c.endpoint == endpoint).order_by(c.id).limit(limit)
        async with self._read() as conn:
            return [
                OutboxRow(
                    id=r["id"],
                    item=OutboxItem(
                        endpoint=r["endpoint"],
                        control_id=r["control_id"],
                        payload=r["payload"],
                        created=r["created"],
                        alert_id=r["alert_id"],
                        seq=r["seq"],
                    ),
                    attempts=r["attempts"],
                    last_error=r["last_error"],
                )
                for r in (await conn.execute(stmt)).mappings()
            ]

    async def outbox_accepted(self, row_id: int) -> None:
        """The endpoint accepted the message: it leaves the queue for good."""
        async with self._write() as conn:
            await conn.execute(delete(outbox).where(outbox.c.id == row_id))

    async def outbox_failed(self, row_id: int, error: str) -> None:
        """One more failed attempt, and why (the message stays at the head of its queue)."""
        async with self._write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == row_id)
                .values(attempts=outbox.c.attempts + 1, last_error=error[:1000])
            )

    async def outbox_depths(self) -> dict[str, OutboxDepth]:
        """Per endpoint with anything queued: how many messages, and the oldest one's time."""
        c = outbox.c
        oldest = type_coerce(func.min(c.created), UTCDateTime)
        stmt = select(c.endpoint, func.count(), oldest).group_by(c.endpoint)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return {r[0]: OutboxDepth(depth=int(r[1]), oldest=r[2]) for r in rows}


def _values(item: OutboxItem) -> dict[str, object]:
    return {
        "endpoint": item.endpoint,
        "control_id": item.control_id,
        "payload": item.payload,
        "created": item.created,
        "alert_id": item.alert_id,
        "seq": item.seq,
    }
