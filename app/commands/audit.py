"""`iaewatch audit verify`: walk the audit log's hash chain; exit 1 at the first broken link."""

from __future__ import annotations

import asyncio

import typer

from app.commands.db import DatabaseUrl, fail, resolve_database_url
from app.store import Store
from app.store.audit_chain import ChainReport
from app.store.url import safe_url
from core.errors import IaewatchError

audit = typer.Typer(help="The audit log.", no_args_is_help=True)


@audit.command("verify")
def verify_command(database_url_: DatabaseUrl = None) -> None:
    """Check every audit row against its hash and the row before it; print the chain head."""
    url = resolve_database_url(database_url_)
    try:
        report = asyncio.run(_verify(url))
    except IaewatchError as exc:
        fail(f"error: {exc}", 2)
    if not report.ok:
        fail(
            f"audit chain BROKEN at {report.problem}; {report.rows - 1} rows before it are intact",
            1,
        )
    print(f"audit chain intact: {report.rows} rows, head {report.head} ({safe_url(url)})")


async def _verify(url: str) -> ChainReport:
    store = await Store.open(url, require_migrated=True)
    try:
        return await store.verify_audit_chain()
    finally:
        await store.close()


def register(cli: typer.Typer) -> None:
    cli.add_typer(audit, name="audit")
