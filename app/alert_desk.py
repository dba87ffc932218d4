"""The alert desk: the one owner of alert state outside the rules engine.

Every alert transition goes through here: `commit` (from the pipeline) and `acknowledge`
(from REST or a station websocket). Each is written to the store first, then handed, in seq
order, to the listeners: the hub, which fans it out to the stations, and — for an
acknowledgement — the rules engine, which stops escalating the episode and releases a latched
one. Nothing travels back over the bus.

`lock` is held while a transition is committed and published, so publish order is seq order;
the hub takes the same lock for the instant it cuts a reconnecting client's backlog from its
snapshot (see `app.ws.hub`).
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

    def on_published(self, listener: AlertListener) -> None:
        """Call `listener` with every committed transition, in seq order (under the lock)."""
        self._published.append(listener)

    def on_acknowledged(self, listener: AlertListener) -> None:
        """Call `listener` with every new acknowledgement, after it was committed."""
        self._acked.append(listener)

    async def commit(self, alert: Alert) -> Alert:
        """Commit `alert` to the store, then publish it. Returns it with its seq."""
        async with self.lock:
            committed = await self._store.commit_alert(alert)
            await self._tell(self._published, committed)
        return committed

    async def acknowledge(self, alert_id: str, *, by: str, t: datetime) -> Alert:
        """Record who acknowledged `alert_id` and when (KeyError if unknown) and publish it.

        Acknowledging twice keeps the first who/when: the store returns the stored state and
        nothing new is published or told to the engine."""
        async with self.lock:
            before = await self._store.max_seq()
            acked = await self._store.acknowledge(alert_id, by=by, t=t)
            fresh = acked.seq is not None and acked.seq > before
            if fresh:
                await self._tell(self._published, acked)
        if fresh:
            await self._tell(self._acked, acked)
        return acked

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
