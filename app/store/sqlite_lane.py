"""`SqliteLane`: a write transaction on SQLite in one hop to a thread of its own.

Through aiosqlite, every statement of a transaction (BEGIN, each INSERT, COMMIT, the pool's
reset) is a round trip to aiosqlite's thread and back through the event loop. At a busy
station (500 beds: bursts of 14,000 observations a second) a turn of the loop takes some
milliseconds, so a batch of observations held SQLite's one write lock for 100-700 ms, and an
alert commit waiting behind it was pushed that much later. Here the whole transaction runs in
the lane's thread with a blocking connection to the same file (`make_sqlite_sync_engine`: the
same WAL, foreign key, busy timeout and BEGIN IMMEDIATE settings), and the loop waits for it
once. The caller holds the store's write lock meanwhile, so writers still take turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from app.store.engine import WRITE_OPTION, make_sqlite_sync_engine

T = TypeVar("T")


class SqliteLane:
    """One thread, one connection: `await lane.write(fn, *args)` runs `fn(conn, *args)` in a
    write transaction (committed when `fn` returns, rolled back if it raises)."""

    def __init__(self, url: str) -> None:
        self._engine = make_sqlite_sync_engine(url).execution_options(**{WRITE_OPTION: True})
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-lane")

    async def write(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, self._transaction, fn, args
        )

    def _transaction(self, fn: Callable[..., T], args: tuple[object, ...]) -> T:
        with self._engine.begin() as conn:
            return fn(conn, *args)

    async def close(self) -> None:
        """Close the connection (in its thread) and stop the thread."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._engine.dispose)
        self._thread.shutdown(wait=True)
