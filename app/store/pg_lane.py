"""`PgLane`: alert commits on PostgreSQL in a thread of their own, with their own event loop.

An alert's commit is some seven round trips (the pool's ping, BEGIN, the advisory lock, the
read of the stored alert, the transition appended, COMMIT), and on asyncpg each resumes
through an event loop, two or three turns a round trip. On the service's loop, busy with turns
of 3 ms, a commit took 113 ms against 3 ms on an idle loop (`bench/bench_alert_commit.py`).
In the lane the round trips resume on a loop that has nothing else to do, but between them
the lane's thread must take the GIL back from the busy loop, up to a switch interval each
time: 25 ms. So the service's loop waits for the commit itself, up to `WAIT_HERE_S`, with the
GIL released: 3.3 ms. A commit that takes longer (the first one connects; a slow or distant
database; another instance holding the lock) is then awaited, so the loop never stalls for
longer than that. The caller holds the store's alert lock throughout, so alert commits still
take turns within the process, and the advisory lock orders them across processes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.engine import make_engine

T = TypeVar("T")

WAIT_HERE_S = 0.02
"""How long the service's loop waits for a commit before awaiting it (its longest stall)."""


class PgLane:
    """`await lane.write(fn, *args)` runs `fn(conn, *args)` (SQLAlchemy's blocking API, through
    `run_sync`) in one transaction under the advisory lock `lock_key`, on the lane's thread.
    The thread, its loop and its one connection start with the first write."""

    def __init__(self, url: str, lock_key: int, *, wait_here_s: float = WAIT_HERE_S) -> None:
        self._url = url
        self._lock_key = lock_key
        self._wait_here_s = wait_here_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._engine: AsyncEngine | None = None

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(conn, *args)` in a write transaction on the lane (committed when `fn` returns,
        rolled back if it raises; its exception is raised here)."""
        future = asyncio.run_coroutine_threadsafe(self._write(fn, args), self._started())
        try:
            return future.result(timeout=self._wait_here_s)  # see the module's docstring
        except TimeoutError:
            return await asyncio.wrap_future(future)

    async def close(self) -> None:
        """Close the lane's connection, then stop its loop and thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._dispose(), loop))
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join)
        loop.close()

    def _started(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="pg-lane", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
        return self._loop

    async def _write(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._engine is None:  # made here: asyncpg's connections belong to this loop
            self._engine = make_engine(self._url, pool_size=1, max_overflow=0)
        async with self._engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": self._lock_key})
            return await conn.run_sync(fn, *args)

    async def _dispose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
