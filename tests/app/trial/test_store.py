"""The trial queries on a real (SQLite) store: gases, exclusions, nearest values, coverage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.store import Store
from core.model import Observation, ValueStatus

from .conftest import BED, SID, T0, vent


async def test_blood_gases_round_trip_and_validation(enrolled: Store) -> None:
    g = await enrolled.add_blood_gas(
        study_id=SID, t=T0, entered_by="nina", pao2_mmhg=70.0, ph=7.31, note="art line"
    )
    assert g.entered_by == "nina" and g.t == T0 and g.fio2_pct is None
    await enrolled.add_blood_gas(
        study_id=SID, t=T0 - timedelta(hours=9), entered_by="nina", pao2_mmhg=80
    )
    assert [x.pao2_mmhg for x in await enrolled.blood_gases(SID)] == [80.0, 70.0]
    with pytest.raises(KeyError):
        await enrolled.add_blood_gas(study_id="nobody", t=T0, entered_by="nina", pao2_mmhg=70)
    with pytest.raises(ValueError, match="at least one"):
        await enrolled.add_blood_gas(study_id=SID, t=T0, entered_by="nina")
    with pytest.raises(ValueError, match="fio2"):
        await enrolled.add_blood_gas(
            study_id=SID, t=T0, entered_by="nina", pao2_mmhg=70, fio2_pct=5
        )


async def test_exclusions_keep_history_and_are_audited(enrolled: Store) -> None:
    await enrolled.confirm_exclusion(study_id=SID, item="malignancy", present=True, by="nina", t=T0)
    await enrolled.confirm_exclusion(
        study_id=SID,
        item="malignancy",
        present=False,
        by="dr.lee",
        t=T0 + timedelta(minutes=5),
        note="biopsy benign",
    )
    now = await enrolled.exclusions(SID)
    assert now["malignancy"].present is False and now["malignancy"].by == "dr.lee"
    assert [r.present for r in await enrolled.exclusion_history(SID)] == [True, False]
    audit = await enrolled.audit_for(SID, prefix="trial.")
    assert [(a["actor"], a["details"]["answer"]) for a in audit] == [
        ("nina", "present"),
        ("dr.lee", "absent"),
    ]


async def test_nearest_observation_is_usable_and_within_reach(store: Store) -> None:
    await store.add_observations(
        vent(T0 - timedelta(minutes=4), 50, 10)
        + vent(T0 + timedelta(minutes=3), 60, 12)
        + [
            Observation(
                t=T0,
                bed=BED,
                code="MDC_VENT_CONC_AWAY_O2_INSP",
                value=None,
                unit="%",
                status=ValueStatus.UNAVAILABLE,
            )
        ]
    )
    o = await store.nearest_observation(BED, "MDC_VENT_CONC_AWAY_O2_INSP", T0, 600)
    assert o is not None and o.value == 60.0  # 3 min after beats 4 min before; None skipped
    o = await store.nearest_observation(BED, "MDC_VENT_CONC_AWAY_O2_INSP", T0, 170)
    assert o is None
    tie = await store.nearest_observation(
        BED, "MDC_PRESS_AWAY_END_EXP_POS", T0 - timedelta(seconds=30), 600
    )
    assert tie is not None and tie.value == 10.0
    last = await store.last_observation_time(BED, ["MDC_PRESS_AWAY_END_EXP_POS"], T0)
    assert last == T0 - timedelta(minutes=4)


async def test_device_coverage_finds_gaps(store: Store) -> None:
    since, until = T0, T0 + timedelta(hours=1)
    batch = []
    for s in range(0, 3601, 10):
        if 600 <= s < 1500:  # a 15 min outage (last sample at 590, next at 1500)
            continue
        t = T0 + timedelta(seconds=s)
        batch.append(
            Observation(
                t=t, bed=BED, code="MDC_PULS_OXIM_SAT_O2", value=95, unit="%", device="monitor"
            )
        )
        batch.append(
            Observation(
                t=t, bed=BED, code="MDC_ECG_HEART_RATE", value=80, unit="/min", device="monitor"
            )
        )
    for s in range(0, 1800, 10):  # the pump stops reporting after 30 min
        t = T0 + timedelta(seconds=s)
        batch.append(
            Observation(
                t=t, bed=BED, code="MDC_FLOW_FLUID_PUMP", value=133, unit="mL/h", device="pump"
            )
        )
    await store.add_observations(batch)
    cov = {c.device: c for c in await store.device_coverage(BED, since, until, min_gap_s=60)}
    mon = cov["monitor"]
    assert mon.gaps == ((T0 + timedelta(seconds=590), T0 + timedelta(seconds=1500)),)
    assert mon.samples == 361 - 90
    assert mon.coverage_pct == pytest.approx(100 * (1 - 910 / 3600))
    pump = cov["pump"]
    assert pump.gaps == () and pump.last == T0 + timedelta(seconds=1790)
    assert pump.coverage_pct == pytest.approx(100 * (1 - 1810 / 3600))
    with pytest.raises(ValueError):
        await store.device_coverage(BED, until, since)
