"""Login throttling: backoff, lockout (even the right password is refused), audited unlock;
counters in the database, so a restart or a second instance changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import typer
from pgschema import migrated_database
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.commands import users
from app.context import AppContext
from app.login_guard import ACCOUNT_POLICY, ADDRESS_POLICY, LoginGuard
from app.security import hash_password
from app.settings import Settings
from app.store import Store
from app.store._login_attempts import login_attempts
from app.store.rows import Role
from core.clock import VirtualClock

LOGIN = "/api/auth/login"
PASSWORD = "correct horse battery staple"  # the api conftest's users


async def _try(client: httpx.AsyncClient, user: str, password: str) -> httpx.Response:
    return await client.post(LOGIN, json={"username": user, "password": password})


async def _rows(store: Store) -> list[tuple[str, str, int]]:
    c = login_attempts.c
    async with store._read() as conn:
        rows = await conn.execute(select(c.kind, c.key, c.failures).order_by(c.kind, c.key))
        return [(r[0], r[1], r[2]) for r in rows]


async def test_wrong_passwords_back_off_then_lock_the_account(
    client: httpx.AsyncClient, vclock: VirtualClock, admin: dict[str, str]
) -> None:
    codes = []
    for _ in range(ACCOUNT_POLICY.lock_after):
        codes.append((await _try(client, "nina", "wrong")).status_code)
        await vclock.advance(ACCOUNT_POLICY.max_backoff_s)  # wait out each backoff
    assert codes == [401] * ACCOUNT_POLICY.lock_after
    locked = await _try(client, "nina", PASSWORD)  # the right password no longer works
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 60
    assert "account" in locked.json()["detail"]
    audit = (await client.get("/api/audit", headers=admin)).json()
    assert audit[0]["action"] == "login.locked"
    assert audit[0]["details"]["locked"] == ["account"]

    r = await client.post("/api/auth/unlock", json={"username": "nina"}, headers=admin)
    assert r.status_code == 200 and r.json() == {"was_locked": True}
    assert (await _try(client, "nina", PASSWORD)).status_code == 200
    actions = [
        (e["action"], e["actor"]) for e in (await client.get("/api/audit", headers=admin)).json()
    ]
    assert actions[:2] == [("login", "nina"), ("login.unlock", "ada")]


async def test_refused_attempts_cost_no_hash_and_no_write(
    client: httpx.AsyncClient, ctx: AppContext, vclock: VirtualClock, admin: dict[str, str]
) -> None:
    for _ in range(ACCOUNT_POLICY.free + 1):
        assert (await _try(client, "eric", "wrong")).status_code == 401
    before = len((await client.get("/api/audit", headers=admin)).json())
    rows = await _rows(ctx.store)
    assert rows == [
        ("account", "eric", ACCOUNT_POLICY.free + 1),
        ("address", "127.0.0.1", ACCOUNT_POLICY.free + 1),
    ]
    refused = [(await _try(client, "eric", "wrong")).status_code for _ in range(50)]
    assert refused == [429] * 50
    # refused attempts write nothing: not the audit log, not the counters
    assert len((await client.get("/api/audit", headers=admin)).json()) == before
    assert await _rows(ctx.store) == rows
    await vclock.advance(ACCOUNT_POLICY.backoff_s)
    assert (await _try(client, "eric", PASSWORD)).status_code == 200  # a success clears it
    assert [k for k, *_ in await _rows(ctx.store)] == ["address"]
    assert (await _try(client, "eric", "wrong")).status_code == 401


async def test_unknown_accounts_add_no_rows(client: httpx.AsyncClient, ctx: AppContext) -> None:
    for i in range(ADDRESS_POLICY.free):
        assert (await _try(client, f"nobody{i}", "wrong")).status_code == 401
    assert await _rows(ctx.store) == [("address", "127.0.0.1", ADDRESS_POLICY.free)]


async def test_lockout_expires(client: httpx.AsyncClient, vclock: VirtualClock) -> None:
    for _ in range(ACCOUNT_POLICY.lock_after):
        await _try(client, "nina", "wrong")
        await vclock.advance(ACCOUNT_POLICY.max_backoff_s)
    assert (await _try(client, "nina", PASSWORD)).status_code == 429
    await vclock.advance(ACCOUNT_POLICY.lockout_s)
    assert (await _try(client, "nina", PASSWORD)).status_code == 200


async def test_only_admins_unlock(client: httpx.AsyncClient, nurse: dict[str, str]) -> None:
    r = await client.post("/api/auth/unlock", json={"username": "nina"}, headers=nurse)
    assert r.status_code == 403
    assert (await client.post("/api/auth/unlock", json={}, headers=nurse)).status_code in (
        403,
        422,
    )


T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def two_stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Store]]:
    """Two `serve` instances' stores on one database."""
    async with migrated_database(request.param, tmp_path) as url:
        one, two = await Store.open(url), await Store.open(url)
        try:
            await one.add_user("nina", Role.NURSE, hash_password(PASSWORD))
            yield one, two
        finally:
            await one.close()
            await two.close()


async def test_two_instances_and_a_restart_share_the_counters(
    two_stores: tuple[Store, Store],
) -> None:
    one, two = two_stores
    clock = VirtualClock(T0)
    first, second = LoginGuard(clock), LoginGuard(clock)
    locked: list[str] = []
    for i in range(ACCOUNT_POLICY.lock_after):  # the guesses alternate between instances
        guard, store = (first, one) if i % 2 else (second, two)
        assert await guard.check(store, "Nina", "10.0.0.9") is None
        locked += await guard.failed(store, "Nina", "10.0.0.9", known=True)
        clock.set(clock.now() + timedelta(seconds=ACCOUNT_POLICY.max_backoff_s))
    assert locked == ["account"]
    restarted = LoginGuard(clock)  # a restart: a new guard, the same database
    for store in (one, two):
        refusal = await restarted.check(store, "nina", "10.0.0.77")
        assert refusal is not None and "account" in refusal.reason
    assert await restarted.locked_accounts(two) == ["nina"]
    assert await restarted.unlock(one, "nina")
    assert await first.check(two, "nina", "10.0.0.77") is None


async def test_one_address_spraying_many_accounts_is_locked(
    two_stores: tuple[Store, Store],
) -> None:
    store, _ = two_stores
    clock = VirtualClock(T0)
    guard = LoginGuard(clock)
    locked: list[str] = []
    for i in range(ADDRESS_POLICY.lock_after):
        assert await guard.check(store, f"user{i}", "10.0.0.9") is None
        locked += await guard.failed(store, f"user{i}", "10.0.0.9", known=False)
        clock.set(clock.now() + timedelta(seconds=ADDRESS_POLICY.max_backoff_s))
    assert locked == ["address"]
    refusal = await guard.check(store, "someone", "10.0.0.9")
    assert refusal is not None and "address" in refusal.reason
    assert await guard.check(store, "someone", "10.0.0.10") is None
    assert await guard.unlock_address(store, "10.0.0.9")
    assert await guard.check(store, "someone", "10.0.0.9") is None


async def test_expired_counters_are_pruned(two_stores: tuple[Store, Store]) -> None:
    store, _ = two_stores
    clock = VirtualClock(T0)
    guard = LoginGuard(clock)
    for i in range(500):
        await guard.failed(store, "nina", f"10.0.{i // 256}.{i % 256}", known=False)
    clock.set(T0 + timedelta(seconds=ADDRESS_POLICY.window_s + 1))
    await guard.failed(store, "nina", "10.9.9.9", known=True)
    async with store._read() as conn:
        count = await conn.scalar(select(func.count()).select_from(login_attempts))
    assert count == 2  # the new address and the account; the 500 old addresses are gone


async def test_the_cli_unlocks_when_no_admin_can_sign_in(
    client: httpx.AsyncClient, vclock: VirtualClock, settings: Settings, admin: dict[str, str]
) -> None:
    for _ in range(ACCOUNT_POLICY.lock_after):
        await _try(client, "ada", "wrong")
        await vclock.advance(ACCOUNT_POLICY.max_backoff_s)
    assert (await _try(client, "ada", PASSWORD)).status_code == 429
    cli = typer.Typer()
    users.register(cli)
    url = settings.database_url
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["users", "unlock", "ada", "--database-url", url]
    )
    # (the CLI reads the real clock, this app a virtual one: it says "was not locked" here)
    assert result.exit_code == 0 and result.stdout.startswith("'ada' ")
    assert (await _try(client, "ada", PASSWORD)).status_code == 200
    entries = (await client.get("/api/audit", headers=admin)).json()
    unlock = next(e for e in entries if e["action"] == "login.unlock")
    assert unlock["actor"].startswith("cli:") and unlock["target"] == "ada"
