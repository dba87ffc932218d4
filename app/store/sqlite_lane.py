"""`SqliteLane`: a write transaction on SQLite in one hop to a thread of its own.

Through aiosqlite, every statement of a transaction (BEGIN, each INSERT, COMMIT, the pool's
reset) is a round trip to aiosqlite's thread and back through the event loop. At a busy
station (500 beds: bursts of 14,000 observations a second) a turn of the loop takes some
milliseconds, so a batch of observations held SQLite's one write lock for 100-700 ms, and an
alert commit waiting behind it was pushed that much later. Here the whole transaction runs in
the lane's thread with a blocking connection to the same file (`make_sqlite_sync_engine`: the
same WAL, foreign key, busy timeout and BEGIN IMMEDIATE settings), and the loop waits for it
once. The caller holds the store's write lock meanwhile, so writers still take turns. An
alert's commit runs on the event loop itself instead (`write(urgent=True)`), on a connection
that never waits for a lock: see `SqliteLane.write`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app.store.engine import WRITE_OPTION, make_sqlite_sync_engine

T = TypeVar("T")


class SqliteLane:
    """One thread, one connection: `await lane.write(fn, *args)` runs `fn(conn, *args)` in a
    write transaction (committed when `fn` returns, rolled back if it raises)."""

    def __init__(self, url: str) -> None:
        self._engine = make_sqlite_sync_engine(url).execution_options(**{WRITE_OPTION: True})
        self._here = make_sqlite_sync_engine(url, waits=False).execution_options(
            **{WRITE_OPTION: True}
        )
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-lane")
        self.here = 0
        """Urgent transactions run on the event loop (the others were handed to the lane)."""

    async def write(self, fn: Callable[..., T], *args: object, urgent: bool = False) -> T:
        """`fn(conn, *args)` in a write transaction, in the lane's thread. `urgent` (an
        alert's commit): on the event loop itself, unless another process holds the write
        lock (then in the lane, which waits for it).

        Why: in the lane, an alert's commit took 15 ms, not 2.5, during a burst of numerics,
        for each of its statements handed the GIL back to the busy loop and the lane waited
        up to a switch interval to get it again. On the loop it holds the GIL throughout; the
        loop stalls for the commit (a few ms; its fsync), never for a lock or a checkpoint."""
        if urgent:
            try:
                result = _run(self._here, fn, args)
            except OperationalError as exc:
                if not _locked(exc):
                    raise
            else:
                self.here += 1
                return result
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, _run, self._engine, fn, args
        )

    async def close(self) -> None:
        """Close the connections (the lane's in its thread) and stop the thread."""
        self._here.dispose()
        await asyncio.get_running_loop().run_in_executor(self._thread, self._engine.dispose)
        self._thread.shutdown(wait=True)


def _run(engine: Engine, fn: Callable[..., T], args: tuple[object, ...]) -> T:
    with engine.begin() as conn:
        return fn(conn, *args)


def _locked(exc: OperationalError) -> bool:
    """SQLITE_BUSY: another connection (another process) holds the write lock."""
    return "database is locked" in str(exc.orig) or "database is busy" in str(exc.orig)
