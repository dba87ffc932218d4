"""One module per command group; each exposes `register(cli: typer.Typer) -> None`."""
