"""Engines with the settings iaewatch relies on.

SQLite: WAL (readers never wait for the writer), foreign keys on, a busy timeout, and
SQLAlchemy (not the sqlite3 module) emitting BEGIN, so that DDL is transactional and write
transactions can start with `BEGIN IMMEDIATE` (taking the write lock up front; a deferred
transaction that upgrades to a writer fails with "database is locked" without waiting).
PostgreSQL: asyncpg, with the same JSON serialiser.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event, pool
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.store.types import json_dumps
from app.store.url import async_url, ensure_sqlite_dir

SQLITE_BUSY_TIMEOUT_MS = 10_000
WRITE_OPTION = "iaewatch_write"
"""Execution option: this connection's transactions will write (SQLite: BEGIN IMMEDIATE)."""


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url` (SQLite file or PostgreSQL), configured as described above."""
    url = async_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        ensure_sqlite_dir(url)
        if in_memory(url):
            # one shared connection, or every checkout would see its own empty database
            kwargs.setdefault("poolclass", pool.StaticPool)
        engine = create_async_engine(url, json_serializer=json_dumps, **kwargs)
        _configure_sqlite(engine.sync_engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, json_serializer=json_dumps, **kwargs)


def in_memory(url: str) -> bool:
    """Whether `url` names an in-memory SQLite database (one per connection)."""
    parsed = make_url(async_url(url))
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def make_sqlite_sync_engine(url: str, *, waits: bool = True) -> Engine:
    """A blocking engine on the same SQLite file as `make_engine(url)`, with its settings
    (for `app.store.sqlite_lane`). `waits` False: no busy timeout ("database is locked" at
    once when another connection writes) and no automatic checkpoint, for a transaction run
    on the event loop itself, which must never wait on a lock or copy the WAL back."""
    parsed = make_url(async_url(url)).set(drivername="sqlite")
    engine = create_engine(parsed, json_serializer=json_dumps, poolclass=pool.SingletonThreadPool)
    _configure_sqlite(engine, waits=waits)
    return engine


def _configure_sqlite(sync_engine: Engine, *, waits: bool = True) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see module doc)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS if waits else 0}")
            if not waits:
                cursor.execute("PRAGMA wal_autocheckpoint=0")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
