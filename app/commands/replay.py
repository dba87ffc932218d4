"""`iaewatch replay FILE.jsonl... [--rules FILE] [--summary]`: recorded streams → alert
transitions, or their alert burden.

Records (core.records, several beds interleaved, in time order) are fed to the trial's engine
(`monitors.build_engine`: the rule set and the study order check, as `serve` runs it) through
`monitors.Stepper`, the loop the service runs: time advances to each record's time and the
engine ticks at every whole second on the way, and to the last record's time at the end. Each
alert transition is one JSON object on stdout (`core.records.alert_record`, the shape of the
REST API and the station websocket; `seq` is null: nothing is committed). A malformed line or
time going backwards stops the replay with the line number on stderr (exit 2). Alerts still
active at the end of the file stay active: no end is invented.

Several files are replayed one after the other, each through a fresh engine (one file is one
recording: `iaewatch import` writes one per ICU stay). `--summary` prints, instead of the
transitions, the alert starts per patient-hour by category and priority, inside and outside
the monitoring window (`app.burden`).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Annotated

import typer

from app.burden import Burden
from core.errors import ConfigError, RecordError
from core.model import Alert, DeviceEvent, Observation
from core.records import alert_record, format_time, parse_record
from monitors import RuleSet, Stepper, TrialEngine, build_engine, default_ruleset, load_ruleset


def read_records(
    lines: Iterable[bytes], *, progress: Callable[[int], None] | None = None
) -> Iterable[Observation | DeviceEvent]:
    """The records of a recorded stream, in order; RecordError (with the line number) on a
    malformed line or time going backwards."""
    last_t: datetime | None = None
    for n, raw in enumerate(lines, start=1):
        if progress is not None:
            progress(len(raw))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RecordError("not UTF-8 text", line=n) from None
        if not text or text.isspace():  # a blank line (the test strip() would make, copy-free)
            continue
        msg = parse_record(text, line=n)
        if last_t is not None and msg.t < last_t:
            raise RecordError(
                f"time goes backwards: {format_time(msg.t)} after {format_time(last_t)}", line=n
            )
        last_t = msg.t
        yield msg


def replay(
    lines: Iterable[bytes],
    engine: TrialEngine,
    emit: Callable[[Alert], None],
    *,
    progress: Callable[[int], None] | None = None,
    see: Callable[[Observation | DeviceEvent], None] | None = None,
) -> tuple[int, int]:
    """Feed `lines` to `engine` through the service's loop, emitting transitions (and showing
    each record to `see` first); returns (records, transitions). Raises RecordError (with the
    line number) on a bad line."""
    stepper = Stepper(engine)
    last_t: datetime | None = None
    records = transitions = 0
    for msg in read_records(lines, progress=progress):
        records += 1
        last_t = msg.t
        if see is not None:
            see(msg)
        for a in stepper.feed(msg):
            emit(a)
            transitions += 1
    if last_t is not None:
        for a in stepper.advance(last_t):
            emit(a)
            transitions += 1
    return records, transitions


def _ruleset(rules: Path | None) -> RuleSet:
    return default_ruleset() if rules is None else load_ruleset(rules)


def _replay_one(
    file: Path,
    engine: TrialEngine,
    emit: Callable[[Alert], None],
    see: Callable[[Observation | DeviceEvent], None] | None,
) -> None:
    """Replay one file ('-' = stdin); a progress bar on a terminal. Exit 2 on bad input."""
    name = "<stdin>" if str(file) == "-" else str(file)
    try:
        stream: IO[bytes] = sys.stdin.buffer if name == "<stdin>" else file.open("rb")
    except OSError as exc:
        print(f"error: {name}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    try:
        if sys.stderr.isatty() and name != "<stdin>":
            size = max(1, file.stat().st_size)
            with typer.progressbar(
                length=size, label=f"replay {file.name}", file=sys.stderr, show_eta=True
            ) as bar:
                replay(stream, engine, emit, progress=bar.update, see=see)
        else:
            replay(stream, engine, emit, see=see)
    except RecordError as exc:
        sys.stdout.flush()
        print(f"error: {name}:{exc.line}: {exc.message}", file=sys.stderr)
        raise typer.Exit(2) from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def register(cli: typer.Typer) -> None:
    @cli.command("replay")
    def replay_cmd(
        files: Annotated[
            list[Path],
            typer.Argument(
                help="Recorded streams, JSON Lines ('-' = stdin); each through a fresh engine."
            ),
        ],
        rules: Annotated[
            Path | None, typer.Option("--rules", help="Rule set YAML (default: the shipped set).")
        ] = None,
        escalate_after: Annotated[
            float | None,
            typer.Option(
                "--escalate-after",
                help="Seconds after which an unacknowledged high-priority alert escalates.",
            ),
        ] = None,
        summary: Annotated[
            bool,
            typer.Option(
                "--summary",
                help="Print the alert burden (starts per patient-hour by category and "
                "priority, inside and outside the monitoring window) instead of transitions.",
            ),
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="With --summary: the summary as one JSON object.")
        ] = False,
    ) -> None:
        """Replay FILEs through the rules engine; one JSON alert transition per line."""
        try:
            ruleset = _ruleset(rules)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        out = sys.stdout
        burden = Burden(timedelta(hours=ruleset.monitoring_window_h))

        def emit(a: Alert) -> None:
            if summary:
                burden.count(a)
            else:
                out.write(json.dumps(alert_record(a), ensure_ascii=False, default=str) + "\n")

        warnings: Counter[str] = Counter()
        for n, file in enumerate(files):
            engine = build_engine(ruleset, escalate_after_s=escalate_after)
            burden.stream = f"{n}:{file}"
            _replay_one(file, engine, emit, burden.see if summary else None)
            warnings.update(engine.warnings)
        if summary:
            text = json.dumps(burden.as_dict()) if as_json else burden.table()
            out.write(text + "\n")
        out.flush()
        if warnings:
            total = sum(warnings.values())
            kinds = ", ".join(f"{k} ×{v}" for k, v in sorted(warnings.items()))
            print(f"warning: {total} sample(s) not used: {kinds}", file=sys.stderr)
