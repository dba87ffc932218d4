"""The `iaewatch` console script.

Each module in `app/commands/` contributes its commands through `register(app)`, so adding a
command never touches this file. Errors users cause are printed as one clear line with a
non-zero exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

import app.commands
from core.errors import ConfigError, IaewatchError

cli = typer.Typer(
    name="iaewatch",
    help="Bedside infusion-associated-event monitoring for the UCMSC-in-ARDS trial.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register_commands() -> None:
    for mod in sorted(pkgutil.iter_modules(app.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"app.commands.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(cli)


def main() -> None:
    """Entry point of the console script."""
    _register_commands()
    try:
        cli()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except IaewatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
