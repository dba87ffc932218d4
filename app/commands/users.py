"""`iaewatch users add NAME --role nurse|engineer|admin [--password P]` and
`iaewatch users unlock NAME`."""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import Annotated

import typer

from app.commands.db import DatabaseUrl, fail, resolve_database_url
from app.security import check_password, hash_password
from app.store import Store, check_role, check_username
from app.store.rows import Role
from core.clock import RealClock
from core.errors import IaewatchError

users = typer.Typer(help="User accounts.", no_args_is_help=True)


@users.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ -).")],
    role: Annotated[
        str,
        typer.Option("--role", help="nurse, engineer or admin.", show_default=False),
    ],
    password: Annotated[
        str | None,
        typer.Option("--password", help="The password (prompted, hidden, when omitted)."),
    ] = None,
    database_url_: DatabaseUrl = None,
) -> None:
    """Create an account."""
    try:
        check_username(name)
        role_value = check_role(role)
    except ValueError as exc:
        fail(f"error: {exc}", 2)
    url = resolve_database_url(database_url_)
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password)
    except ValueError as exc:
        fail(f"error: {exc}", 2)
    try:
        asyncio.run(_add(url, name, role_value, hash_password(password)))
    except IaewatchError as exc:
        fail(f"error: {exc}", 1)
    print(f"user {name!r} added with role {role_value.value}", file=sys.stdout)


async def _add(url: str, name: str, role: Role, password_hash: str) -> None:
    store = await Store.open(url)
    try:
        await store.add_user(name, role.value, password_hash)
        await store.audit(
            actor=f"cli:{_os_user()}",
            action="user.add",
            target=name,
            details={"role": role.value},
            t=RealClock().now(),
        )
    finally:
        await store.close()


@users.command("unlock")
def unlock_command(
    name: Annotated[str, typer.Argument(help="The account whose login lockout to lift.")],
    database_url_: DatabaseUrl = None,
) -> None:
    """Lift an account's login lockout and backoff (audited as login.unlock), for when no
    admin can sign in to do it through the API."""
    url = resolve_database_url(database_url_)
    try:
        was_locked = asyncio.run(_unlock(url, name))
    except IaewatchError as exc:
        fail(f"error: {exc}", 1)
    print(f"{name!r} {'unlocked' if was_locked else 'was not locked'}", file=sys.stdout)


async def _unlock(url: str, name: str) -> bool:
    from app.login_guard import LoginGuard

    clock = RealClock()
    store = await Store.open(url)
    try:
        was_locked = await LoginGuard(clock).unlock(store, name)
        await store.audit(
            actor=f"cli:{_os_user()}",
            action="login.unlock",
            target=name,
            details={"username": name, "address": None, "was_locked": was_locked},
            t=clock.now(),
        )
    finally:
        await store.close()
    return was_locked


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def register(cli: typer.Typer) -> None:
    cli.add_typer(users, name="users")
