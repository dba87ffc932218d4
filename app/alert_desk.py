"""The alert desk: the one owner of alert state outside the rules engine.

Every alert transition goes through here: `commit` (from the pipeline) and `acknowledge`
(from REST or a station websocket). Each is written to the store first, then handed, in seq
order, to the listeners: the hub, which fans it out to the stations, and — for an
acknowledgement — the rules engine, which stops escalating the episode and releases a latched
one. Nothing travels back over the bus.

`lock` is held while a transition is committed and published, so publish order is seq order;
the hub takes the same lock for the instant it cuts a reconnecting client's backlog from its
snapshot (see `app.ws.hub`).

Several service instances may share one PostgreSQL database (a second one serving more
stations). The desk tells its listeners every transition in seq order, its own and those
another instance committed, each once: `seen_seq` is the newest one told; a commit whose seq
leaves a gap first tells what fills it, read from the store, and `catch_up` (run on each
PostgreSQL notification, `app.alert_follow`) tells what others committed since. An
acknowledgement made on another instance also reaches this one's `on_acknowledged` listeners
(the rules engine).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.model import Alert, AlertState, Category, Phase, Priority
from core.records import format_time

if TYPE_CHECKING:
    from app.store import Store

log = logging.getLogger(__name__)

AlertListener = Callable[[Alert], Awaitable[None]]


class AlertDesk:
    """Commits alert transitions and acknowledgements, then tells its listeners."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.lock = asyncio.Lock()
        self._published: list[AlertListener] = []
        self._acked: list[AlertListener] = []
        self.seen_seq: int | None = None
        """The newest transition told to the listeners (None: not known yet; the first
        commit or acknowledgement takes it, as `start` does)."""

    async def start(self) -> None:
        """Start from the newest transition in the store (the hub's snapshot covers older)."""
        self.seen_seq = await self._store.max_seq()

    async def catch_up(self) -> int:
        """Tell the listeners what other instances committed since `seen_seq`; how many."""
        async with self.lock:
            if self.seen_seq is None:
                self.seen_seq = await self._store.max_seq()
                return 0
            told, acks = await self._fill(None)
        await self._tell_acks(acks)
        return told

    def on_published(self, listener: AlertListener) -> None:
        """Call `listener` with every committed transition, in seq order (under the lock)."""
        self._published.append(listener)

    def on_acknowledged(self, listener: AlertListener) -> None:
        """Call `listener` with every new acknowledgement, after it was committed."""
        self._acked.append(listener)

    async def commit(self, alert: Alert) -> Alert:
        """Commit `alert` to the store, then publish it. Returns it with its seq."""
        (committed,) = await self.commit_all([alert])
        return committed

    async def commit_all(self, batch: list[Alert]) -> list[Alert]:
        """Commit `batch` in one transaction, then publish each, in order. Returns them with
        their seqs."""
        if not batch:
            return []
        acks: list[Alert] = []
        async with self.lock:
            committed = await self._store.commit_alerts(batch)
            if self.seen_seq is None:
                self.seen_seq = (committed[0].seq or 1) - 1
            for alert in committed:
                acks += (await self._fill(alert))[1]
        await self._tell_acks(acks)
        # a turn for the stations' senders: the commit may not have given one (on SQLite it
        # runs on the loop, `app.store.sqlite_lane`; on PostgreSQL the loop waits for it,
        # `app.store.pg_lane`), and a run of commits would fill their queues unsent
        await asyncio.sleep(0)
        return committed

    async def acknowledge(self, alert_id: str, *, by: str, t: datetime) -> Alert:
        """Record who acknowledged `alert_id` and when (KeyError if unknown) and publish it.

        Acknowledging twice keeps the first who/when: the store returns the stored state and
        nothing new is published or told to the engine."""
        async with self.lock:
            if self.seen_seq is None:
                self.seen_seq = await self._store.max_seq()
            acked = await self._store.acknowledge(alert_id, by=by, t=t)
            fresh = acked.seq is not None and acked.seq > self.seen_seq
            acks = (await self._fill(acked))[1] if fresh else []
        await self._tell_acks(acks)
        return acked

    async def _fill(self, own: Alert | None) -> tuple[int, list[Alert]]:
        """Under the lock: tell the listeners, in seq order, the transitions after `seen_seq`
        that other instances committed (those before `own`, or all of them) and then `own`.
        Returns how many were told and the acknowledgements among them."""
        told: list[Alert] = []
        seen = self.seen_seq or 0
        target = None if own is None or own.seq is None else own.seq - 1
        if target is None or target > seen:
            while True:
                page = [
                    a
                    for a in await self._store.transitions_after(self.seen_seq or 0, 500)
                    if a.seq is not None and (target is None or a.seq <= target)
                ]
                for a in page:
                    await self._tell(self._published, a)
                    self.seen_seq = max(self.seen_seq or 0, a.seq or 0)
                    told.append(a)
                if len(page) < 500:
                    break
        if own is not None:
            await self._tell(self._published, own)
            self.seen_seq = max(self.seen_seq or 0, own.seq or 0)
            told.append(own)
        return len(told), [a for a in told if a.phase is Phase.ACK and a.acked_by]

    async def _tell_acks(self, acks: list[Alert]) -> None:
        for a in acks:
            await self._tell(self._acked, a)

    @staticmethod
    async def _tell(listeners: list[AlertListener], alert: Alert) -> None:
        for listener in listeners:
            try:
                await listener(alert)
            except Exception:  # a failing listener must not undo a committed transition
                log.exception("alert listener %r failed on %s", listener, alert.id)


def technical_alert(
    namespace: uuid.UUID,
    *,
    bed: str,
    rule: str,
    priority: Priority,
    onset: datetime,
    t: datetime,
    message: str,
    evidence: dict[str, Any],
) -> Alert:
    """The START of a technical alert the service raises itself (the engine cannot: it is the
    thing that stalled, or lost its state). Its id is uuid5(namespace, bed, rule, onset), as
    the engine's are, so the same condition keeps one id."""
    return Alert(
        id=str(uuid.uuid5(namespace, f"{bed}\x1f{rule}\x1f{format_time(onset)}")),
        bed=bed,
        category=Category.TECHNICAL,
        rule=rule,
        priority=priority,
        phase=Phase.START,
        state=AlertState.ACTIVE,
        onset=onset,
        t=t,
        message=message,
        evidence=evidence,
        iae=False,
    )
