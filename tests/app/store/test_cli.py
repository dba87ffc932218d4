"""`iaewatch db upgrade|current` and `iaewatch users add`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import typer
from argon2 import PasswordHasher
from typer.testing import CliRunner

from app import security
from app.commands import db, users
from app.security import verify_password
from app.store import Role, Store
from app.store.migrate import head_revisions
from app.store.url import ENV_VAR


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    # cheap argon2 parameters: these tests are about the command, not the hash's cost
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    app = typer.Typer()
    db.register(app)
    users.register(app)
    return app


def run(cli: typer.Typer, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def read_user(url: str, name: str) -> tuple[Role, str] | None:
    async def go() -> tuple[Role, str] | None:
        store = await Store.open(url)
        try:
            user = await store.user(name)
            log = await store.audit_log()
        finally:
            await store.close()
        if user is None:
            return None
        assert log[0].action == "user.add" and log[0].target == name
        return user.role, user.password_hash

    return asyncio.run(go())


def test_default_database_is_created_under_var(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    code, out, _ = run(cli, "db", "upgrade")
    assert code == 0 and f"revision {head_revisions()[0]} (head)" in out
    assert (tmp_path / "var" / "iaewatch.db").is_file()
    code, out, _ = run(cli, "db", "current")
    assert code == 0 and "(at head)" in out


def test_users_add_with_password_and_prompt(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv(ENV_VAR, url)  # the environment names the database
    assert run(cli, "db", "upgrade")[0] == 0
    code, out, _ = run(
        cli, "users", "add", "alice", "--role", "nurse", "--password", "s3cret-pw-long"
    )
    assert code == 0 and "alice" in out
    found = read_user(url, "alice")
    assert found is not None and found[0] is Role.NURSE
    assert verify_password("s3cret-pw-long", found[1])
    code, _, _ = run(
        cli, "users", "add", "bob", "--role", "admin", input="another-pw-long\nanother-pw-long\n"
    )
    assert code == 0
    found = read_user(url, "bob")
    assert (
        found is not None
        and found[0] is Role.ADMIN
        and verify_password("another-pw-long", found[1])
    )


def test_users_add_errors(cli: typer.Typer, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    base = ["--database-url", url]
    code, _, err = run(
        cli, "users", "add", "alice", "--role", "nurse", "--password", "pw-long-enough-1", *base
    )
    assert code == 1 and "run `iaewatch db upgrade`" in err  # not migrated yet
    assert run(cli, "db", "upgrade", *base)[0] == 0
    code, _, err = run(
        cli, "users", "add", "alice", "--role", "janitor", "--password", "pw-long-enough-1", *base
    )
    assert code == 2 and err.strip() == (
        "error: invalid role 'janitor': must be one of "
        "nurse, coordinator, investigator, engineer, admin"
    )
    code, _, err = run(
        cli, "users", "add", "alice", "--role", "nurse", "--password", "short", *base
    )
    assert code == 2 and "12 to 256 characters" in err
    assert (
        run(
            cli, "users", "add", "alice", "--role", "nurse", "--password", "pw-long-enough-1", *base
        )[0]
        == 0
    )
    code, _, err = run(
        cli, "users", "add", "alice", "--role", "admin", "--password", "pw-long-enough-2", *base
    )
    assert code == 1 and "user 'alice' already exists" in err


def test_db_upgrade_errors_are_one_line(cli: typer.Typer) -> None:
    code, _, err = run(cli, "db", "upgrade", "--database-url", "mysql://x@y/z")
    assert code == 2 and "unsupported database URL scheme" in err
    code, _, err = run(cli, "db", "upgrade", "--database-url", "postgresql://u:pw@127.0.0.1:1/none")
    assert code == 1 and err.startswith("error: cannot migrate") and len(err.splitlines()) == 1
    assert ":pw@" not in err
