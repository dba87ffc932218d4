"""Failed-login counters (migration 0012), shared by every `serve` on one database.

One row per throttled key: `kind` is `account` (a user name that exists, lower case) or
`address` (a client address). A failed attempt is one short transaction on its row (insert
it if missing, lock it, write its new state); a refused attempt reads and writes nothing
here but its two rows. A row no longer matters after `expires_at` (the lockout's end, or the
end of the window since its last failure) and is pruned by the next failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, delete, select, tuple_
from sqlalchemy.engine import RowMapping

from app.store.base import StoreBase
from app.store.schema import metadata
from app.store.types import UTCDateTime

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("failures", Integer(), nullable=False),
    Column("last_failure", UTCDateTime(), nullable=False),
    Column("not_before", UTCDateTime(), nullable=True),
    Column("locked", Boolean(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_login_attempts_expires_at", "expires_at"),
)


@dataclass(frozen=True, slots=True)
class Attempts:
    """A key's failures: how many, the last, when it may try again, whether it is locked,
    and when the row stops mattering."""

    failures: int
    last_failure: datetime
    not_before: datetime | None
    locked: bool
    expires_at: datetime


Key = tuple[str, str]
"""(`account` or `address`, the name or address)."""


class LoginAttemptQueries(StoreBase):
    async def login_attempts(self, keys: list[Key], now: datetime) -> dict[Key, Attempts]:
        """The live counters of `keys` (expired rows are absent)."""
        c = login_attempts.c
        stmt = select(login_attempts).where(tuple_(c.kind, c.key).in_(keys), c.expires_at > now)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return {(r["kind"], r["key"]): _attempts(r) for r in rows}

    async def count_login_failure(
        self, key: Key, now: datetime, step: Callable[[Attempts | None], Attempts]
    ) -> tuple[Attempts | None, Attempts]:
        """Apply `step` to `key`'s live counter under a row lock; returns (before, after).
        Also prunes expired rows, so the table holds only keys that still matter."""
        kind, name = key
        c = login_attempts.c
        where = (c.kind == kind, c.key == name)
        async with self._write() as conn:
            await conn.execute(delete(login_attempts).where(c.expires_at <= now))
            row = (
                (await conn.execute(select(login_attempts).where(*where).with_for_update()))
                .mappings()
                .one_or_none()
            )
            before = None if row is None else _attempts(row)
            after = step(before)
            values = {
                "failures": after.failures,
                "last_failure": after.last_failure,
                "not_before": after.not_before,
                "locked": after.locked,
                "expires_at": after.expires_at,
            }
            upsert = self._upsert(login_attempts).values(kind=kind, key=name, **values)
            await conn.execute(
                upsert.on_conflict_do_update(index_elements=[c.kind, c.key], set_=values)
            )
        return before, after

    async def clear_login_attempts(self, key: Key, now: datetime) -> bool:
        """Forget `key`'s failures; True when it was locked."""
        c = login_attempts.c
        where = (c.kind == key[0], c.key == key[1])
        async with self._read() as conn:
            if await conn.scalar(select(c.kind).where(*where)) is None:
                return False  # nothing to clear: a sign-in writes nothing here
        async with self._write() as conn:
            locked = await conn.scalar(
                select(c.locked).where(*where, c.expires_at > now).with_for_update()
            )
            await conn.execute(delete(login_attempts).where(*where))
        return bool(locked)

    async def locked_logins(self, kind: str, now: datetime) -> list[str]:
        """The keys of `kind` locked now."""
        c = login_attempts.c
        stmt = select(c.key).where(c.kind == kind, c.locked, c.expires_at > now).order_by(c.key)
        async with self._read() as conn:
            return list((await conn.scalars(stmt)).all())


def _attempts(row: RowMapping) -> Attempts:
    return Attempts(
        failures=row["failures"],
        last_failure=row["last_failure"],
        not_before=row["not_before"],
        locked=bool(row["locked"]),
        expires_at=row["expires_at"],
    )
