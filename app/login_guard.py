"""Login throttling: per-account and per-address backoff, then a temporary lockout.

Failures are counted per account (a user name that exists) and per client address in the
database (`app.store._login_attempts`), so a restart forgets nothing and two `serve`
instances on one PostgreSQL count together. A key's count is forgotten after
`Policy.window_s` without a failure. The first `free` failures cost nothing; each further one
makes the key wait `backoff_s * 2**k` (capped) before its next attempt; at `lock_after`
failures the key is locked for `lockout_s`.

What an attempt costs the server: a refused one (429 with `Retry-After`) one read of two
rows, no password hash, no write; a wrong password one row update for the address and one
for the account if it exists (an unknown name adds no row), and one audit entry only when
the failure locks something. A success clears the account. An admin lifts a lockout with
`POST /api/auth/unlock` (audited).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import HTTPException, status
from starlette.requests import HTTPConnection

from app.store import Store
from app.store._login_attempts import Attempts, Key
from core.clock import Clock


@dataclass(frozen=True, slots=True)
class Policy:
    """How many failures a key may make, and what they cost it."""

    free: int
    lock_after: int
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    lockout_s: float = 15 * 60.0
    window_s: float = 15 * 60.0

    def after_failure(self, before: Attempts | None, now: datetime) -> Attempts:
        """The counter once one more failure at `now` is counted on `before`."""
        failures = 1 if before is None else before.failures + 1
        if failures >= self.lock_after:
            until = now + timedelta(seconds=self.lockout_s)
            return Attempts(failures, now, until, True, until)
        not_before = None
        if failures > self.free:
            delay = min(self.backoff_s * 2 ** (failures - self.free - 1), self.max_backoff_s)
            not_before = now + timedelta(seconds=delay)
        return Attempts(failures, now, not_before, False, now + timedelta(seconds=self.window_s))


ACCOUNT_POLICY = Policy(free=3, lock_after=10)
"""A guessed account: three free tries, then 1, 2, 4 ... s, locked at ten."""
ADDRESS_POLICY = Policy(free=20, lock_after=100)
"""One address may fail on many accounts (a shared ward PC), but not spray guesses."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an attempt is refused before its password is checked, and for how long."""

    reason: str
    retry_after_s: int


class LoginGuard:
    """The throttle in front of `app.auth.login` (one per app, `app.state.login_guard`)."""

    def __init__(
        self,
        clock: Clock,
        *,
        account: Policy = ACCOUNT_POLICY,
        address: Policy = ADDRESS_POLICY,
    ) -> None:
        self._clock = clock
        self._policies = {"account": account, "address": address}

    async def check(self, store: Store, username: str, address: str) -> Refusal | None:
        """A refusal when the account or the address must wait (do not check the password)."""
        now = self._clock.now()
        keys = _keys(username, address)
        found = await store.login_attempts(list(keys.values()), now)
        for what, key in keys.items():
            rec = found.get(key)
            if rec is not None and rec.not_before is not None and now < rec.not_before:
                wait = (rec.not_before - now).total_seconds()
                return Refusal(f"too many failed logins for this {what}", max(1, round(wait)))
        return None

    async def failed(self, store: Store, username: str, address: str, *, known: bool) -> list[str]:
        """Count a wrong password (on the account only when it exists); returns what this
        failure locked (`account`, `address`)."""
        now = self._clock.now()
        locked = []
        for what, key in _keys(username, address).items():
            if what == "account" and not known:
                continue
            step = functools.partial(self._policies[what].after_failure, now=now)
            before, after = await store.count_login_failure(key, now, step)
            if after.locked and not (before is not None and before.locked):
                locked.append(what)
        return locked

    async def succeeded(self, store: Store, username: str) -> None:
        await store.clear_login_attempts(("account", username.lower()), self._clock.now())

    async def unlock(self, store: Store, username: str) -> bool:
        """Lift an account's lockout and backoff; True when it was locked."""
        return await store.clear_login_attempts(("account", username.lower()), self._clock.now())

    async def unlock_address(self, store: Store, address: str) -> bool:
        return await store.clear_login_attempts(("address", address), self._clock.now())

    async def locked_accounts(self, store: Store) -> list[str]:
        return await store.locked_logins("account", self._clock.now())


def _keys(username: str, address: str) -> dict[str, Key]:
    return {"account": ("account", username.lower()), "address": ("address", address)}


def login_guard(conn: HTTPConnection) -> LoginGuard:
    """The app's guard (made by `app.main.create_app`)."""
    guard: LoginGuard = conn.app.state.login_guard
    return guard


def client_address(conn: HTTPConnection) -> str:
    """The peer address (behind a reverse proxy: run uvicorn with --proxy-headers)."""
    return conn.client.host if conn.client is not None else "unknown"


def too_many(refusal: Refusal) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"{refusal.reason}; try again in {refusal.retry_after_s} s",
        headers={"Retry-After": str(refusal.retry_after_s)},
    )
