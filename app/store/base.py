"""What every part of the store shares: the engine, the clock, and how transactions start."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from sqlalchemy import CursorResult, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.store.engine import WRITE_OPTION, in_memory
from app.store.pg_lane import PgLane
from app.store.sqlite_lane import SqliteLane
from core.clock import Clock

T = TypeVar("T")

# pg_advisory_xact_lock key that serialises alert commits across processes, so that seq
# order is commit order (a reader resuming after seq N can never miss a smaller seq that
# commits later). The number is arbitrary but fixed: "iaew" in ASCII.
ALERT_LOCK_KEY = 0x69616577


class StoreBase:
    """Holds the engine; `_read()` and `_write()` hand out connections inside a transaction."""

    def __init__(self, engine: AsyncEngine, clock: Clock, url: str) -> None:
        self._engine = engine
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        self._clock = clock
        self._url = url
        self._sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time anyway: queue our own writers here, not in the busy
        # handler. PostgreSQL: only alert commits queue (see ALERT_LOCK_KEY and PgLane).
        self._write_lock = asyncio.Lock()
        self._alert_lock = asyncio.Lock()
        self._lane = SqliteLane(url) if self._sqlite and not in_memory(url) else None
        self._pg_lane = None if self._sqlite else PgLane(url, ALERT_LOCK_KEY)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return str(self._engine.dialect.name)

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction; committed when the block ends, rolled back on error."""
        lock: contextlib.AbstractAsyncContextManager[Any] = (
            self._write_lock if self._sqlite else contextlib.nullcontext()
        )
        async with lock, self._write_engine.begin() as conn:
            yield conn

    async def _write_blocking(self, fn: Callable[..., T], *args: Any, alerts: bool = False) -> T:
        """`fn(conn, *args)`, written with SQLAlchemy's blocking API, in one write transaction:
        on a SQLite file in the store's lane (one hop to its thread, `app.store.sqlite_lane`;
        `alerts`: on the loop itself when it can), elsewhere on an async connection
        (`run_sync`; `alerts`: under the alert lock, in the PostgreSQL lane,
        `app.store.pg_lane`)."""
        if self._lane is not None:
            async with self._write_lock:
                return await self._lane.write(fn, *args, urgent=alerts)
        if alerts and self._pg_lane is not None:
            async with self._alert_lock:
                return await self._pg_lane.write(fn, *args)
        async with self._write() as conn:
            return await conn.run_sync(fn, *args)

    def _upsert(self, table: Table) -> Any:
        """An INSERT that can take `.on_conflict_do_update/do_nothing` on both dialects."""
        if self._sqlite:
            return sqlite.insert(table)
        return postgresql.insert(table)


def inserted_id(result: CursorResult[Any]) -> int:
    """The autoincrement key of the row a single-row INSERT just added."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("the database reported no key for the inserted row")
    return int(key[0])
