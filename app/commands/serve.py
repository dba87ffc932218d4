"""`iaewatch serve`: the service, with devices from the configuration file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from core.errors import IaewatchError

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; a bad value is one clear line and exit 2."""
    from app.settings import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            print(f"error: {where}: {err['msg']}", file=sys.stderr)
        raise typer.Exit(2) from None


def _check_database(url: str) -> None:
    """Refuse to start, with one clear line, on a database that is unreachable or not
    migrated to head (the app's lifespan checks again; this keeps tracebacks from users)."""
    import asyncio

    from app.store import Store

    async def check() -> None:
        store = await Store.open(url)
        await store.close()

    try:
        asyncio.run(check())
    except IaewatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


def register(cli: typer.Typer) -> None:
    @cli.command()
    def serve(
        host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
        port: Annotated[int | None, typer.Option(help="HTTP port.")] = None,
        config: Annotated[
            Path | None,
            typer.Option("--config", help="ICU configuration (beds and devices), YAML."),
        ] = None,
        rules: Annotated[
            Path | None, typer.Option(help="Rule set YAML (default: the trial's ucmsc_ards).")
        ] = None,
    ) -> None:
        """Run the service: devices from --config, station page at http://HOST:PORT/."""
        from app.config import load_config
        from app.runner import build_service, configure_logging, uvicorn_server

        settings = load_settings(host=host, port=port, config_file=config)
        configure_logging()
        icu = None
        if settings.config_file is not None:
            icu = load_config(settings.config_file)  # ConfigError → file:line: field: message
        else:
            log.warning("no --config: serving the API and station without devices")
        if rules is not None:
            from monitors import load_ruleset

            load_ruleset(rules)  # refuse to start on an invalid rule set
        _check_database(settings.database_url)
        app = build_service(settings, icu, rules=rules)
        tls = {"ssl_certfile": settings.tls_certfile, "ssl_keyfile": settings.tls_keyfile}
        server = uvicorn_server(app, settings.host, settings.port, **tls)
        scheme = "https" if settings.tls_certfile else "http"
        print(f"iaewatch: station at {scheme}://{settings.host}:{settings.port}/", flush=True)
        server.run()
        if not server.started:
            raise typer.Exit(1)
