"""One endpoint's sender: drains its outbox in order, one message at a time.

    head of queue ──deliver──▶ accepted (AA, 2xx) ─▶ delete the row, next
                           ├─▶ error (AE, 5xx, refused, timeout) ─▶ log, count the attempt,
                           │      back off (initial, doubling, up to max) and send it again
                           └─▶ rejected (AR, 4xx) ─▶ the endpoint stops; a technical alert
                                  is raised; the message stays queued (never dropped)

Nothing is sent out of order: a message is retried until accepted before the next is tried.
The queue lives in the database, so a restart resumes where it stood. A queue at or above
the endpoint's `backlog_alert` raises a technical alert, ended once it drains to half of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

from app.outbound.config import EndpointConfig
from app.outbound.health import EndpointHealth, EndpointState
from app.outbound.replies import Verdict
from app.outbound.transports import DeliveryError, Transport
from app.store import Store
from app.store._outbox import OutboxRow
from core.clock import Clock

log = logging.getLogger(__name__)

Alarm = Callable[[str, str, dict[str, object]], Awaitable[None]]
"""Raise (condition, message, evidence) as a technical alert about the endpoint (rule
`outbound_<condition>:<endpoint>`); the same condition with message '' ends it."""

IDLE_POLL_S = 5.0  # an idle sender looks at its queue this often even when nobody wakes it


class EndpointSender:
    """Delivers `ep`'s queued messages through `transport`, updating `health`."""

    def __init__(
        self,
        ep: EndpointConfig,
        *,
        store: Store,
        clock: Clock,
        transport: Transport,
        health: EndpointHealth,
        alarm: Alarm,
    ) -> None:
        self.ep = ep
        self._store = store
        self._clock = clock
        self._transport = transport
        self.health = health
        self._alarm = alarm
        self._wake = asyncio.Event()
        self._backlogged = False

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Send until rejected (then return) or cancelled. A database that fails is waited
        for (the messages are in it), never a reason to stop."""
        try:
            while True:
                try:
                    if not await self._drain():
                        return
                except (SQLAlchemyError, OSError) as exc:
                    log.error("outbound %s: the outbox cannot be read: %s", self.ep.name, exc)
                    self.health.last_error = f"database: {exc}"
                    self.health.last_error_at = self._clock.now()
                    await self._clock.sleep(self.ep.retry_max)
        finally:
            await self._transport.close()

    async def _drain(self) -> bool:
        """Send what is queued now (False: the endpoint rejected a message and stops)."""
        self._wake.clear()  # before reading: a message queued after it wakes us
        rows = await self._store.outbox_head(self.ep.name)
        await self._refresh()
        if not rows:
            await self._idle()
        for row in rows:
            if not await self._deliver(row):
                return False
        return True

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await self._clock.wait_for(self._wake.wait(), IDLE_POLL_S)

    async def _deliver(self, row: OutboxRow) -> bool:
        """Send `row` until accepted (True) or rejected (False)."""
        delay = self.ep.retry_initial
        while True:
            try:
                reply = await self._transport.deliver(row.item)
            except DeliveryError as exc:
                await self._failed(row, f"not delivered: {exc}", EndpointState.RETRYING)
            else:
                if reply.verdict is Verdict.ACCEPTED:
                    await self._store.outbox_accepted(row.id)
                    self.health.state = EndpointState.CONNECTED
                    self.health.sent += 1
                    self.health.last_sent_at = self._clock.now()
                    await self._refresh()
                    return True
                if reply.verdict is Verdict.REJECTED:
                    await self._failed(row, f"rejected: {reply.text}", EndpointState.CONNECTED)
                    await self._alarm(
                        "rejected",
                        f"Outbound endpoint {self.ep.name} rejected message "
                        f"{row.item.control_id} ({reply.text}); nothing more is sent to it",
                        {"endpoint": self.ep.name, "control_id": row.item.control_id,
                         "reply": reply.text, "queued": self.health.depth},
                    )  # fmt: skip
                    self.health.state = EndpointState.STOPPED  # once the alert is raised
                    return False
                await self._failed(row, f"error: {reply.text}", EndpointState.CONNECTED)
            await self._refresh()
            await self._backoff(delay)
            delay = min(delay * 2, self.ep.retry_max)

    async def _backoff(self, seconds: float) -> None:
        """Wait `seconds` before the next attempt; what is queued meanwhile still shows in
        the health at once (each wake-up refreshes it)."""
        end = self._clock.monotonic() + seconds
        while (left := end - self._clock.monotonic()) > 0:
            self._wake.clear()
            try:
                await self._clock.wait_for(self._wake.wait(), left)
            except TimeoutError:
                return
            await self._refresh()

    async def _failed(self, row: OutboxRow, error: str, state: EndpointState) -> None:
        first = self.health.state is not state or error.startswith("rejected")
        level = logging.ERROR if first else logging.WARNING  # repeats quietly until recovery
        log.log(level, "outbound %s: %s %s", self.ep.name, row.item.control_id, error)
        self.health.errors += 1
        self.health.last_error = error
        self.health.last_error_at = self._clock.now()
        await self._store.outbox_failed(row.id, error)
        self.health.state = state

    async def _refresh(self) -> None:
        depth = (await self._store.outbox_depths()).get(self.ep.name)
        self.health.depth = depth.depth if depth else 0
        self.health.oldest = depth.oldest if depth else None
        # hysteresis: raised at the threshold, ended only once half of it has drained
        limit = self.ep.backlog_alert if not self._backlogged else self.ep.backlog_alert // 2 + 1
        backlogged = self.health.depth >= limit
        if backlogged == self._backlogged:
            return
        self._backlogged = backlogged
        message = (
            f"Outbound endpoint {self.ep.name}: {self.health.depth} messages waiting "
            f"(threshold {self.ep.backlog_alert}); last error: {self.health.last_error}"
            if backlogged
            else ""
        )
        await self._alarm(
            "backlog",
            message,
            {"endpoint": self.ep.name, "queued": self.health.depth,
             "threshold": self.ep.backlog_alert},
        )  # fmt: skip
