"""The report's safety part in every format: confirmed against candidate IAEs, the AE with
its CRF fields and signatures, clinician entries (cardioversion) with the alert end they
explain, every vasopressor on the time axis, and P/F and OI labelled."""

from __future__ import annotations

import base64
import json
import re
import zlib
from datetime import timedelta

from factories import make_alert

from app.report import ReportFormat, build_report, render
from app.store import Store
from core.model import Category, DeviceEvent, EventSource, Observation, Phase
from monitors import default_ruleset

from .conftest import BED, SID, T0

ENDED = T0 + timedelta(minutes=25)


async def _record(store: Store) -> None:
    await store.start_infusion(
        bed=BED, t=T0, weight_kg=80.0, volume_ml=100.0, planned_min=45.0, source="clinician"
    )
    vt = make_alert(
        id="vt",
        category=Category.ARRHYTHMIA,
        rule="vt",
        onset=T0 + timedelta(minutes=10),
        t=T0 + timedelta(minutes=10),
        iae=True,
    )
    pe = make_alert(
        id="spo2",
        category=Category.HYPOXEMIA,
        onset=T0 + timedelta(minutes=11),
        t=T0 + timedelta(minutes=11),
    )
    for a in (vt, pe):
        await store.commit_alert(a)
    await store.commit_alert(
        make_alert(
            id="vt",
            category=Category.ARRHYTHMIA,
            rule="vt",
            onset=vt.onset,
            t=ENDED,
            phase=Phase.END,
            ended_at=ENDED,
            iae=True,
        )
    )
    await store.add_events(
        [
            DeviceEvent(
                t=T0 + timedelta(minutes=20),
                bed=BED,
                event="cardioversion",
                fields={},
                source=EventSource.CLINICIAN,
            ),
        ]
    )
    doses = [
        Observation(t=T0 + timedelta(minutes=m), bed=BED, code=code, value=v, unit=u)
        for m in range(0, 60, 5)
        for code, v, u in (
            ("IAEW_DOSE_NOREPINEPHRINE", 8.0 + m / 5, "ug/min"),
            ("IAEW_DOSE_EPINEPHRINE", 0.05, "ug/kg/min"),
        )
    ]
    await store.add_observations(doses)
    await store.add_blood_gas(
        study_id=SID, t=T0 + timedelta(minutes=30), entered_by="nina", pao2_mmhg=70, fio2_pct=60
    )
    ae = await store.add_adverse_event(
        study_id=SID,
        by="chen",
        t=T0 + timedelta(hours=1),
        alert_ids=[],
        term="VT needing cardioversion",
        meddra_code="10047302",
        onset=T0 + timedelta(minutes=10),
        resolved_at=T0 + timedelta(minutes=20),
        ctcae_grade=4,
        seriousness=["life_threatening"],
        causality_product="possible",
        causality_procedure="unlikely",
        expected=False,
        action_taken="interrupted",
        treatment="DC cardioversion 150 J",
        outcome="recovered",
        reporter="chen",
        aware_at=T0 + timedelta(minutes=30),
    )
    await store.adjudicate(
        alert_ids=["vt"],
        verdict="iae",
        reason=None,
        reason_text=None,
        ae_id=ae.id,
        signer="dr.lee",
        role="investigator",
        meaning="confirmed",
        t=T0 + timedelta(hours=2),
    )
    await store.adjudicate(
        alert_ids=["spo2"],
        verdict="not_iae",
        reason="artefact",
        reason_text=None,
        ae_id=None,
        signer="dr.lee",
        role="investigator",
        meaning="reviewed",
        t=T0 + timedelta(hours=2),
    )
    await store.sign_adverse_event(
        ae.id,
        signer="dr.lee",
        role="investigator",
        meaning="investigator approval",
        t=T0 + timedelta(hours=2),
    )


async def test_the_report_shows_adjudication_aes_entries_and_pressors(enrolled: Store) -> None:
    await _record(enrolled)
    rep = await build_report(enrolled, SID, T0 + timedelta(hours=3), ruleset=default_ruleset())
    s = rep.safety
    assert (s["candidate_iae"], s["confirmed_iae"], s["not_iae"]) == (1, 1, 1)
    assert s["patients_with_iae"] == 1 and s["unadjudicated_candidates"] == 0
    assert s["ended_by"]["vt"]["event"] == "cardioversion"
    assert s["ended_by"]["vt"]["alert_closed_s_after"] == 300.0
    assert {"Norepinephrine", "Epinephrine"} <= set(rep.trends)

    html = render(rep, ReportFormat.HTML).decode()
    for text in (
        "Adverse events (1)",
        "VT needing cardioversion",
        "MedDRA 10047302",
        "SUSAR",
        "dr.lee (investigator)",
        "investigator approval",
        "cardioversion",
        "the alert closed 300 s later",
        "not an IAE (artefact",
        "confirmed IAEs 1",
        "patient with ≥ 1 confirmed IAE: yes",
        "OI(PaO2/FiO2)",
        "OI = FiO2 × Paw × 100 / PaO2",
        "Epinephrine",
    ):
        assert text in html, text

    doc = json.loads(render(rep, ReportFormat.JSON))
    assert doc["safety"]["adverse_events"][0]["signatures"][0]["valid"] is True
    csv_text = render(rep, ReportFormat.CSV).decode()
    assert "adverse_event" in csv_text and "adjudication" in csv_text

    flat = _pdf_text(render(rep, ReportFormat.PDF))
    for words in (
        "Adverse events (1)",
        "Clinician entries",
        "cardioversion",
        "CTCAE v5 grade",
        "Investigator signature",
        "dr.lee (investigator)",
        "confirmed IAEs 1",
    ):
        assert words in flat, words


def _pdf_text(pdf: bytes) -> str:
    """The text a reportlab PDF draws: its page streams (ASCII85, then Flate) decoded, the
    strings of `Tj`."""
    out = []
    for raw in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            body = zlib.decompress(base64.a85decode(raw.strip().removesuffix(b"~>")))
        except (ValueError, zlib.error):
            continue  # an image or a font
        for m in re.findall(rb"\((.*?)(?<!\\)\) Tj", body, re.S):
            out.append(re.sub(rb"\\(.)", rb"\1", m).decode("latin-1"))
    return " ".join(" ".join(out).split())
