"""`iaewatch rules check FILE` / `rules list`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import monitors
from app.cli import _register_commands, cli

SHIPPED = Path(monitors.__file__).parent / "rules" / "rulesets" / "ucmsc_ards.yaml"


def test_check_shipped_set() -> None:
    _register_commands()
    res = CliRunner().invoke(cli, ["rules", "check", str(SHIPPED)])
    assert res.exit_code == 0, res.output
    assert "OK" in res.stdout and "protocol IAE" in res.stdout


def test_check_bad_file_names_line_and_field(tmp_path: Path) -> None:
    _register_commands()
    bad = tmp_path / "bad.yaml"
    bad.write_text(SHIPPED.read_text().replace("    window_h: 6\n", "    window_h: six\n", 1))
    res = CliRunner().invoke(cli, ["rules", "check", str(bad)])
    assert res.exit_code == 2
    line = next(i for i, x in enumerate(bad.read_text().splitlines(), 1) if "window_h: six" in x)
    assert f"{bad}:{line}: rules[0].window_h: must be a number" in res.stderr


def test_list_default() -> None:
    _register_commands()
    res = CliRunner().invoke(cli, ["rules", "list"])
    assert res.exit_code == 0
    assert "vasopressor_escalation" in res.stdout and "6 h only" in res.stdout
