"""Alerts: the current state per alert id (`alerts`) and every transition (`alert_transitions`,
whose autoincrement key is the global `seq` websocket clients resume from).

`commit_alert(s)` and `acknowledge` run under a lock that makes seq order equal commit order
(SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so a client that
has seen seq N and asks for what came after can never miss a smaller seq committed later.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    String,
    case,
    cast,
    func,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import RowMapping

from app.store._outbox import OutboxQueries
from app.store.alert_state import acknowledged, merge, on_station
from app.store.base import inserted_id
from app.store.schema import alert_transitions, alerts, audit_log
from app.store.types import UTCDateTime
from core.model import Alert, AlertState, Category, Phase, Priority

ALERT_CHANNEL = "iaewatch_alerts"
"""PostgreSQL NOTIFY channel: each committed transition's seq, for other instances."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StationEpisode:
    """An alert still on the station, with what its transitions say of its episode's timers:
    when it (last) started, when it last started or got worse, and whether it has escalated
    since that start. What the rules engine is restored from after a restart."""

    alert: Alert
    started: datetime
    last_trigger: datetime
    escalated: bool


class AlertQueries(OutboxQueries):
    async def commit_alert(self, alert: Alert) -> Alert:
        """Store one transition: assign the next seq, append it to the history and update the
        alert's current state, in one transaction. Returns the alert as stored, with its seq.

        The stored state is merged with what the store already knows (`alert_state.merge`):
        an acknowledgement survives later updates, and a resolved alert nobody acknowledged
        stays on the station (latching). When nothing needed merging the result is
        `dataclasses.replace(alert, seq=...)`. The transaction runs in one piece
        (`_write_blocking`): on a SQLite file one hop to the store's writer thread, not a
        round trip through a busy event loop per statement.
        """
        (committed,) = await self.commit_alerts([alert])
        return committed

    async def commit_alerts(self, batch: Sequence[Alert]) -> list[Alert]:
        """`commit_alert` of each, in order, in one transaction (consecutive seqs): the
        transitions one message caused, or a burst's, cost one commit, not one each."""
        return await self._write_blocking(self._commit_alerts, batch, alerts=True)

    def _commit_alerts(self, conn: Connection, batch: Sequence[Alert]) -> list[Alert]:
        return [self._commit_alert(conn, alert) for alert in batch]

    def _commit_alert(self, conn: Connection, alert: Alert) -> Alert:
        stored = _stored(conn, alert.id)
        return self._append(conn, merge(stored, alert), exists=stored is not None)

    async def acknowledge(self, alert_id: str, *, by: str, t: datetime) -> Alert:
        """`by` acknowledged the alert at `t`: a transition with phase ACK and a new seq.

        A still-running alert becomes acknowledged; an ended one stays resolved and, now
        acknowledged, leaves the station. Acknowledging twice keeps the first who/when and
        writes no transition. Unknown id → KeyError. Audit-logged either way.
        """
        if not by:
            raise ValueError("acknowledge: `by` is empty")
        return await self._write_blocking(self._acknowledge, alert_id, by, t, alerts=True)

    def _acknowledge(self, conn: Connection, alert_id: str, by: str, t: datetime) -> Alert:
        stored = _stored(conn, alert_id)
        if stored is None:
            raise KeyError(alert_id)
        if stored.acked_by is not None:
            result = stored
            details: dict[str, Any] = {"already_by": stored.acked_by, "seq": stored.seq}
        else:
            result = self._append(conn, acknowledged(stored, by=by, t=t), exists=True)
            details = {"seq": result.seq}
        details.update(bed=result.bed, category=result.category.value, state=result.state.value)
        conn.execute(
            audit_log.insert().values(
                t=t, actor=by, action="alert.acknowledge", target=alert_id, details=details
            )
        )
        return result

    async def alert(self, alert_id: str) -> Alert | None:
        """The current state of one alert."""
        async with self._read() as conn:
            return await conn.run_sync(_stored, alert_id)

    async def alerts(
        self,
        *,
        bed: str | None = None,
        state: str | None = None,
        category: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[Alert]:
        """Current state per alert, newest onset first; `since`/`until` bound the onset."""
        c = alerts.c
        stmt = select(alerts).order_by(c.onset.desc(), c.seq.desc()).limit(limit)
        if bed is not None:
            stmt = stmt.where(c.bed == bed)
        if state is not None:
            stmt = stmt.where(c.state == AlertState(state).value)
        if category is not None:
            stmt = stmt.where(c.category == Category(category).value)
        if since is not None:
            stmt = stmt.where(c.onset >= since)
        if until is not None:
            stmt = stmt.where(c.onset <= until)
        async with self._read() as conn:
            return [_alert(r) for r in (await conn.execute(stmt)).mappings()]

    async def station_alerts(self) -> list[Alert]:
        """What the station must show: every alert not ended, and every ended alert nobody
        acknowledged (latched). Highest priority first, then newest onset."""
        c = alerts.c
        stmt = select(alerts).where(c.ended_at.is_(None) | c.acked_by.is_(None))
        async with self._read() as conn:
            found = [_alert(r) for r in (await conn.execute(stmt)).mappings()]
        found = [a for a in found if on_station(a)]
        found.sort(key=lambda a: (a.onset, a.seq or 0), reverse=True)
        found.sort(key=lambda a: a.priority.rank, reverse=True)
        return found

    async def station_episodes(self) -> list[StationEpisode]:
        """`station_alerts()` with the times their episodes' timers run from (one query for
        the times, over the transitions of those alerts only)."""
        shown = await self.station_alerts()
        if not shown:
            return []
        c = alert_transitions.c
        started = type_coerce(func.max(case((c.phase == Phase.START.value, c.t))), UTCDateTime)
        trigger = type_coerce(
            func.max(case((c.phase.in_([Phase.START.value, Phase.UPDATE.value]), c.t))),
            UTCDateTime,
        )
        escalated = func.max(case((c.phase == Phase.ESCALATE.value, c.seq)))
        last_start = func.max(case((c.phase == Phase.START.value, c.seq)))
        stmt = (
            select(c.alert_id, started, trigger, escalated, last_start)
            .where(c.alert_id.in_([a.id for a in shown]))
            .group_by(c.alert_id)
        )
        async with self._read() as conn:
            times = {r[0]: r[1:] for r in (await conn.execute(stmt)).all()}
        out = []
        for a in shown:
            first, last, esc_seq, start_seq = times.get(a.id, (None, None, None, None))
            out.append(
                StationEpisode(
                    alert=a,
                    started=first or a.onset,
                    last_trigger=last or first or a.onset,
                    escalated=esc_seq is not None and esc_seq > (start_seq or 0),
                )
            )
        return out

    @contextlib.asynccontextmanager
    async def alert_notifications(self, wake: Callable[[], None]) -> AsyncIterator[bool]:
        """While open, call `wake` whenever any connection commits an alert transition
        (PostgreSQL LISTEN, on a connection of its own). Yields False on SQLite, where one
        process owns the database and there is nothing to listen to."""
        if self._sqlite:
            yield False
            return
        async with self._engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None

            def notified(*_: object) -> None:
                wake()

            await raw.add_listener(ALERT_CHANNEL, notified)
            try:
                yield True
            finally:
                with contextlib.suppress(Exception):  # the connection may be gone already
                    await raw.remove_listener(ALERT_CHANNEL, notified)

    async def transitions_after(self, seq: int, limit: int = 10_000) -> list[Alert]:
        """Every transition with a seq greater than `seq`, in seq order (websocket resume)."""
        c = alert_transitions.c
        stmt = select(alert_transitions).where(c.seq > seq).order_by(c.seq).limit(limit)
        async with self._read() as conn:
            return [_transition(r) for r in (await conn.execute(stmt)).mappings()]

    async def alert_history(self, alert_id: str) -> list[Alert]:
        """Every transition of one alert, in seq order."""
        c = alert_transitions.c
        stmt = select(alert_transitions).where(c.alert_id == alert_id).order_by(c.seq)
        async with self._read() as conn:
            return [_transition(r) for r in (await conn.execute(stmt)).mappings()]

    async def max_seq(self) -> int:
        """The newest seq committed (0 when there is none)."""
        async with self._read() as conn:
            return int(await conn.scalar(select(func.max(alert_transitions.c.seq))) or 0)

    # ── helpers ─────────────────────────────────────────────────────────────────────────
    def _append(self, conn: Connection, alert: Alert, *, exists: bool) -> Alert:
        """Upsert the current row, append the transition, stamp both with its seq, and queue
        its outbound messages (`OutboxQueries`)."""
        row = _values(alert)
        if not exists:
            # seq 0 until the transition below has its key (the FK needs this row first)
            conn.execute(alerts.insert().values(id=alert.id, seq=0, **row))
        current = row if exists else {}  # what the alert's row takes besides its seq
        if self._sqlite:
            result = conn.execute(alert_transitions.insert().values(alert_id=alert.id, **row))
            seq = inserted_id(result)
            conn.execute(update(alerts).where(alerts.c.id == alert.id).values(seq=seq, **current))
        else:
            seq = int(conn.execute(_pg_append(alert.id, row, current)).scalar_one())
        stored = replace(alert, seq=seq)
        self._outbox_alert(conn, stored)  # its outbound messages, in this transaction
        return stored


def _pg_append(alert_id: str, row: dict[str, Any], current: dict[str, Any]) -> Select[Any]:
    """On PostgreSQL, one statement (one round trip, not four): the transition `row` appended,
    the alert's row given its seq (and `current`), and the seq sent to other instances on
    `ALERT_CHANNEL` (delivered at commit)."""
    tr = (
        alert_transitions.insert()
        .values(alert_id=alert_id, **row)
        .returning(alert_transitions.c.seq)
        .cte("tr")
    )
    seq = select(tr.c.seq).scalar_subquery()
    update_current = update(alerts).where(alerts.c.id == alert_id).values(seq=seq, **current)
    notify = func.pg_notify(ALERT_CHANNEL, cast(tr.c.seq, String))
    return select(tr.c.seq, notify).add_cte(update_current.cte("current"))


def _stored(conn: Connection, alert_id: str) -> Alert | None:
    row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().one_or_none()
    return None if row is None else _alert(row)


def _values(a: Alert) -> dict[str, Any]:
    return {
        "bed": a.bed,
        "category": a.category.value,
        "iae": bool(a.iae),
        "rule": a.rule,
        "priority": a.priority.value,
        "phase": a.phase.value,
        "state": a.state.value,
        "onset": a.onset,
        "t": a.t,
        "message": a.message,
        "evidence": a.evidence,
        "acked_by": a.acked_by,
        "acked_at": a.acked_at,
        "ended_at": a.ended_at,
    }


def _alert(row: RowMapping, alert_id: str | None = None) -> Alert:
    return Alert(
        id=alert_id if alert_id is not None else row["id"],
        bed=row["bed"],
        category=Category(row["category"]),
        rule=row["rule"],
        priority=Priority(row["priority"]),
        phase=Phase(row["phase"]),
        state=AlertState(row["state"]),
        onset=row["onset"],
        t=row["t"],
        message=row["message"],
        evidence=dict(row["evidence"] or {}),
        iae=row["iae"],
        seq=row["seq"],
        acked_by=row["acked_by"],
        acked_at=row["acked_at"],
        ended_at=row["ended_at"],
    )


def _transition(row: RowMapping) -> Alert:
    return _alert(row, alert_id=row["alert_id"])
