"""Migration 0012 on a database written by 0010: the rows stay, the counters work, and a
downgrade drops only the counters (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy.engine import Connection

from app.login_guard import LoginGuard
from app.store import Store
from app.store.engine import make_engine
from app.store.migrate import alembic_config, upgrade
from app.store.rows import Role
from core.clock import VirtualClock

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def _downgrade(url: str, revision: str) -> None:
    def down(conn: Connection) -> None:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(down)
    finally:
        await engine.dispose()


async def test_upgrade_from_0010_keeps_the_data(empty_url: str) -> None:
    await upgrade(empty_url, "0010")
    old = await Store.open(empty_url, require_migrated=False, clock=VirtualClock(T0))
    try:
        await old.add_user("nina", Role.NURSE, "argon2-hash-of-something")
        await old.audit(actor="ada", action="user.add", target="nina", t=T0)
    finally:
        await old.close()
    await upgrade(empty_url)
    store = await Store.open(empty_url, clock=VirtualClock(T0))
    try:
        assert (await store.user("nina")) is not None
        assert (await store.verify_audit_chain()).ok
        guard = LoginGuard(VirtualClock(T0))
        await guard.failed(store, "nina", "10.0.0.1", known=True)
        assert await store.login_attempts([("account", "nina")], T0) != {}
    finally:
        await store.close()
    await _downgrade(empty_url, "0010")
    again = await Store.open(empty_url, require_migrated=False)
    try:
        assert (await again.user("nina")) is not None
    finally:
        await again.close()
