"""`iaewatch demo`: the embedded default — SQLite, migrations, simulated beds, the service."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

DEMO_DATABASE = "sqlite+aiosqlite:///./var/demo.db"


def register(cli: typer.Typer) -> None:
    @cli.command()
    def demo(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="HTTP port of the station.")] = 8000,
        config: Annotated[
            Path | None, typer.Option(help="ICU configuration (default: examples/iaewatch.yaml).")
        ] = None,
        database_url: Annotated[
            str | None,
            typer.Option(help="Database (default: var/demo.db, or IAEWATCH_DATABASE_URL)."),
        ] = None,
    ) -> None:
        """Run a simulated ICU: migrate the database, start simulated beds and the service,
        print the station URL and the demo logins. Ctrl-C stops it."""
        from app.commands.serve import load_settings
        from app.config import load_config
        from app.demo import DEMO_USERS, EXAMPLE_CONFIG, prepare_database, simulated_icu
        from app.runner import build_service, configure_logging, uvicorn_server
        from app.store import Store, upgrade
        from app.store.url import ensure_sqlite_dir

        url = database_url or os.environ.get("IAEWATCH_DATABASE_URL") or DEMO_DATABASE
        settings = load_settings(mode="demo", database_url=url, host=host, port=port)
        configure_logging("WARNING")
        icu = load_config(config or EXAMPLE_CONFIG)

        async def main() -> None:
            from core.clock import RealClock

            ensure_sqlite_dir(url)
            await upgrade(url)
            store = await Store.open(url)
            try:
                await prepare_database(store, icu, RealClock())
            finally:
                await store.close()
            app = build_service(settings, icu, after_pipeline=[simulated_icu(icu, out=_quiet)])
            server = uvicorn_server(app, host, port)
            serving = asyncio.create_task(server.serve())
            while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
                await asyncio.sleep(0.05)
            if serving.done():
                await serving
                raise typer.Exit(1)
            logins = ", ".join(f"{u} / {p} ({r})" for u, r, p in DEMO_USERS)
            typer.echo(f"\niaewatch demo: station at http://{host}:{port}/")
            typer.echo(f"  log in as {logins}")
            typer.echo(f"  beds: {', '.join(b.bed for b in icu.beds)}; database {url}")
            typer.echo("  Ctrl-C to stop.\n")
            await serving

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            typer.echo("iaewatch demo: stopped")


def _quiet(line: str) -> None:
    """Scenario progress lines are for `iaewatch simulate`; the demo keeps the terminal calm."""
