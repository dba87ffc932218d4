"""`iaewatch demo`: the embedded default — SQLite, migrations, simulated beds, the service."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from app.config import IcuConfig

DEMO_DATABASE = "sqlite+aiosqlite:///./var/demo.db"
DEMO_FILE = Path("var/demo.db")


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
        print the station URL and the demo logins. Ctrl-C stops it.

        Each run starts new patients cleanly: the scenarios replay from their start, so a
        previous run's var/demo.db is kept aside as var/demo-<time>.db (its reports stay
        readable) rather than continued with a second infusion on the same patients."""
        from app.commands.serve import load_settings
        from app.config import load_config
        from app.demo import DEMO_USERS, EXAMPLE_CONFIG, prepare_database, simulated_icu
        from app.runner import build_service, configure_logging, uvicorn_server
        from app.store import Store, upgrade
        from app.store.url import ensure_sqlite_dir

        url = database_url or os.environ.get("IAEWATCH_DATABASE_URL") or DEMO_DATABASE
        if url == DEMO_DATABASE:
            kept = keep_previous_run(DEMO_FILE)
            if kept is not None:
                typer.echo(f"iaewatch demo: the previous run's database is kept as {kept}")
        settings = load_settings(mode="demo", database_url=url, host=host, port=port)
        configure_logging("WARNING")
        icu = load_config(config or EXAMPLE_CONFIG)
        busy = _busy_ports([(host, port), *_listen_addresses(icu)])
        if busy:
            typer.echo(
                f"error: address already in use: {', '.join(busy)} "
                "(is another iaewatch demo running?)",
                err=True,
            )
            raise typer.Exit(2)

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
            typer.echo(f"  other commands on this database: export IAEWATCH_DATABASE_URL={url}")
            typer.echo("  Ctrl-C to stop.\n")
            await serving

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            typer.echo("iaewatch demo: stopped")


def keep_previous_run(db: Path) -> Path | None:
    """Move a previous demo database (with its SQLite side files) to `demo-<time>.db`
    beside it, so that this run starts new patients on an empty database."""
    if not db.exists():
        return None
    stamp = datetime.fromtimestamp(db.stat().st_mtime, UTC).strftime("%Y%m%d-%H%M%S")
    target = db.with_name(f"{db.stem}-{stamp}{db.suffix}")
    n = 1
    while target.exists():
        target = db.with_name(f"{db.stem}-{stamp}-{n}{db.suffix}")
        n += 1
    for suffix in ("-wal", "-shm"):
        side = db.with_name(db.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    db.rename(target)
    return target


def _listen_addresses(icu: IcuConfig) -> list[tuple[str, int]]:
    """Where the demo's simulators (and the HL7 listener) will listen."""
    from drivers.transport import split_host_port

    return sorted({split_host_port(d.address.removeprefix("socket://")) for d in icu.devices()})


def _busy_ports(addresses: list[tuple[str, int]]) -> list[str]:
    busy = []
    for host, port in addresses:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                busy.append(f"{host}:{port}")
    return busy


def _quiet(line: str) -> None:
    """Scenario progress lines are for `iaewatch simulate`; the demo keeps the terminal calm."""
