"""`iaewatch rules check FILE` and `iaewatch rules list [FILE]`: rule sets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError
from monitors import RuleSet, default_ruleset, load_ruleset


def _load(file: Path | None) -> RuleSet:
    try:
        return default_ruleset() if file is None else load_ruleset(file)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


def register(cli: typer.Typer) -> None:
    group = typer.Typer(help="IAE rule sets (YAML).", no_args_is_help=True)

    @group.command("check")
    def check(file: Annotated[Path, typer.Argument(help="Rule set YAML.")]) -> None:
        """Validate FILE: a summary (exit 0), or the error with file:line: field (exit 2)."""
        rs = _load(file)
        typer.echo(f"{file}: OK — {rs.name}: {rs.summary()}")

    @group.command("list")
    def list_rules(
        file: Annotated[
            Path | None, typer.Argument(help="Rule set YAML (default: the shipped set).")
        ] = None,
    ) -> None:
        """One line per rule: id, category, IAE or not, priority, window, persistence."""
        rs = _load(file)
        typer.echo(f"{rs.name} ({rs.file}): {rs.summary()}")
        for r in rs.rules:
            window = f"{r.window_h:g} h" if r.window_h is not None else "any time"
            if r.window_only:
                window += " only"
            hold = f"hold {r.persist_s:g} s" if r.persist_s else "at once"
            kind = "IAE" if r.iae else "warn"
            typer.echo(
                f"  {r.id:<30} {r.category.value:<24} {kind:<4} {r.priority.value:<6} "
                f"{window:<12} {hold:<12} {r.title}"
            )

    cli.add_typer(group, name="rules")
