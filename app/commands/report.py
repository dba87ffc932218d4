"""`iaewatch report --patient ID [--format pdf|html|csv|json] [--out FILE]`: the 24 h IAE
report of one patient, from the database (or `--scenario NAME`: a sample from a shipped
scenario, in a throwaway database)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.commands.db import DatabaseUrl, fail, resolve_database_url
from app.config import load_config
from app.report import Report, ReportFormat, build_report, render
from app.report.locale import pick_language, pick_zone
from app.store import Store
from core.clock import RealClock
from core.errors import IaewatchError
from monitors import RuleSet, default_ruleset, load_ruleset


def _format(fmt: ReportFormat | None, out: Path | None) -> ReportFormat:
    if fmt is not None:
        return fmt
    if out is not None:
        try:
            return ReportFormat(out.suffix.lstrip(".").lower())
        except ValueError:
            pass
    return ReportFormat.HTML


async def _from_database(
    url: str, study_id: str, ruleset: RuleSet, include_arm: bool, gap_s: float
) -> Report:
    store = await Store.open(url)
    try:
        now = RealClock().now()
        rep = await build_report(
            store, study_id, now, ruleset=ruleset, include_arm=include_arm, gap_s=gap_s
        )
        await store.audit(
            actor="cli",
            action="trial.report",
            target=study_id,
            details={"arm": include_arm},
            t=now,
        )
        return rep
    finally:
        await store.close()


def register(cli: typer.Typer) -> None:
    @cli.command("report")
    def report_cmd(
        patient: Annotated[
            str | None, typer.Option("--patient", help="The patient's study id.")
        ] = None,
        fmt: Annotated[
            ReportFormat | None,
            typer.Option(
                "--format", help="pdf, html, csv or json (default: from --out, else html)."
            ),
        ] = None,
        out: Annotated[
            Path | None, typer.Option("--out", help="Write to FILE (default: standard output).")
        ] = None,
        database_url_: DatabaseUrl = None,
        arm: Annotated[
            bool, typer.Option("--arm", help="Include the trial arm (unblinded copies only).")
        ] = False,
        gap_s: Annotated[
            float, typer.Option("--gap-s", min=1, help="Report data gaps longer than this.")
        ] = 60.0,
        rules: Annotated[
            Path | None, typer.Option("--rules", help="Rule set YAML (default: the shipped set).")
        ] = None,
        scenario: Annotated[
            str | None,
            typer.Option(
                "--scenario",
                help="Instead of the database: a sample from this shipped scenario (or file).",
            ),
        ] = None,
        lang: Annotated[
            str | None,
            typer.Option(
                "--lang", help="en or zh-CN (default: from the LANG environment variable, else en)."
            ),
        ] = None,
        timezone: Annotated[
            str | None,
            typer.Option(
                "--tz",
                "--timezone",
                help=(
                    "Show times in this IANA zone with UTC beside them (e.g. Asia/Shanghai; "
                    "default: the site's zone of IAEWATCH_CONFIG_FILE, else UTC)."
                ),
            ),
        ] = None,
    ) -> None:
        """The 24 h infusion-associated-event report of one patient."""
        if (patient is None) == (scenario is None):
            fail("error: give --patient ID (or --scenario NAME for a sample)", 2)
        try:  # a wrong language or zone fails before any work
            language = pick_language(lang, os.environ.get("LANG"))
            zone = pick_zone(timezone, _site_zone())
        except ValueError as exc:
            fail(f"error: --{exc}", 2)
        except IaewatchError as exc:
            fail(f"error: {exc}", 2)
        kind = _format(fmt, out)
        if kind is ReportFormat.PDF and out is None and sys.stdout.isatty():
            fail("error: a PDF is binary: give --out FILE or redirect standard output", 2)
        try:
            ruleset = default_ruleset() if rules is None else load_ruleset(rules)
            if scenario is not None:
                from app.report.sample import sample_report

                rep = asyncio.run(sample_report(scenario, ruleset, include_arm=arm, gap_s=gap_s))
            else:
                assert patient is not None
                url = resolve_database_url(database_url_)
                rep = asyncio.run(_from_database(url, patient, ruleset, arm, gap_s))
        except KeyError:
            fail(f"error: no patient {patient!r} in the database", 1)
        except (IaewatchError, OSError) as exc:
            fail(f"error: {exc}", 1)
        body = render(rep, kind, lang=language, tz=zone)
        if out is None:
            sys.stdout.buffer.write(body)
            sys.stdout.flush()
            return
        try:
            tmp = out.with_name(out.name + ".part")
            tmp.write_bytes(body)
            tmp.replace(out)
        except OSError as exc:
            fail(f"error: {out}: cannot write: {exc.strerror or exc}", 1)
        alerts = len(rep.alerts)
        print(
            f"{out}: {kind.value} report for {rep.patient['study_id']} "
            f"({rep.iae_count} IAE, {alerts} alerts{'' if rep.complete else ', interim'})",
            file=sys.stderr,
        )


def _site_zone() -> str | None:
    """The site's zone from the ICU config named by IAEWATCH_CONFIG_FILE (None without one)."""
    path = os.environ.get("IAEWATCH_CONFIG_FILE")
    return load_config(path).site.timezone if path else None
