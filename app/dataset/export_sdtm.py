"""SDTM-shaped domains: DM, AE, VS, LB and DS as CSV, and as SAS transport (XPT v5, written by
pyreadstat, with the header's creation and modification times set to the data's `as_of` so
the bytes are deterministic). Variable names and order follow the SDTMIG 3.4 domain models
for the variables we have; times are ISO 8601 (`--DTC`).

- DM: one row per patient (RFSTDTC = day 0, RFXSTDTC/RFXENDTC = the infusion).
- AE: the AE/SAE record, or the IAE alerts when there is none (AESPID says which).
- VS: height, weight and BMI at day 0; the worst temperature, heart rate, respiratory rate
  and MAP of the 24 h before day 0 (VSTPT says so).
- LB: the biomarker samples (LBTPT = the schedule's timepoint) and the blood gases.
- DS: enrolment (protocol milestone) and the day-28 disposition (COMPLETED or DEATH).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from app.dataset.assemble import PatientData
from app.dataset.export_csv import Files, csv_bytes, manifest
from app.dataset.fields import text
from app.dataset.provenance import STUDY, Provenance
from app.dataset.schedule import Schedule

SITE = "01"
Row = dict[str, Any]

DOMAINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "DM": (
        "Demographics",
        (
            "STUDYID",
            "DOMAIN",
            "USUBJID",
            "SUBJID",
            "RFSTDTC",
            "RFENDTC",
            "RFXSTDTC",
            "RFXENDTC",
            "DTHDTC",
            "DTHFL",
            "SITEID",
            "AGE",
            "AGEU",
            "SEX",
            "ARMCD",
            "ARM",
            "ACTARMCD",
            "ACTARM",
        ),
    ),
    "AE": (
        "Adverse Events",
        (
            "STUDYID",
            "DOMAIN",
            "USUBJID",
            "AESEQ",
            "AESPID",
            "AETERM",
            "AESER",
            "AEREL",
            "AEOUT",
            "AETOXGR",
            "AESTDTC",
            "AEENDTC",
        ),
    ),
    "VS": (
        "Vital Signs",
        (
            "STUDYID",
            "DOMAIN",
            "USUBJID",
            "VSSEQ",
            "VSTESTCD",
            "VSTEST",
            "VSORRES",
            "VSORRESU",
            "VSSTRESC",
            "VSSTRESN",
            "VSSTRESU",
            "VSTPT",
            "VSDTC",
        ),
    ),
    "LB": (
        "Laboratory Test Results",
        (
            "STUDYID",
            "DOMAIN",
            "USUBJID",
            "LBSEQ",
            "LBTESTCD",
            "LBTEST",
            "LBCAT",
            "LBORRES",
            "LBORRESU",
            "LBSTRESC",
            "LBSTRESN",
            "LBSTRESU",
            "LBTPT",
            "LBDTC",
        ),
    ),
    "DS": (
        "Disposition",
        ("STUDYID", "DOMAIN", "USUBJID", "DSSEQ", "DSTERM", "DSDECOD", "DSCAT", "DSSTDTC"),
    ),
}
NUMERIC = {"AESEQ", "VSSEQ", "LBSEQ", "DSSEQ", "AGE", "VSSTRESN", "LBSTRESN"}
VITALS: tuple[tuple[str, str, str, Callable[[PatientData], float | None], str], ...] = (
    ("HEIGHT", "Height", "cm", lambda p: p.covariates.height_cm, ""),
    ("WEIGHT", "Weight", "kg", lambda p: p.patient.weight_kg, ""),
    ("BMI", "Body Mass Index", "kg/m2", lambda p: p.bmi, ""),
    ("TEMP", "Temperature", "C", lambda p: p.worst.get("temperature_c"), "WORST 24 H BEFORE DAY 0"),
    (
        "HR",
        "Heart Rate",
        "beats/min",
        lambda p: p.worst.get("heart_rate"),
        "WORST 24 H BEFORE DAY 0",
    ),
    (
        "RESP",
        "Respiratory Rate",
        "breaths/min",
        lambda p: p.worst.get("resp_rate"),
        "WORST 24 H BEFORE DAY 0",
    ),
    (
        "MAP",
        "Mean Arterial Pressure",
        "mmHg",
        lambda p: p.worst.get("map_mmhg"),
        "WORST 24 H BEFORE DAY 0",
    ),
)
GASES = (
    ("PO2", "Oxygen, Partial Pressure", "mmHg", "pao2_mmhg"),
    ("PCO2", "Carbon Dioxide, Partial Pressure", "mmHg", "paco2_mmhg"),
    ("PH", "pH", "", "ph"),
)


def _usubjid(p: PatientData) -> str:
    return f"{STUDY}-{p.study_id}"


def _base(p: PatientData, domain: str) -> Row:
    return {"STUDYID": STUDY, "DOMAIN": domain, "USUBJID": _usubjid(p)}


def _dm(p: PatientData, include_arm: bool) -> Iterator[Row]:
    o, inf = p.outcomes, p.infusion
    arm = p.patient.arm.value.upper() if include_arm else "MASKED"
    act = ("NOTTRT", "Not treated") if inf is None else (arm, arm.title())
    last = [t for t in (o.death_at, o.hospital_discharge_at) if t is not None]
    yield {
        **_base(p, "DM"),
        "SUBJID": p.study_id,
        "RFSTDTC": p.t0,
        "RFENDTC": min(last) if last else None,
        "RFXSTDTC": inf.started_at if inf else None,
        "RFXENDTC": inf.ended_at if inf else None,
        "DTHDTC": o.death_at,
        "DTHFL": "Y" if o.death_at else None,
        "SITEID": SITE,
        "AGE": p.patient.age_years,
        "AGEU": "YEARS" if p.patient.age_years is not None else None,
        "SEX": p.covariates.sex,
        "ARMCD": arm,
        "ARM": arm.title(),
        "ACTARMCD": act[0],
        "ACTARM": act[1],
    }


def _ae(p: PatientData) -> Iterator[Row]:
    for i, e in enumerate(p.adverse_events, 1):
        yield {
            **_base(p, "AE"),
            "AESEQ": i,
            "AESPID": f"{e.source}:{e.ref}",
            "AETERM": e.term,
            "AESER": None if e.serious is None else ("Y" if e.serious else "N"),
            "AEREL": e.causality,
            "AEOUT": e.outcome,
            "AETOXGR": e.grade,
            "AESTDTC": e.onset,
            "AEENDTC": e.end,
        }


def _vs(p: PatientData) -> Iterator[Row]:
    seq = 0
    for code, name, unit, get, tpt in VITALS:
        v = get(p)
        if v is None:
            continue
        seq += 1
        yield {
            **_base(p, "VS"),
            "VSSEQ": seq,
            "VSTESTCD": code,
            "VSTEST": name,
            "VSORRES": text(float(v)),
            "VSORRESU": unit,
            "VSSTRESC": text(float(v)),
            "VSSTRESN": float(v),
            "VSSTRESU": unit,
            "VSTPT": tpt or None,
            "VSDTC": p.t0,
        }


def _lb(p: PatientData, schedule: Schedule) -> Iterator[Row]:
    seq = 0
    for s in sorted(p.biomarkers.samples, key=lambda s: (s.t, s.marker)):
        m, tp = schedule.marker(s.marker), schedule.timepoint(s.timepoint)
        seq += 1
        res = ("<" if s.below_lod else "") + text(s.value)
        yield {
            **_base(p, "LB"),
            "LBSEQ": seq,
            "LBTESTCD": s.marker.upper()[:8],
            "LBTEST": m.label if m else s.marker,
            "LBCAT": "BIOMARKER",
            "LBORRES": res,
            "LBORRESU": m.unit if m else None,
            "LBSTRESC": res,
            "LBSTRESN": None if s.below_lod else s.value,
            "LBSTRESU": m.unit if m else None,
            "LBTPT": tp.label if tp else s.timepoint,
            "LBDTC": s.t,
        }
    for g in p.gases:
        for code, name, unit, attr in GASES:
            v = getattr(g, attr)
            if v is None:
                continue
            seq += 1
            yield {
                **_base(p, "LB"),
                "LBSEQ": seq,
                "LBTESTCD": code,
                "LBTEST": name,
                "LBCAT": "BLOOD GAS",
                "LBORRES": text(v),
                "LBORRESU": unit or None,
                "LBSTRESC": text(v),
                "LBSTRESN": v,
                "LBSTRESU": unit or None,
                "LBTPT": None,
                "LBDTC": g.t,
            }


def _ds(p: PatientData) -> Iterator[Row]:
    yield {
        **_base(p, "DS"),
        "DSSEQ": 1,
        "DSTERM": "ENROLLED",
        "DSDECOD": "ENROLLED",
        "DSCAT": "PROTOCOL MILESTONE",
        "DSSTDTC": p.t0,
    }
    o = p.outcomes
    if o.vital_status_d28 == "dead" and o.death_at is not None:
        yield {
            **_base(p, "DS"),
            "DSSEQ": 2,
            "DSTERM": o.death_cause or "DEATH",
            "DSDECOD": "DEATH",
            "DSCAT": "DISPOSITION EVENT",
            "DSSTDTC": o.death_at,
        }
    elif o.vital_status_d28 == "alive":
        yield {
            **_base(p, "DS"),
            "DSSEQ": 2,
            "DSTERM": "ALIVE AT DAY 28",
            "DSDECOD": "COMPLETED",
            "DSCAT": "DISPOSITION EVENT",
            "DSSTDTC": p.t0 + timedelta(days=28),
        }


def domains(
    data: Sequence[PatientData], schedule: Schedule, include_arm: bool
) -> dict[str, list[Row]]:
    return {
        "DM": [r for p in data for r in _dm(p, include_arm)],
        "AE": [r for p in data for r in _ae(p)],
        "VS": [r for p in data for r in _vs(p)],
        "LB": [r for p in data for r in _lb(p, schedule)],
        "DS": [r for p in data for r in _ds(p)],
    }


def _xpt_time(t: datetime) -> bytes:
    return t.strftime("%d%b%y:%H:%M:%S").upper().encode("ascii")


def xpt(domain: str, rows: Sequence[Row], as_of: datetime) -> bytes:
    """One domain as a SAS transport file (v5), its header times set to `as_of`."""
    import pandas as pd
    import pyreadstat

    label, cols = DOMAINS[domain]
    frame = pd.DataFrame(
        {c: [r.get(c) if c in NUMERIC else text(r.get(c)) for r in rows] for c in cols},
        columns=list(cols),
    )
    for c in cols:
        if c in NUMERIC:
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{domain.lower()}.xpt"
        pyreadstat.write_xport(
            frame, str(path), file_label=label, table_name=domain, file_format_version=5
        )
        data = path.read_bytes()
    head, sep, body = data.partition(b"HEADER RECORD*******OBS")
    head = re.sub(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d", _xpt_time(as_of), head)
    return head + sep + body


def export_sdtm(data: Sequence[PatientData], schedule: Schedule, prov: Provenance) -> Files:
    files: Files = {}
    desc: dict[str, str] = {}
    for domain, rows in domains(data, schedule, prov.include_arm).items():
        label, cols = DOMAINS[domain]
        name = domain.lower()
        files[f"{name}.csv"] = csv_bytes(cols, [[text(r.get(c)) for c in cols] for r in rows])
        files[f"{name}.xpt"] = xpt(domain, rows, prov.as_of)
        desc[f"{name}.csv"] = desc[f"{name}.xpt"] = f"SDTM {domain} ({label})"
    files["manifest.json"] = manifest(prov, files, desc)
    return files
