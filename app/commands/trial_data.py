"""The trial dataset from the command line (docs/dataset.md):

    iaewatch trial balance [--png FILE]                 SMD table + Love plot (PNG)
    iaewatch trial enter STUDY_ID FORM FILE.json --by USER [--reason TEXT]
    iaewatch trial lock STUDY_ID --by USER              (an investigator)
    iaewatch trial unlock STUDY_ID --by USER --reason TEXT
    iaewatch trial control STUDY_ID --weight-kg W --enrolled-at TIME --by USER
    iaewatch export --format csv|redcap|odm|sdtm --out DIR --by USER [--arm] [--schedule FILE]

`--by` names an account of the database; its role is checked as the API checks it
(entry and export: coordinator, investigator or admin; locks: investigator; `--arm`: admin).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from app.commands.db import DatabaseUrl, fail, resolve_database_url
from app.dataset.assemble import assemble_all
from app.dataset.balance import Balance, love_plot
from app.dataset.export import ExportFormat, build_export, write_files
from app.dataset.matching import trial_balance
from app.dataset.records import FormError, register_control, save_form, set_lock
from app.dataset.schedule import DEFAULT, load_schedule
from app.store import Store
from app.store._dataset import RecordLocked
from app.store.rows import Arm, Role
from core.clock import RealClock
from core.errors import IaewatchError
from core.records import parse_time

T = TypeVar("T")
ENTRY = frozenset({Role.COORDINATOR, Role.INVESTIGATOR, Role.ADMIN})

trial = typer.Typer(
    help="The trial dataset: balance, entry, locks, controls.", no_args_is_help=True
)
By = Annotated[str, typer.Option("--by", help="The account doing this (its role is checked).")]


def _run(url: str, job: Callable[[Store], Awaitable[T]]) -> T:
    async def go() -> T:
        store = await Store.open(url)
        try:
            return await job(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except KeyError as exc:
        fail(f"error: no patient {exc.args[0]}", 1)
    except (FormError, RecordLocked, ValueError) as exc:
        fail(f"error: {exc}", 1)
    except IaewatchError as exc:
        fail(f"error: {exc}", 2)


async def _require(store: Store, by: str, roles: frozenset[Role]) -> None:
    user = await store.user(by)
    if user is None or user.disabled:
        raise ValueError(f"no active account {by!r}")
    if Role(user.role) not in roles:
        names = " or ".join(sorted(r.value for r in roles))
        raise ValueError(f"{by} is a {user.role}: this needs the role {names}")


def _time(text: str, option: str) -> datetime:
    try:
        return parse_time(text)
    except IaewatchError:
        fail(f"error: {option}: {text!r} is not an ISO 8601 time with a zone", 2)


@trial.command("balance")
def balance_command(
    png: Annotated[Path, typer.Option("--png", help="Where to write the Love plot.")] = Path(
        "love-plot.png"
    ),
    database_url_: DatabaseUrl = None,
) -> None:
    """SMD of each covariate between the cell arm and the controls, before and after a
    nearest-neighbour match on the logit of the propensity score; and the Love plot."""

    async def job(store: Store) -> Balance:
        return trial_balance(await assemble_all(store))

    result = _run(resolve_database_url(database_url_), job)
    print(result.table(), end="")
    png.write_bytes(love_plot(result))
    print(f"Love plot: {png}")


@trial.command("enter")
def enter_command(
    study_id: str,
    form: str,
    file: Annotated[Path, typer.Argument(help="The form's data as JSON.")],
    by: By,
    reason: Annotated[str | None, typer.Option(help="Needed once the record is locked.")] = None,
    database_url_: DatabaseUrl = None,
) -> None:
    """Save a new version of a patient's form (outcomes, covariates, biomarkers)."""
    try:
        payload: Any = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"error: {file}: {exc}", 2)

    async def job(store: Store) -> int:
        await _require(store, by, ENTRY)
        now = RealClock().now()
        row = await save_form(store, study_id, form, payload, by=by, t=now, reason=reason)
        return row.version

    version = _run(resolve_database_url(database_url_), job)
    print(f"{study_id} {form}: version {version}")


def _lock(study_id: str, by: str, locked: bool, reason: str | None, url: str | None) -> None:
    async def job(store: Store) -> None:
        await _require(store, by, frozenset({Role.INVESTIGATOR}))
        await set_lock(store, study_id, locked=locked, by=by, t=RealClock().now(), reason=reason)

    _run(resolve_database_url(url), job)
    print(f"{study_id}: {'locked' if locked else 'unlocked'} by {by}")


@trial.command("lock")
def lock_command(
    study_id: str, by: By, reason: str | None = None, database_url_: DatabaseUrl = None
) -> None:
    """Lock a patient's record: later edits need a reason and are kept as versions."""
    _lock(study_id, by, True, reason, database_url_)


@trial.command("unlock")
def unlock_command(
    study_id: str,
    by: By,
    reason: Annotated[str, typer.Option(help="Why the record is opened again.")],
    database_url_: DatabaseUrl = None,
) -> None:
    """Unlock a patient's record."""
    _lock(study_id, by, False, reason, database_url_)


@trial.command("control")
def control_command(
    study_id: str,
    weight_kg: Annotated[float, typer.Option("--weight-kg")],
    enrolled_at: Annotated[str, typer.Option("--enrolled-at", help="Day 0, ISO 8601 with zone.")],
    by: By,
    age: Annotated[int | None, typer.Option("--age")] = None,
    ards_onset: Annotated[str | None, typer.Option("--ards-onset")] = None,
    arm: Annotated[str, typer.Option(help="saline, or unknown when blinded.")] = "saline",
    database_url_: DatabaseUrl = None,
) -> None:
    """Register a control patient (no bed, no infusion)."""
    t0 = _time(enrolled_at, "--enrolled-at")
    onset = None if ards_onset is None else _time(ards_onset, "--ards-onset")
    if arm not in ("saline", "unknown"):
        fail("error: --arm must be saline or unknown", 2)

    async def job(store: Store) -> None:
        await _require(store, by, ENTRY)
        await register_control(
            store,
            study_id=study_id,
            weight_kg=weight_kg,
            enrolled_at=t0,
            arm=Arm(arm),
            age_years=age,
            ards_onset=onset,
            by=by,
            t=RealClock().now(),
        )

    _run(resolve_database_url(database_url_), job)
    print(f"{study_id}: registered as a control")


def export_command(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv, redcap, odm or sdtm.")],
    out: Annotated[Path, typer.Option("--out", help="The folder to write the files to.")],
    by: By,
    arm: Annotated[bool, typer.Option("--arm", help="Include the arm (admin only).")] = False,
    schedule: Annotated[
        Path, typer.Option("--schedule", help="The biomarker schedule (YAML).")
    ] = DEFAULT,
    database_url_: DatabaseUrl = None,
) -> None:
    """Export the whole trial dataset; the manifest states the audit chain head."""
    sched = load_schedule(schedule)

    async def job(store: Store) -> str:
        await _require(store, by, frozenset({Role.ADMIN}) if arm else ENTRY)
        files, prov = await build_export(store, fmt, include_arm=arm, schedule=sched)
        await store.audit(
            actor=by,
            action="dataset.export",
            target=fmt.value,
            details={"arm": arm, "chain_head": prov.chain_head},
            t=RealClock().now(),
        )
        paths = write_files(files, out)
        return f"{len(paths)} files in {out}; audit chain head {prov.chain_head}"

    print(_run(resolve_database_url(database_url_), job))


def register(cli: typer.Typer) -> None:
    cli.add_typer(trial, name="trial")
    cli.command("export")(export_command)
