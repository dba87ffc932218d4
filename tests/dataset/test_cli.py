"""`iaewatch trial balance|enter|lock|unlock|control` and `iaewatch export`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app.commands import trial_data
from app.dataset.export_odm import validate_odm
from app.store import Store, upgrade
from app.store.rows import Role


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    trial_data.register(app)
    return app


@pytest.fixture
def db(tmp_path: Path, populate: Callable[[Store], Awaitable[None]]) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def go() -> None:
        await upgrade(url)
        store = await Store.open(url)
        try:
            for name, role in (("chen", Role.COORDINATOR), ("dr.li", Role.INVESTIGATOR)):
                await store.add_user(name, role, "not-a-real-hash")
            await populate(store)
        finally:
            await store.close()

    asyncio.run(go())
    return url


def run(cli: typer.Typer, url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--database-url", url])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_lock_enter_with_reason_and_roles(cli: typer.Typer, db: str, tmp_path: Path) -> None:
    form = tmp_path / "outcomes.json"
    form.write_text(json.dumps({"vital_status_d28": "alive"}))
    code, _, err = run(cli, db, "trial", "lock", "C-001", "--by", "chen")
    assert code == 1 and "needs the role investigator" in err
    assert run(cli, db, "trial", "lock", "C-001", "--by", "dr.li")[0] == 0
    code, _, err = run(cli, db, "trial", "enter", "C-001", "outcomes", str(form), "--by", "chen")
    assert code == 1 and "needs a reason" in err
    code, out, _ = run(
        cli,
        db,
        "trial",
        "enter",
        "C-001",
        "outcomes",
        str(form),
        "--by",
        "chen",
        "--reason",
        "source document verified",
    )
    assert code == 0 and "version 2" in out
    form.write_text("{not json")
    code, _, err = run(cli, db, "trial", "enter", "C-001", "outcomes", str(form), "--by", "chen")
    assert code == 2 and "outcomes.json" in err
    code, _, err = run(cli, db, "trial", "unlock", "C-001", "--by", "dr.li", "--reason", "")
    assert code == 1 and "needs a reason" in err


def test_control_balance_and_export(cli: typer.Typer, db: str, tmp_path: Path) -> None:
    code, out, _ = run(
        cli,
        db,
        "trial",
        "control",
        "C-009",
        "--weight-kg",
        "71",
        "--enrolled-at",
        "2026-03-05T09:00:00+08:00",
        "--age",
        "49",
        "--by",
        "chen",
    )
    assert code == 0 and "control" in out
    code, _, err = run(
        cli,
        db,
        "trial",
        "control",
        "C-010",
        "--weight-kg",
        "71",
        "--enrolled-at",
        "yesterday",
        "--by",
        "chen",
    )
    assert code == 2 and "--enrolled-at" in err
    png = tmp_path / "love.png"
    code, out, _ = run(cli, db, "trial", "balance", "--png", str(png))
    assert code == 0 and "SMD before" in out and "treated 1, control 2" in out
    assert png.read_bytes().startswith(b"\x89PNG")
    code, out, _ = run(
        cli, db, "export", "--format", "odm", "--out", str(tmp_path / "o"), "--by", "chen"
    )
    assert code == 0 and "audit chain head" in out
    assert validate_odm((tmp_path / "o" / "dataset_odm.xml").read_bytes()) == []
    code, _, err = run(
        cli, db, "export", "--format", "csv", "--out", str(tmp_path / "c"), "--by", "chen", "--arm"
    )
    assert code == 1 and "admin" in err
