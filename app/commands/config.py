"""`iaewatch config check FILE`: validate the ICU configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.config import load_config


def register(cli: typer.Typer) -> None:
    group = typer.Typer(help="The bed/device configuration file.", no_args_is_help=True)

    @group.command("check")
    def check(file: Annotated[Path, typer.Argument(help="ICU configuration YAML.")]) -> None:
        """Validate FILE; errors name file, line and field (exit 2)."""
        icu = load_config(file)  # ConfigError → `error: file:line: field: message`, exit 2
        devices = icu.devices()
        typer.echo(f"{file}: OK — {len(icu.beds)} bed(s), {len(devices)} device(s)")
        for bed in icu.beds:
            parts = ", ".join(f"{d.id} ({d.protocol} {d.address})" for d in bed.devices)
            typer.echo(f"  {bed.bed}: {parts}")
        for ep in icu.outbound:
            typer.echo(f"  outbound {ep.name}: {ep.kind.value} {ep.address}")

    cli.add_typer(group, name="config")
