"""`iaewatch db upgrade` (Alembic migrations to head) and `iaewatch db current`."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, NoReturn

import typer

from app.store.errors import StoreError
from app.store.migrate import current, head_revisions, upgrade
from app.store.url import database_url, safe_url
from core.errors import IaewatchError

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Database URL (default: $IAEWATCH_DATABASE_URL, else sqlite under ./var/).",
        show_default=False,
    ),
]

db = typer.Typer(help="The database: migrations.", no_args_is_help=True)


@db.command("upgrade")
def upgrade_command(database_url_: DatabaseUrl = None) -> None:
    """Migrate the database to the newest schema (creates it when it does not exist)."""
    url = resolve_database_url(database_url_)
    try:
        at = asyncio.run(upgrade(url))
    except IaewatchError as exc:
        fail(f"error: {exc}", 1)
    except Exception as exc:  # driver errors: one line, not a traceback
        fail(f"error: cannot migrate {safe_url(url)}: {_first_line(exc)}", 1)
    print(f"database at revision {', '.join(at)} (head): {safe_url(url)}")


@db.command("current")
def current_command(database_url_: DatabaseUrl = None) -> None:
    """Print the database's schema revision and this code's head."""
    url = resolve_database_url(database_url_)
    try:
        at = asyncio.run(current(url))
    except Exception as exc:
        fail(f"error: cannot read {safe_url(url)}: {_first_line(exc)}", 1)
    head = ", ".join(head_revisions())
    state = "at head" if at == head_revisions() else "needs `iaewatch db upgrade`"
    print(f"{safe_url(url)}: revision {', '.join(at) or 'none'}, head {head} ({state})")


def register(cli: typer.Typer) -> None:
    cli.add_typer(db, name="db")


def resolve_database_url(explicit: str | None) -> str:
    """`--database-url`, else the environment, else the default; exit 2 if unusable."""
    try:
        return database_url(explicit)
    except StoreError as exc:
        fail(f"error: {exc}", 2)


def fail(message: str, code: int) -> NoReturn:
    """Print one line to stderr and exit with `code` (no traceback at users)."""
    print(message, file=sys.stderr)
    raise typer.Exit(code)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
