"""Users, the audit log, and password hashing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.security import hash_password, needs_rehash, verify_password
from app.store import DuplicateError, Role, Store
from core.clock import VirtualClock
from core.errors import IaewatchError

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def test_add_and_read_a_user(store: Store, clock: VirtualClock) -> None:
    await store.add_user("alice", "nurse", "$argon2id$fake")
    user = await store.user("alice")
    assert user is not None
    assert (user.username, user.role, user.password_hash) == ("alice", Role.NURSE, "$argon2id$fake")
    assert user.created_at == clock.now() and not user.disabled
    assert await store.user("bob") is None
    await store.add_user("bob", "admin", "h")
    assert [u.username for u in await store.list_users()] == ["alice", "bob"]
    await store.set_password("bob", "h2")
    bob = await store.user("bob")
    assert bob is not None and bob.password_hash == "h2"
    with pytest.raises(KeyError):
        await store.set_password("carol", "h")


async def test_duplicate_user_is_a_clear_error(store: Store) -> None:
    await store.add_user("alice", "nurse", "h")
    with pytest.raises(DuplicateError, match="user 'alice' already exists") as info:
        await store.add_user("alice", "admin", "h")
    assert isinstance(info.value, ValueError) and isinstance(info.value, IaewatchError)
    user = await store.user("alice")
    assert user is not None and user.role is Role.NURSE


@pytest.mark.parametrize(
    ("name", "role", "message"),
    [
        ("alice", "janitor", "invalid role 'janitor'"),
        ("", "nurse", "invalid user name"),
        ("has space", "nurse", "invalid user name"),
        ("x" * 65, "nurse", "invalid user name"),
    ],
)
async def test_bad_users_are_refused(store: Store, name: str, role: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        await store.add_user(name, role, "h")
    assert await store.list_users() == []


async def test_audit_log_newest_first(store: Store) -> None:
    await store.audit(
        actor="admin", action="user.add", target="alice", t=T0, details={"role": "nurse"}
    )
    await store.audit(actor="eng", action="device.edit", t=T0 + timedelta(minutes=1))
    await store.audit(actor="eng", action="device.edit", t=T0 + timedelta(minutes=2))
    log = await store.audit_log()
    assert [(r.actor, r.action, r.t - T0) for r in log] == [
        ("eng", "device.edit", timedelta(minutes=2)),
        ("eng", "device.edit", timedelta(minutes=1)),
        ("admin", "user.add", timedelta(0)),
    ]
    assert log[2].details == {"role": "nurse"} and log[2].target == "alice"
    assert log[0].details == {} and log[0].target == ""
    assert len(await store.audit_log(limit=2)) == 2


def test_password_hash_and_verify() -> None:
    h = hash_password("correct horse battery")
    assert h.startswith("$argon2id$") and h != hash_password("correct horse battery")
    assert verify_password("correct horse battery", h)
    assert not verify_password("correct horse batterY", h)
    assert not verify_password("correct horse battery", "not a hash")
    assert not verify_password(h, "correct horse battery")  # arguments swapped: no match
    assert not needs_rehash(h)
    with pytest.raises(ValueError):
        hash_password("")
