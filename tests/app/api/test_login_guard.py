"""Login throttling: backoff, lockout (even the right password is refused), audited unlock."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.login_guard import ACCOUNT_POLICY, ADDRESS_POLICY, LoginGuard
from core.clock import VirtualClock

LOGIN = "/api/auth/login"
PASSWORD = "correct horse battery staple"  # the api conftest's users


async def _try(client: httpx.AsyncClient, user: str, password: str) -> httpx.Response:
    return await client.post(LOGIN, json={"username": user, "password": password})


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
    assert audit[0]["action"] == "login_failed"
    assert audit[0]["details"]["locked"] == ["account"]

    r = await client.post("/api/auth/unlock", json={"username": "nina"}, headers=admin)
    assert r.status_code == 200 and r.json() == {"was_locked": True}
    assert (await _try(client, "nina", PASSWORD)).status_code == 200
    actions = [
        (e["action"], e["actor"]) for e in (await client.get("/api/audit", headers=admin)).json()
    ]
    assert actions[:2] == [("login", "nina"), ("login.unlock", "ada")]


async def test_backoff_refuses_without_checking(
    client: httpx.AsyncClient, vclock: VirtualClock, admin: dict[str, str]
) -> None:
    for _ in range(ACCOUNT_POLICY.free + 1):
        assert (await _try(client, "eric", "wrong")).status_code == 401
    before = len((await client.get("/api/audit", headers=admin)).json())
    refused = [(await _try(client, "eric", "wrong")).status_code for _ in range(50)]
    assert refused == [429] * 50
    # refused attempts write nothing (no unauthenticated write amplification)
    assert len((await client.get("/api/audit", headers=admin)).json()) == before
    await vclock.advance(ACCOUNT_POLICY.backoff_s)
    assert (await _try(client, "eric", PASSWORD)).status_code == 200  # a success clears it
    assert (await _try(client, "eric", "wrong")).status_code == 401


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


def test_one_address_spraying_many_accounts_is_locked() -> None:
    clock = VirtualClock()
    guard = LoginGuard(clock)
    locked: list[str] = []
    for i in range(ADDRESS_POLICY.lock_after):
        assert guard.check(f"user{i}", "10.0.0.9") is None or i > ADDRESS_POLICY.free
        clock.set(clock.now() + timedelta(seconds=ADDRESS_POLICY.max_backoff_s))
        locked += guard.failed(f"user{i}", "10.0.0.9")
    assert locked == ["address"]
    refusal = guard.check("someone", "10.0.0.9")
    assert refusal is not None and "address" in refusal.reason
    assert guard.check("someone", "10.0.0.10") is None
    assert guard.unlock_address("10.0.0.9")
    assert guard.check("someone", "10.0.0.9") is None


def test_memory_is_bounded() -> None:
    guard = LoginGuard(VirtualClock(), max_keys=100)
    for i in range(10_000):
        guard.failed(f"u{i}", f"10.0.{i // 256}.{i % 256}")
    assert len(guard._accounts.records) == 100 and len(guard._addresses.records) == 100
