"""The sample export of the demo kept in docs/dataset-sample/: the four demo beds
(`app.demo.DEMO_BEDS`, their scenarios replayed through the engine for 24 h into a throwaway
SQLite database), two controls registered without an infusion, the forms filled in with
made-up values, and S-104's VT recorded as an AE.
Regenerate with `python -m app.dataset.sample docs/dataset-sample`.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.dataset.export import ExportFormat, build_export, write_files
from app.dataset.records import register_control, save_form, set_lock
from app.demo import DEMO_BEDS, SCENARIOS
from app.report.scenario import replay_scenario
from app.store import Store, upgrade
from core.clock import VirtualClock
from core.records import format_time, parse_time
from monitors import build_engine, default_ruleset
from simulators.recording import DEFAULT_INFUSION_AT
from simulators.scenario import load_scenario

DAY0 = DEFAULT_INFUSION_AT - timedelta(minutes=10)
"""Day 0: enrolment, after the pre-infusion gas and 20 min of monitoring."""


def _t(hours: float) -> str:
    return (DAY0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def _forms(i: int, dead: bool) -> dict[str, dict[str, Any]]:
    outcomes: dict[str, Any] = (
        {
            "vital_status_d28": "dead",
            "death_at": _t(24 * (9 + i)),
            "death_cause": "refractory hypoxaemia",
        }
        if dead
        else {
            "vital_status_d28": "alive",
            "ventilation": [
                {"t": _t(24 * (4 + i)), "event": "extubation"},
                *(
                    [
                        {"t": _t(24 * (5 + i)), "event": "reintubation"},
                        {"t": _t(24 * (8 + i)), "event": "extubation"},
                    ]
                    if i == 1
                    else []
                ),
            ],
            "icu": [{"t": _t(24 * (9 + i)), "event": "icu_discharge"}],
            "vasopressors": [{"t": _t(30 + 6 * i), "event": "vasopressor_stop"}],
            "hospital_discharge_at": _t(24 * (18 + i)),
        }
    )
    outcomes["oxygenation"] = [
        {"day": 7, "pao2_mmhg": 95 + 5 * i, "fio2_pct": 40, "mean_paw_cmh2o": 14}
    ]
    return {
        "covariates": {
            "sex": "MF"[i % 2],
            "height_cm": 160 + 4 * i,
            "aetiology_site": "pulmonary" if i % 3 else "extrapulmonary",
            "aetiology": "pneumonia" if i % 3 else "sepsis",
            "lactate_mmol_l": 1.5 + 0.4 * i,
            "vasopressor_use": i % 2 == 0,
            "prone": i % 2 == 1,
            "neuromuscular_blockade": True,
            "ecmo": False,
            "steroids": i == 2,
            "fluid_strategy": "conservative",
            "chronic_health": "none",
            "worst_24h": {
                "sodium_mmol_l": 136 + i,
                "potassium_mmol_l": 3.8,
                "creatinine_mg_dl": 0.9 + 0.3 * i,
                "hematocrit_pct": 33,
                "wbc_k_ul": 11 + 2 * i,
                "gcs": 9,
                "platelets_k_ul": 160 - 15 * i,
                "bilirubin_mg_dl": 0.9,
                "hco3_mmol_l": 21,
            },
        },
        "outcomes": outcomes,
        "biomarkers": {
            "samples": [
                {"marker": "il6", "timepoint": "baseline", "t": _t(-0.5), "value": 300 + 40 * i},
                {"marker": "il6", "timepoint": "h24", "t": _t(26), "value": 180 + 30 * i},
                {"marker": "ddimer", "timepoint": "baseline", "t": _t(-0.5), "value": 2.1 + i},
                {"marker": "ddimer", "timepoint": "h6", "t": _t(8), "value": 2.9 + i},
                {"marker": "ang2", "timepoint": "baseline", "t": _t(-0.5), "value": 9000 - 500 * i},
            ]
        },
    }


async def build_sample(url: str) -> None:
    """Fill the (migrated) database at `url` with the sample."""
    store = await Store.open(url, clock=VirtualClock(DAY0))
    try:
        await store.add_user("coord.chen", "coordinator", "sample: no login")
        await store.add_user("dr.lee", "investigator", "sample: no login")
        engine = build_engine(default_ruleset())
        for i, (bed, demo) in enumerate(sorted(DEMO_BEDS.items())):
            sc = load_scenario(SCENARIOS / demo.scenario)
            sc = replace(sc, beds=(replace(sc.beds[0], name=bed),))
            await store.upsert_bed(bed)
            await store.enrol_patient(
                bed=bed,
                study_id=demo.study_id,
                weight_kg=sc.beds[0].weight_kg,
                arm=demo.arm,
                ards_onset=DAY0 - timedelta(hours=30 + 6 * i),
                age_years=48 + 7 * i,
                enrolled_at=DAY0,
            )
            await store.add_blood_gas(
                study_id=demo.study_id,
                t=DAY0 + timedelta(hours=23, minutes=30),
                entered_by="dr.lee",
                pao2_mmhg=88 + 6 * i,
                paco2_mmhg=44,
                ph=7.36,
            )
            await replay_scenario(store, sc, engine, period=30.0, ack_after_s=120.0, ack_by="nurse")
        for j, sid in enumerate(("C-201", "C-202")):
            await register_control(
                store,
                study_id=sid,
                weight_kg=72 + 6 * j,
                enrolled_at=DAY0 + timedelta(days=j + 1),
                age_years=55 + 9 * j,
                ards_onset=DAY0 + timedelta(days=j + 1, hours=-40),
                by="coord.chen",
                t=DAY0,
            )
        sids = [d.study_id for _, d in sorted(DEMO_BEDS.items())] + ["C-201", "C-202"]
        for i, sid in enumerate(sids):
            patient = await store.patient(sid)
            shift = (patient.enrolled_at - DAY0) if patient else timedelta()
            for form, payload in _forms(i, dead=i in (3, 5)).items():
                await save_form(
                    store,
                    sid,
                    form,
                    _shifted(payload, shift),
                    by="coord.chen",
                    t=DAY0 + timedelta(days=29),
                )
        vt = [a for a in await store.alerts(bed="ICU-4") if a.iae]
        await store.add_adverse_event(
            study_id="S-104",
            by="dr.lee",
            t=DAY0 + timedelta(hours=3),
            alert_ids=[a.id for a in vt],
            term="Ventricular tachycardia",
            meddra_code="10047302",
            onset=min(a.onset for a in vt),
            resolved_at=max(a.ended_at or a.t for a in vt),
            ctcae_grade=3,
            seriousness=["medically_important"],
            causality_product="possible",
            causality_procedure="unlikely",
            expected=False,
            action_taken="none",
            treatment="amiodarone",
            outcome="recovered",
            reporter="dr.lee",
            aware_at=DAY0 + timedelta(hours=2),
        )
        await set_lock(store, sids[0], locked=True, by="dr.lee", t=DAY0 + timedelta(days=30))
        await save_form(
            store,
            sids[0],
            "covariates",
            {**_forms(0, False)["covariates"], "steroids": True},
            by="coord.chen",
            t=DAY0 + timedelta(days=31),
            reason="steroids found in the drug chart",
        )
    finally:
        await store.close()


def _shifted(value: Any, shift: timedelta) -> Any:
    """The sample's times moved by `shift` (a control's day 0 is later)."""
    if isinstance(value, dict):
        return {k: _shifted(v, shift) for k, v in value.items()}
    if isinstance(value, list):
        return [_shifted(v, shift) for v in value]
    if isinstance(value, str) and value.endswith("Z") and value[:2] == "20":
        return format_time(parse_time(value) + shift)
    return value


async def write_sample(folder: Path) -> None:
    """Build the sample and write every export format under `folder/<format>/`."""
    with tempfile.TemporaryDirectory(prefix="iaewatch-dataset-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'sample.db'}"
        await upgrade(url)
        await build_sample(url)
        store = await Store.open(url)
        try:
            for fmt in ExportFormat:
                files, _ = await build_export(store, fmt, include_arm=True)
                write_files(files, folder / fmt.value)
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(write_sample(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/dataset-sample")))
