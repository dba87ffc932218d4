"""Users and the audit log."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from app.store.audit_chain import GENESIS, ChainReport, verify
from app.store.base import StoreBase
from app.store.errors import DuplicateError
from app.store.rows import AuditRow, Role, UserRow
from app.store.schema import audit_log, users

_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def check_username(username: str) -> str:
    """`username` if it is 1–64 letters, digits or `._@-` (starting with a letter or digit)."""
    if not _USERNAME.fullmatch(username):
        raise ValueError(
            f"invalid user name {username!r}: use 1-64 letters, digits, '.', '_', '@' or '-'"
        )
    return username


def check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValueError(
            f"invalid role {role!r}: must be one of {', '.join(r.value for r in Role)}"
        ) from None


class UserQueries(StoreBase):
    async def add_user(
        self, username: str, role: str, password_hash: str, *, created_at: datetime | None = None
    ) -> None:
        """Create an account. A taken name raises `DuplicateError` (a `ValueError`)."""
        check_username(username)
        role_value = check_role(role)
        if not password_hash:
            raise ValueError("password_hash is empty")
        t = created_at or self._clock.now()
        try:
            async with self._write() as conn:
                taken = await conn.scalar(
                    select(users.c.username).where(users.c.username == username)
                )
                if taken is not None:
                    raise DuplicateError(f"user {username!r} already exists")
                await conn.execute(
                    users.insert().values(
                        username=username,
                        role=role_value.value,
                        password_hash=password_hash,
                        created_at=t,
                        disabled=False,
                    )
                )
        except IntegrityError:  # a concurrent add won the race
            raise DuplicateError(f"user {username!r} already exists") from None

    async def user(self, username: str) -> UserRow | None:
        async with self._read() as conn:
            row = (
                (await conn.execute(select(users).where(users.c.username == username)))
                .mappings()
                .one_or_none()
            )
        return None if row is None else _user(row)

    async def list_users(self) -> list[UserRow]:
        async with self._read() as conn:
            rows = (await conn.execute(select(users).order_by(users.c.username))).mappings()
            return [_user(r) for r in rows]

    async def set_password(self, username: str, password_hash: str) -> None:
        """Replace a user's password hash; unknown user → KeyError."""
        async with self._write() as conn:
            result = await conn.execute(
                update(users)
                .where(users.c.username == username)
                .values(password_hash=password_hash)
            )
            if result.rowcount == 0:
                raise KeyError(username)

    async def audit(
        self,
        *,
        actor: str,
        action: str,
        target: str = "",
        details: dict[str, Any] | None = None,
        t: datetime,
    ) -> None:
        """Append to the audit log."""
        if not actor or not action:
            raise ValueError("audit: actor and action are required")
        async with self._write() as conn:
            await conn.execute(
                audit_log.insert().values(
                    t=t, actor=actor, action=action, target=target, details=details or {}
                )
            )

    async def audit_log(self, limit: int = 200) -> list[AuditRow]:
        """The newest audit entries first."""
        c = audit_log.c
        stmt = select(audit_log).order_by(c.t.desc(), c.id.desc()).limit(limit)
        async with self._read() as conn:
            return [
                AuditRow(
                    id=r["id"],
                    t=r["t"],
                    actor=r["actor"],
                    action=r["action"],
                    target=r["target"],
                    details=dict(r["details"] or {}),
                )
                for r in (await conn.execute(stmt)).mappings()
            ]

    async def verify_audit_chain(self) -> ChainReport:
        """Walk the audit log's hash chain (`app.store.audit_chain.verify`)."""
        async with self._read() as conn:
            rows = (await conn.execute(select(audit_log).order_by(audit_log.c.id))).mappings()
            return verify(rows.all())

    async def audit_head(self) -> tuple[int, str]:
        """How many audit rows there are and the newest row's hash (the chain head), for
        reports and exports to print (`GENESIS` when the log is empty)."""
        c = audit_log.c
        async with self._read() as conn:
            count = await conn.scalar(select(func.count()).select_from(audit_log))
            head = await conn.scalar(select(c.hash).order_by(c.id.desc()).limit(1))
        return int(count or 0), str(head or GENESIS)


def _user(row: RowMapping) -> UserRow:
    return UserRow(
        username=row["username"],
        role=Role(row["role"]),
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        disabled=bool(row["disabled"]),
    )
