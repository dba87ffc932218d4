"""The 24 h report from shipped scenarios replayed under virtual time through the store and
the trial engine (as the pipeline does), in every format, and from the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import typer
from typer.testing import CliRunner

from app.commands import db, report
from app.report import ReportFormat, build_report, render
from app.report.scenario import replay_scenario
from app.store import Store, upgrade
from monitors import default_ruleset
from monitors.trial.order_check import TrialEngine
from simulators.recording import DEFAULT_INFUSION_AT as T0
from simulators.scenario import load_scenario, resolve_scenario

from .conftest import SID


async def _run(store: Store, name: str, *, weight: float) -> None:
    sc = load_scenario(resolve_scenario(name))
    bed = sc.beds[0].name
    await store.upsert_bed(bed)
    await store.enrol_patient(
        bed=bed,
        study_id=SID,
        weight_kg=weight,
        arm="cells",
        ards_onset=T0 - timedelta(hours=50),
        age_years=47,
        enrolled_at=T0 - timedelta(hours=2),
    )
    await replay_scenario(
        store, sc, TrialEngine(default_ruleset()), period=30.0, ack_after_s=90, ack_by="nina"
    )


async def test_full_report_of_a_protocol_iae(store: Store) -> None:
    await _run(store, "ventilatory_escalation", weight=75.0)
    rep = await build_report(store, SID, T0 + timedelta(hours=25), ruleset=default_ruleset())
    assert rep.complete and rep.since == T0 and rep.until == T0 + timedelta(hours=24)

    inf = rep.infusion
    assert inf is not None and inf["started_at"] == T0
    assert 44 <= inf["duration_min"] <= 46 and inf["dose_cells"] == 75e6
    assert inf["volume_delivered_ml"] >= 99 and inf["mean_rate_ml_h"] == 133.0
    assert all(c["ok"] for c in inf["checks"]) and {c["item"] for c in inf["checks"]} == {
        "duration",
        "rate",
        "volume",
        "vtbi",
    }

    # the protocol IAE with its evidence, onset, acknowledgement and end
    [iae] = [a for a in rep.alerts if a["iae"]]
    assert iae["category"] == "ventilatory_escalation"
    assert T0 + timedelta(minutes=105) <= iae["onset"] <= T0 + timedelta(minutes=107)
    assert iae["acked_by"] == "nina" and iae["acked_at"] > iae["onset"]
    assert iae["ended_at"] == T0 + timedelta(hours=6)  # its 6 h window
    assert iae["evidence"]["condition"] and iae["transitions"][0]["phase"] == "start"
    assert any(a["category"] == "hypoxemia" for a in rep.alerts)

    # baseline: the engine's statistic, before the infusion
    base = {b["code"]: b for b in rep.baseline}
    assert 55 <= base["MDC_VENT_CONC_AWAY_O2_INSP"]["value"] <= 65
    assert (
        base["MDC_PULS_OXIM_SAT_O2"]["samples"] >= 5 and base["MDC_PULS_OXIM_SAT_O2"]["needed"] == 5
    )

    # the two scenario blood gases, with the ventilator's FiO2 of their time
    assert [g["fio2_pct"] is not None for g in rep.gases] == [True, True]
    assert rep.gases[1]["fio2_pct"] >= 80  # drawn after FiO2 went up to 85 %
    assert rep.gases[1]["oxygenation_index"] is not None

    assert {c["device"] for c in rep.coverage} == {"monitor", "ventilator", "pump:study"}
    assert all(c["coverage_pct"] == 100.0 and not c["gaps"] for c in rep.coverage)
    assert {"SpO2", "FiO2", "PEEP", "Driving pressure"} <= set(rep.trends)
    assert any("OI(PaO2/FiO2)" in title for title in rep.trends)
    assert "arm" not in rep.patient

    html = render(rep, ReportFormat.HTML).decode()
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert html.count("<svg") == len(rep.trends) and "ventilatory escalation" in html
    assert "nina" in html and "Driving pressure" in html

    pdf = render(rep, ReportFormat.PDF)
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 2

    doc = json.loads(render(rep, ReportFormat.JSON))
    assert doc["schema"] == "iaewatch.report/1" and doc["iae_count"] == 1
    assert doc["infusion"]["started_at"] == "2026-03-01T08:00:00Z"

    rows = list(csv.DictReader(io.StringIO(render(rep, ReportFormat.CSV).decode())))
    alerts = [r for r in rows if r["section"] == "alert"]
    assert len(alerts) == len(rep.alerts) and {r["study_id"] for r in rows} == {SID}
    assert any(r["item"] == "ventilatory_escalation" and r["value"] == "iae" for r in alerts)


async def test_data_gaps_per_device(store: Store) -> None:
    await _run(store, "technical_unplug", weight=70.0)
    rep = await build_report(store, SID, T0 + timedelta(hours=25), ruleset=default_ruleset())
    cov = {c["device"]: c for c in rep.coverage}
    for device, gap_min in (("pump:study", 3), ("monitor", 5), ("ventilator", 2)):
        [gap] = cov[device]["gaps"]
        assert gap_min * 60 <= gap["s"] <= gap_min * 60 + 60, (device, gap)
        assert 99.0 < cov[device]["coverage_pct"] < 100.0
    techs = [a for a in rep.alerts if a["category"] == "technical"]
    assert len(techs) >= 3 and rep.iae_count == 0


def test_cli_report(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def setup() -> None:
        await upgrade(url)
        store = await Store.open(url)
        try:
            await _run(store, "technical_unplug", weight=70.0)
        finally:
            await store.close()

    asyncio.run(setup())
    app = typer.Typer()
    db.register(app)
    report.register(app)
    runner = CliRunner()
    out = tmp_path / "r.json"
    args = ["report", "--patient", SID, "--database-url", url]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "json report for UC-017" in result.stderr
    doc = json.loads(out.read_text())
    assert doc["patient"]["study_id"] == SID and "arm" not in doc["patient"]
    result = runner.invoke(app, [*args, "--format", "csv", "--arm"])
    assert result.exit_code == 0 and "UC-017,patient,arm,,cells" in result.stdout
    result = runner.invoke(app, ["report", "--patient", "nobody", "--database-url", url])
    assert result.exit_code == 1 and "no patient" in result.stderr
    result = runner.invoke(app, ["report", "--database-url", url])
    assert result.exit_code == 2

    # the trial's audit log says who printed what
    async def audited() -> list[str]:
        store = await Store.open(url)
        try:
            return [e["action"] for e in await store.audit_for(SID)]
        finally:
            await store.close()

    assert asyncio.run(audited()).count("trial.report") == 2
