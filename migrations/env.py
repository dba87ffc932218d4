"""Alembic environment for iaewatch (async engines: aiosqlite, asyncpg).

Normally run through `app.store.migrate`, which passes an open connection in
`config.attributes["connection"]`; run standalone (the `alembic` command with a config that
sets `sqlalchemy.url`), it makes its own async engine, as Alembic's asyncio cookbook shows.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from app.store._partitions import declared_object
from app.store.engine import WRITE_OPTION, make_engine
from app.store.schema import metadata
from app.store.url import database_url

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        include_object=declared_object,
        # SQLite alters tables by copying them; the engine emits BEGIN itself, so DDL is
        # transactional there as well: a failed upgrade leaves the schema as it was.
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = config.get_main_option("sqlalchemy.url") or database_url(None)
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE_OPTION: True})
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(_run_async())
    else:
        _run(connection)


if context.is_offline_mode():
    raise SystemExit("iaewatch migrations run online only (no --sql mode)")
run_migrations_online()
