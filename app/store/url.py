"""Where the database is: one function every command and the service share.

`database_url(explicit)` picks the `--database-url` value, else `IAEWATCH_DATABASE_URL`, else
a SQLite file under `./var/`, and names the async driver (`postgresql://` becomes
`postgresql+asyncpg://`, `sqlite:///` becomes `sqlite+aiosqlite:///`).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from app.store.errors import StoreUnavailable

ENV_VAR = "IAEWATCH_DATABASE_URL"
DEFAULT_URL = "sqlite+aiosqlite:///./var/iaewatch.db"

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def database_url(explicit: str | None = None) -> str:
    """The database URL to use: `explicit`, else the environment, else the default file."""
    raw = explicit or os.environ.get(ENV_VAR) or DEFAULT_URL
    return async_url(raw)


def async_url(url: str) -> str:
    """`url` with its async driver named; `StoreUnavailable` for an unsupported database."""
    parsed = _parse(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        raise StoreUnavailable(
            f"unsupported database URL scheme {parsed.drivername!r}: use "
            "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB"
        )
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """`url` with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    parsed = _parse(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    db = parsed.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite file URL (`./var/` for the default)."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        # the text may hold a password: do not echo it
        raise StoreUnavailable("the database URL cannot be parsed") from None
