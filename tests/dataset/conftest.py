"""Dataset fixtures: a migrated store per test (SQLite, and PostgreSQL when reachable), and a
small stored cohort: one cell-arm patient at a bed with observations, gases and an infusion,
and one control registered without a bed (`populate`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pgschema import migrated_database

from app.store import Store
from core.clock import VirtualClock
from core.model import Observation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with migrated_database(request.param, tmp_path) as u:
        yield u


@pytest.fixture
async def store(url: str) -> AsyncIterator[Store]:
    s = await Store.open(url, clock=VirtualClock(T0))
    try:
        yield s
    finally:
        await s.close()


BED = "ICU-1"


def obs(t: datetime, code: str, value: float, unit: str) -> Observation:
    return Observation(t=t, bed=BED, code=code, value=value, unit=unit, device="monitor")


def vent(t: datetime, fio2: float) -> list[Observation]:
    return [
        obs(t, "MDC_VENT_CONC_AWAY_O2_INSP", fio2, "%"),
        obs(t, "MDC_PRESS_AWAY_END_EXP_POS", 12, "cm[H2O]"),
        obs(t, "MDC_PRESS_AWAY_MEAN", 20, "cm[H2O]"),
        obs(t, "MDC_PRESS_RESP_PLAT", 28, "cm[H2O]"),
    ]


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


COVARIATES = {
    "sex": "M",
    "height_cm": 175,
    "aetiology_site": "pulmonary",
    "aetiology": "pneumonia",
    "lactate_mmol_l": 2.1,
    "prone": True,
    "neuromuscular_blockade": True,
    "ecmo": False,
    "steroids": False,
    "fluid_strategy": "conservative",
    "chronic_health": "none",
    "worst_24h": {
        "sodium_mmol_l": 138,
        "potassium_mmol_l": 4.0,
        "creatinine_mg_dl": 1.0,
        "hematocrit_pct": 35,
        "wbc_k_ul": 12,
        "gcs": 10,
        "platelets_k_ul": 180,
        "bilirubin_mg_dl": 0.8,
    },
}
OUTCOMES = {
    "vital_status_d28": "alive",
    "ventilation": [{"t": "2026-03-07T08:00:00Z", "event": "extubation"}],
    "icu": [{"t": "2026-03-10T08:00:00Z", "event": "icu_discharge"}],
    "vasopressors": [{"t": "2026-03-03T08:00:00Z", "event": "vasopressor_stop"}],
    "hospital_discharge_at": "2026-03-21T08:00:00Z",
}
BIOMARKERS = {
    "samples": [
        {"marker": "il6", "timepoint": "baseline", "t": "2026-03-01T07:30:00Z", "value": 412.5},
        {"marker": "il6", "timepoint": "h6", "t": "2026-03-01T14:05:00Z", "value": 380},
        {"marker": "ddimer", "timepoint": "h24", "t": "2026-03-02T08:10:00Z", "value": 3.2},
    ]
}


async def _populate(store: Store) -> None:
    await store.enrol_patient(
        bed=BED,
        study_id="UC-001",
        weight_kg=70,
        arm="cells",
        ards_onset=h(-30),
        age_years=58,
        enrolled_at=T0,
    )
    batch: list[Observation] = []
    for m in range(0, 6 * 60, 10):
        t = h(-6) + timedelta(minutes=m)
        batch += [
            obs(t, "MDC_PRESS_BLD_ART_MEAN", 75 - m / 30, "mm[Hg]"),  # falls to 63.3
            obs(t, "MDC_ECG_HEART_RATE", 100 + m / 20, "/min"),  # rises to 117.5
            obs(t, "MDC_TEMP_BLD", 38.7, "Cel"),
            obs(t, "MDC_VENT_RESP_RATE", 28, "/min"),
            obs(t, "IAEW_DOSE_NOREPINEPHRINE", 7.0, "ug/min"),  # 0.1 µg/kg/min at 70 kg
            *vent(t, 60),
        ]
    batch += vent(h(24), 50) + vent(h(72), 40)
    await store.add_observations(batch)
    await store.add_blood_gas(
        study_id="UC-001", t=h(-1), entered_by="dr.li", pao2_mmhg=80, paco2_mmhg=45, ph=7.31
    )
    await store.add_blood_gas(study_id="UC-001", t=h(24), entered_by="dr.li", pao2_mmhg=90)
    await store.add_blood_gas(study_id="UC-001", t=h(72), entered_by="dr.li", pao2_mmhg=100)
    await store.start_infusion(
        bed=BED, t=h(1), weight_kg=70, volume_ml=100, planned_min=45, source="clinician"
    )
    await store.end_infusion(bed=BED, t=h(1.75))
    await store.save_form("UC-001", "covariates", COVARIATES, by="coord", t=h(2))
    await store.save_form("UC-001", "outcomes", OUTCOMES, by="coord", t=h(700))
    await store.save_form("UC-001", "biomarkers", BIOMARKERS, by="coord", t=h(30))
    await store.set_lock("UC-001", locked=True, by="dr.li", t=h(701))
    await store.register_control(
        study_id="C-001", weight_kg=80, enrolled_at=h(-48), age_years=66, ards_onset=h(-60)
    )
    await store.save_form(
        "C-001",
        "outcomes",
        {"vital_status_d28": "dead", "death_at": "2026-03-09T08:00:00Z", "death_cause": "MOF"},
        by="coord",
        t=h(300),
    )
    await store.save_form("C-001", "covariates", {"sex": "F", "height_cm": 160}, by="coord", t=h(2))


@pytest.fixture
def populate() -> Callable[[Store], Awaitable[None]]:
    """Store the cohort (`_populate`) in a store."""
    return _populate
