"""`Store`: every query iaewatch makes, behind one object (SQLite or PostgreSQL)."""

from __future__ import annotations

import logging

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.store._alerts import AlertQueries
from app.store._beds import BedQueries
from app.store._data import DataQueries
from app.store._dataset import DatasetQueries
from app.store._login_attempts import LoginAttemptQueries
from app.store._retention import RetentionQueries
from app.store._trial import TrialQueries
from app.store._users import UserQueries
from app.store.engine import make_engine
from app.store.errors import StoreNotMigrated, StoreUnavailable
from app.store.migrate import alembic_config, current_revisions, head_revisions
from app.store.url import async_url, safe_url
from core.clock import Clock, RealClock

log = logging.getLogger(__name__)


class Store(
    BedQueries,
    DataQueries,
    AlertQueries,
    UserQueries,
    TrialQueries,
    RetentionQueries,
    DatasetQueries,
    LoginAttemptQueries,
):
    """The database. Open with `await Store.open(url)`; close with `await store.close()`."""

    @classmethod
    async def open(
        cls, url: str, *, require_migrated: bool = True, clock: Clock | None = None
    ) -> Store:
        """Connect to `url` (sqlite+aiosqlite:///PATH or postgresql+asyncpg://...).

        Raises `StoreUnavailable` when the database cannot be reached and `StoreNotMigrated`
        when its schema is not at this code's Alembic head (unless `require_migrated=False`).
        `clock` stamps rows the caller gives no time for (enrolment, account creation).
        """
        url = async_url(url)
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                current = await conn.run_sync(current_revisions)
        except (OSError, SQLAlchemyError) as exc:
            await engine.dispose()
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreUnavailable(
                f"cannot open the database at {safe_url(url)}: {reason}"
            ) from exc
        if require_migrated and current != head_revisions():
            await engine.dispose()
            raise StoreNotMigrated(_not_migrated_message(url, current))
        return cls(engine, clock or RealClock(), url)

    async def close(self) -> None:
        """Close every pooled connection."""
        if self._lane is not None:
            await self._lane.close()
        if self._pg_lane is not None:
            await self._pg_lane.close()
        await self._engine.dispose()

    async def ping(self) -> bool:
        """Whether the database answers (for /ready)."""
        try:
            async with self._read() as conn:
                await conn.execute(text("SELECT 1"))
        except (OSError, SQLAlchemyError) as exc:
            log.warning("database ping failed: %s", exc)
            return False
        return True

    async def at_head(self) -> bool:
        """Whether the schema is at this code's Alembic head (for /ready)."""
        try:
            async with self._read() as conn:
                current = await conn.run_sync(current_revisions)
        except (OSError, SQLAlchemyError) as exc:
            log.warning("database revision check failed: %s", exc)
            return False
        return current == head_revisions()

    @property
    def url(self) -> str:
        """The database URL with any password masked."""
        return safe_url(self._url)


def _not_migrated_message(url: str, current: tuple[str, ...]) -> str:
    head = ", ".join(head_revisions())
    where = safe_url(url)
    if not current:
        return f"the database at {where} has no iaewatch schema: run `iaewatch db upgrade`"
    known = set(current) <= _all_revisions()
    if not known:
        return (
            f"the database at {where} is at revision {', '.join(current)}, which this version "
            f"of iaewatch does not know (head {head}); is it newer than this code?"
        )
    return (
        f"the database at {where} is at revision {', '.join(current)}, not {head}: "
        "run `iaewatch db upgrade`"
    )


def _all_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}
