"""`ObservationWriter`: observations and events reach the database in batches, off the hot path.

`submit(msg)` never waits: it appends to a bounded buffer. When the buffer is full a new
observation is dropped and counted (the first drop logged as an error, later ones quietly
until the buffer drains); an event is never dropped: it is kept beyond the bound. A
background task flushes when `max_batch` messages are waiting or `flush_interval` seconds
(on the injected clock) have passed since the last flush, whichever comes first. A failed
flush keeps its batch and retries at the next interval; a batch the database refuses
`max_attempts` times in a row is given up (counted and logged) so one bad row cannot stall
the stream. `stop()` flushes everything left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol

from core.clock import Clock
from core.model import DeviceEvent, Message, Observation

log = logging.getLogger(__name__)


class BatchSink(Protocol):
    """What the writer writes to (a `Store`, or a fake in tests)."""

    async def add_messages(
        self, observations: Sequence[Observation], events: Sequence[DeviceEvent]
    ) -> None: ...


class ObservationWriter:
    """Batches observations and events into the store (see the module doc)."""

    def __init__(
        self,
        store: BatchSink,
        clock: Clock,
        *,
        max_batch: int = 2000,
        flush_interval: float = 0.5,
        max_pending: int | None = None,
        max_attempts: int = 5,
    ) -> None:
        if max_batch < 1 or flush_interval <= 0:
            raise ValueError("max_batch must be ≥ 1 and flush_interval > 0")
        self._store = store
        self._clock = clock
        self.max_batch = max_batch
        self.flush_interval = flush_interval
        self.max_pending = max_pending if max_pending is not None else max_batch * 50
        self.max_attempts = max_attempts
        self._pending: deque[Observation | DeviceEvent] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._attempts = 0
        self._dropping = False
        self._failing = False
        self.written = 0
        """Messages stored."""
        self.dropped = 0
        """Messages refused because the buffer was full."""
        self.failed = 0
        """Messages given up after the database refused their batch `max_attempts` times."""
        self.flushes = 0

    @property
    def pending(self) -> int:
        """Messages waiting to be written."""
        return len(self._pending)

    def submit(self, msg: Message) -> bool:
        """Queue an observation or event for writing; never blocks. Alerts are not this
        writer's (they are committed one by one): they are ignored and False is returned,
        as it is for a message dropped because the buffer is full."""
        if not isinstance(msg, Observation | DeviceEvent):
            return False
        if len(self._pending) >= self.max_pending and type(msg) is Observation:
            self.dropped += 1
            if not self._dropping:
                self._dropping = True
                log.error(
                    "store writer buffer full (%d messages): dropping new observations "
                    "until it drains (events are kept)",
                    self.max_pending,
                )
            return False
        if self._dropping and len(self._pending) < self.max_pending // 2:
            self._dropping = False
            log.warning("store writer buffer draining; %d messages dropped so far", self.dropped)
        self._pending.append(msg)
        if len(self._pending) >= self.max_batch:
            self._wake.set()
        return True

    # ── lifecycle ───────────────────────────────────────────────────────────────────────
    def start(self) -> None:
        """Start the background flusher (inside a running event loop)."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="store-writer")

    async def stop(self) -> None:
        """Flush everything pending, then end the background task."""
        task, self._task = self._task, None
        self._stopping = True
        self._wake.set()
        if task is not None:
            await task
        else:
            await self._drain()

    async def __aenter__(self) -> ObservationWriter:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def flush(self) -> None:
        """Write everything pending now (in batches of at most `max_batch`)."""
        await self._drain()

    # ── the loop ────────────────────────────────────────────────────────────────────────
    async def _run(self) -> None:
        while not self._stopping:
            if len(self._pending) < self.max_batch or self._failing:
                with contextlib.suppress(TimeoutError):
                    await self._clock.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            if self._stopping:
                break
            await self._write_one_batch()
            # a backlog of full batches is written straight away, each in its own transaction
            while len(self._pending) >= self.max_batch and not self._failing:
                await self._write_one_batch()
                await asyncio.sleep(0)
        await self._drain()

    async def _drain(self) -> None:
        while self._pending:
            if not await self._write_one_batch() and self._failing:
                # the database is down; on stop there is no later interval to retry in
                lost = len(self._pending)
                self.failed += lost
                self._pending.clear()
                log.error("store writer stopped with %d unwritten messages", lost)
                return

    async def _write_one_batch(self) -> bool:
        """Write the oldest `max_batch` pending messages; False if the database refused."""
        if not self._pending:
            return True
        count = min(len(self._pending), self.max_batch)
        batch = [self._pending[i] for i in range(count)]
        obs = [m for m in batch if isinstance(m, Observation)]
        evts = [m for m in batch if isinstance(m, DeviceEvent)]
        try:
            await self._store.add_messages(obs, evts)  # one transaction: a retry never duplicates
        except Exception as exc:  # the database's many error types all mean "not written"
            return self._failed(count, exc)
        for _ in range(count):
            self._pending.popleft()
        self.written += count
        self.flushes += 1
        self._attempts = 0
        if self._failing:
            self._failing = False
            log.warning("store writer recovered: writing again")
        return True

    def _failed(self, count: int, exc: Exception) -> bool:
        self._attempts += 1
        if not self._failing:
            self._failing = True
            log.error("store writer cannot write a batch of %d: %s", count, exc)
        if self._attempts >= self.max_attempts:
            for _ in range(count):
                self._pending.popleft()
            self.failed += count
            self._attempts = 0
            log.error(
                "store writer gave up a batch of %d after %d attempts: %s",
                count,
                self.max_attempts,
                exc,
            )
        return False
