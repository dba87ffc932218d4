"""The exports of a small stored cohort: CSV with its dictionary, REDCap, ODM 1.3.2 (checked
against the schema), SDTM (CSV and XPT); the same database gives the same bytes."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyreadstat
import pytest

from app.dataset.export import ExportFormat, build_export, zip_bytes
from app.dataset.export_odm import validate_odm
from app.store import Store
from core.model import Alert, AlertState, Category, Phase, Priority

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def table(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


@pytest.fixture
async def cohort(store: Store, populate: Callable[[Store], Awaitable[None]]) -> Store:
    await populate(store)
    return store


async def test_csv_patients_row_has_the_computed_outcomes_and_covariates(cohort: Store) -> None:
    files, prov = await build_export(cohort, ExportFormat.CSV)
    rows = {r["study_id"]: r for r in table(files["patients.csv"])}
    uc, c = rows["UC-001"], rows["C-001"]
    # extubated on day 6, out of the ICU on day 9, off vasopressors on day 2, alive at day 28
    assert (uc["vfd_d28"], uc["icu_free_d28"], uc["vaso_free_d28"]) == ("22", "19", "26")
    # the control died on day 10: every free-day count is 0
    assert (c["vital_status_d28"], c["death_day"], c["vfd_d28"]) == ("dead", "10", "0")
    # P/F at enrolment from the gas 1 h before day 0 with the ventilator's FiO2 60 %
    assert (uc["pf_enrol"], uc["pf_enrol_src"]) == ("133.3333", "stored")
    assert (uc["driving_pressure_enrol"], uc["peep_enrol"]) == ("16", "12")
    # day 1: PaO2 90 at FiO2 50 % and mean Paw 20: P/F 180, OI 0.5 × 20 × 100 / 90
    assert (uc["pf_d1"], uc["oi_d1"], uc["oxy_src_d1"]) == ("180", "11.1111", "stored")
    assert (uc["pf_d3"], uc["pf_d2"], uc["oxy_src_d2"]) == ("250", "", "missing")
    assert uc["bmi"] == "22.9" and uc["hours_from_onset"] == "30"
    # SOFA: P/F 133 ventilated 3, platelets 0, bilirubin 0, norepinephrine 0.1 µg/kg/min 3,
    # GCS 10 2, creatinine 0 → 8, every organ known
    assert (uc["sofa"], uc["sofa_complete"], uc["sofa_missing"]) == ("8", "1", "")
    # APACHE II lists what it lacks (no sodium etc. for the control), scores what it has
    assert uc["apache_ii_complete"] == "1"
    assert "sodium_mmol_l" in c["apache_ii_missing"].split()
    assert uc["il6_baseline"] == "412.5" and uc["il6_h6_t"] == "2026-03-01T14:05:00Z"
    assert (uc["record_locked"], uc["locked_by"]) == ("1", "dr.li")
    # the arm is withheld unless asked for
    assert (uc["group"], uc["arm"], c["group"]) == ("infused", "", "not_infused")
    manifest = json.loads(files["manifest.json"])
    assert manifest["audit_chain_head"] == prov.chain_head
    assert set(manifest["files"]) == set(files) - {"manifest.json"}


async def test_every_csv_column_is_in_the_data_dictionary(cohort: Store) -> None:
    files, _ = await build_export(cohort, ExportFormat.CSV, include_arm=True)
    dictionary = table(files["data_dictionary.csv"])
    for name, data in files.items():
        if name.endswith(".csv") and name != "data_dictionary.csv":
            header = next(csv.reader(io.StringIO(data.decode())))
            listed = [d["field"] for d in dictionary if d["table"] == name.removesuffix(".csv")]
            assert header == listed, name
    rows = {r["study_id"]: r for r in table(files["patients.csv"])}
    assert (rows["UC-001"]["group"], rows["C-001"]["group"]) == ("cells", "control")


async def test_redcap_dictionary_fields_match_the_import_csv(cohort: Store) -> None:
    files, _ = await build_export(cohort, ExportFormat.REDCAP)
    meta = table(files["redcap_data_dictionary.csv"])
    data = files["redcap_import.csv"].decode()
    header = next(csv.reader(io.StringIO(data)))
    assert header == [m["Variable / Field Name"] for m in meta]
    assert header[0] == "study_id" and meta[0]["Identifier?"] == "y"
    assert len(next(csv.reader(io.StringIO(files["redcap_data_dictionary.csv"].decode())))) == 18
    by_name = {m["Variable / Field Name"]: m for m in meta}
    assert by_name["enrolled_at"]["Text Validation Type OR Show Slider Number"] == (
        "datetime_seconds_ymd"
    )
    assert by_name["prone"]["Field Type"] == "yesno"
    assert by_name["sex"]["Choices, Calculations, OR Slider Labels"] == "M, M | F, F"
    rows = {r["study_id"]: r for r in table(files["redcap_import.csv"])}
    assert rows["UC-001"]["enrolled_at"] == "2026-03-01 08:00:00"
    for name, m in by_name.items():
        assert m["Form Name"] in {
            "registration",
            "covariates",
            "outcomes",
            "biomarkers",
            "record_status",
        }
        choices = m["Choices, Calculations, OR Slider Labels"]
        if choices:  # every value of a coded field is one of its codes
            codes = {c.split(",")[0].strip() for c in choices.split("|")}
            assert all(r[name] in codes | {""} for r in rows.values()), name


async def test_odm_export_validates_against_the_odm_1_3_2_schema(cohort: Store) -> None:
    files, prov = await build_export(cohort, ExportFormat.ODM)
    doc = files["dataset_odm.xml"]
    assert validate_odm(doc) == []
    assert b'ODMVersion="1.3.2"' in doc and b'SubjectKey="UC-001"' in doc
    assert prov.chain_head.encode() in doc
    broken = doc.replace(b'ODMVersion="1.3.2"', b'ODMVersion="9"')
    assert validate_odm(broken) != []


async def test_sdtm_domains_as_csv_and_xpt(cohort: Store, tmp_path: Path) -> None:
    files, _ = await build_export(cohort, ExportFormat.SDTM)
    dm = table(files["dm.csv"])
    assert [r["USUBJID"] for r in dm] == ["UCMSC-ARDS-C-001", "UCMSC-ARDS-UC-001"]
    assert dm[0]["DTHFL"] == "Y" and dm[0]["ACTARMCD"] == "NOTTRT"
    ds = table(files["ds.csv"])
    assert [r["DSDECOD"] for r in ds] == ["ENROLLED", "DEATH", "ENROLLED", "COMPLETED"]
    lb = table(files["lb.csv"])
    assert {r["LBTESTCD"] for r in lb} >= {"IL6", "DDIMER", "PO2", "PCO2", "PH"}
    path = tmp_path / "dm.xpt"
    path.write_bytes(files["dm.xpt"])
    frame, _meta = pyreadstat.read_xport(str(path))
    assert list(frame.columns) == list(dm[0]) and len(frame) == 2
    assert frame["AGE"].tolist() == [66.0, 58.0]


@pytest.mark.parametrize("fmt", list(ExportFormat))
async def test_the_same_database_gives_the_same_bytes(cohort: Store, fmt: ExportFormat) -> None:
    first, _ = await build_export(cohort, fmt)
    again, _ = await build_export(cohort, fmt)
    assert first == again
    assert zip_bytes(first) == zip_bytes(again)


def iae(alert_id: str, category: Category, minutes: int) -> Alert:
    onset = T0 + timedelta(hours=1, minutes=minutes)
    return Alert(
        id=alert_id,
        bed="ICU-1",
        category=category,
        rule=category.value,
        priority=Priority.HIGH,
        phase=Phase.START,
        state=AlertState.ACTIVE,
        onset=onset,
        t=onset,
    )


async def test_adverse_events_from_the_ae_record_and_unadjudicated_iae_alerts(
    cohort: Store,
) -> None:
    for a in (
        iae("a-vt", Category.ARRHYTHMIA, 5),
        iae("a-pressor", Category.VASOPRESSOR_ESCALATION, 20),
        iae("a-arrest", Category.CARDIAC_ARREST, 40),
    ):
        await cohort.commit_alert(a)
    await cohort.add_adverse_event(
        study_id="UC-001",
        by="dr.li",
        t=T0 + timedelta(hours=3),
        alert_ids=["a-vt"],
        term="Ventricular tachycardia",
        meddra_code=None,
        onset=T0 + timedelta(hours=1, minutes=5),
        resolved_at=T0 + timedelta(hours=1, minutes=9),
        ctcae_grade=3,
        seriousness=["medically_important"],
        causality_product="possible",
        causality_procedure="unlikely",
        expected=False,
        action_taken="none",
        treatment="cardioversion",
        outcome="recovered",
        reporter="dr.li",
        aware_at=T0 + timedelta(hours=2),
    )
    await cohort.adjudicate(
        alert_ids=["a-pressor"],
        verdict="not_iae",
        reason="other_cause",
        reason_text="titrated for sedation",
        ae_id=None,
        signer="dr.li",
        role="investigator",
        meaning="adjudicated",
        t=T0 + timedelta(hours=4),
    )
    files, _ = await build_export(cohort, ExportFormat.CSV)
    aes = table(files["adverse_events.csv"])
    assert [(r["ae_ref"], r["source"], r["grade"], r["serious"]) for r in aes] == [
        ("AE-1", "ae_record", "3", "1"),
        ("a-arrest", "iae_alert", "", ""),
    ]
    sdtm, _ = await build_export(cohort, ExportFormat.SDTM)
    ae = table(sdtm["ae.csv"])
    assert [(r["AESPID"], r["AESER"], r["AETOXGR"]) for r in ae] == [
        ("ae_record:AE-1", "Y", "3"),
        ("iae_alert:a-arrest", "", ""),
    ]
