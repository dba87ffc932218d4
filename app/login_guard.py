"""Login throttling: per-account and per-address backoff, then a temporary lockout.

Failures are counted in memory per account name and per client address; a key's count is
forgotten after `Policy.window_s` without a failure. The first `free` failures cost nothing;
each further one makes the key wait `backoff_s * 2**k` (capped) before its next attempt; at
`lock_after` failures the key is locked for `lockout_s`. A refused attempt (429 with
`Retry-After`) is answered before any password hashing or database write, so hammering the
login costs the server almost nothing. A success clears the account's (not the address's)
failures. An admin lifts a lockout with `POST /api/auth/unlock` (audited). State is per
process and bounded (`max_keys`, oldest dropped first); a restart clears it
(`docs/security.md`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi import HTTPException, status
from starlette.requests import HTTPConnection

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


ACCOUNT_POLICY = Policy(free=3, lock_after=10)
"""A guessed account: three free tries, then 1, 2, 4 ... s, locked at ten."""
ADDRESS_POLICY = Policy(free=20, lock_after=100)
"""One address may fail on many accounts (a shared ward PC), but not spray guesses."""


@dataclass(slots=True)
class _Record:
    last: datetime
    failures: int = 0
    not_before: datetime | None = None
    locked: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an attempt is refused before its password is checked, and for how long."""

    reason: str
    retry_after_s: int


@dataclass(slots=True)
class _Counter:
    policy: Policy
    max_keys: int
    records: OrderedDict[str, _Record] = field(default_factory=OrderedDict)

    def refusal(self, key: str, now: datetime) -> float | None:
        """Seconds `key` must still wait, or None when it may try."""
        rec = self._live(key, now)
        if rec is None or rec.not_before is None or now >= rec.not_before:
            return None
        return (rec.not_before - now).total_seconds()

    def fail(self, key: str, now: datetime) -> bool:
        """Count a failure; True when it locks the key."""
        rec = self._live(key, now)
        if rec is None:
            rec = self.records[key] = _Record(last=now)
            while len(self.records) > self.max_keys:
                self.records.popitem(last=False)
        self.records.move_to_end(key)
        rec.failures += 1
        rec.last = now
        p = self.policy
        if rec.failures >= p.lock_after:
            rec.not_before = now + timedelta(seconds=p.lockout_s)
            newly = not rec.locked
            rec.locked = True
            return newly
        if rec.failures > p.free:
            delay = min(p.backoff_s * 2 ** (rec.failures - p.free - 1), p.max_backoff_s)
            rec.not_before = now + timedelta(seconds=delay)
        return False

    def clear(self, key: str) -> bool:
        """Forget `key`'s failures; True when it was locked."""
        rec = self.records.pop(key, None)
        return rec is not None and rec.locked

    def locked(self, now: datetime) -> list[str]:
        return [k for k in list(self.records) if (r := self._live(k, now)) and r.locked]

    def _live(self, key: str, now: datetime) -> _Record | None:
        rec = self.records.get(key)
        if rec is None:
            return None
        if rec.locked:
            expired = rec.not_before is not None and now >= rec.not_before
        else:
            expired = (now - rec.last).total_seconds() > self.policy.window_s
        if expired:
            del self.records[key]
            return None
        return rec


class LoginGuard:
    """The throttle in front of `app.auth.login` (one per app, `app.state.login_guard`)."""

    def __init__(
        self,
        clock: Clock,
        *,
        account: Policy = ACCOUNT_POLICY,
        address: Policy = ADDRESS_POLICY,
        max_keys: int = 10_000,
    ) -> None:
        self._clock = clock
        self._accounts = _Counter(account, max_keys)
        self._addresses = _Counter(address, max_keys)

    def check(self, username: str, address: str) -> Refusal | None:
        """A refusal when the account or the address must wait (do not check the password)."""
        now = self._clock.now()
        for what, counter, key in (
            ("account", self._accounts, username.lower()),
            ("address", self._addresses, address),
        ):
            wait = counter.refusal(key, now)
            if wait is not None:
                return Refusal(f"too many failed logins for this {what}", max(1, round(wait)))
        return None

    def failed(self, username: str, address: str) -> list[str]:
        """Count a wrong password; returns what this failure locked (`account`, `address`)."""
        now = self._clock.now()
        locked = []
        if self._accounts.fail(username.lower(), now):
            locked.append("account")
        if self._addresses.fail(address, now):
            locked.append("address")
        return locked

    def succeeded(self, username: str) -> None:
        self._accounts.clear(username.lower())

    def unlock(self, username: str) -> bool:
        """Lift an account's lockout and backoff; True when it was locked."""
        return self._accounts.clear(username.lower())

    def unlock_address(self, address: str) -> bool:
        return self._addresses.clear(address)

    def locked_accounts(self) -> list[str]:
        return self._accounts.locked(self._clock.now())


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
