"""Alembic, driven from code so that `iaewatch db upgrade` works from any directory.

The `Config` is built here with `script_location` pointing at the `migrations` package; the
environment there (`migrations/env.py`) reuses the connection this module hands it, so an
upgrade can run inside an event loop that is already running (the `demo` command, tests).
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

import migrations
from app.store.engine import WRITE_OPTION, make_engine
from app.store.url import async_url


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for our `migrations` package (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_migrations_dir()))
    if url is not None:
        # ConfigParser interpolation: a literal % in a password must be doubled
        cfg.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return cfg


def _migrations_dir() -> Path:
    # __path__, not __file__: an editable install made before migrations/__init__.py existed
    # still imports the folder as a namespace package, which has no __file__.
    for entry in migrations.__path__:
        if (Path(entry) / "env.py").is_file():
            return Path(entry)
    raise RuntimeError("the migrations package has no env.py")  # a broken install


@functools.cache
def head_revisions() -> tuple[str, ...]:
    """The revision(s) this code's schema corresponds to."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


def current_revisions(conn: Connection) -> tuple[str, ...]:
    """The revision(s) stamped in the database (empty for an unmigrated one)."""
    return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


async def upgrade(url: str, revision: str = "heads") -> tuple[str, ...]:
    """Migrate the database at `url` to `revision`; returns the revisions it is at after."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE_OPTION: True})
            await conn.run_sync(_upgrade, alembic_config(url), revision)
            return await conn.run_sync(current_revisions)
    finally:
        await engine.dispose()


async def current(url: str) -> tuple[str, ...]:
    """The revision(s) the database at `url` is at."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(current_revisions)
    finally:
        await engine.dispose()


def _upgrade(conn: Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)
