"""Beds, patients, devices and infusions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.store import Arm, Store
from core.clock import VirtualClock

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def test_beds_are_listed_in_natural_order_with_labels(store: Store) -> None:
    for bed in ("ICU-10", "ICU-2", "ICU-1"):
        await store.upsert_bed(bed)
    await store.upsert_bed("ICU-2", label="window")
    await store.upsert_bed("ICU-2")  # no label given: keeps "window"
    beds = await store.list_beds()
    assert [b.bed for b in beds] == ["ICU-1", "ICU-2", "ICU-10"]
    assert [b.label for b in beds] == [None, "window", None]
    assert all(b.patient is None and b.infusion is None for b in beds)


async def test_enrol_patient_and_find_them(store: Store, clock: VirtualClock) -> None:
    onset = datetime(2026, 2, 28, 22, 0, tzinfo=timezone(timedelta(hours=2)))
    p = await store.enrol_patient(
        bed="ICU-3", study_id="S-001", weight_kg=70.5, arm="cells", ards_onset=onset, age_years=54
    )
    assert p.study_id == "S-001" and p.bed == "ICU-3" and p.weight_kg == 70.5
    assert p.arm is Arm.CELLS and p.age_years == 54
    assert p.ards_onset == onset and p.ards_onset is not None
    assert p.ards_onset.utcoffset() == timedelta(0)  # handed back in UTC
    assert p.enrolled_at == clock.now()
    assert await store.patient("S-001") == p
    assert await store.patient_at_bed("ICU-3") == p
    assert await store.patient("nobody") is None
    assert await store.patient_at_bed("ICU-9") is None
    [bed] = await store.list_beds()  # the bed was created by the enrolment
    assert bed.bed == "ICU-3" and bed.patient == p


async def test_re_enrolment_updates_and_a_new_patient_discharges_the_old(
    store: Store, clock: VirtualClock
) -> None:
    await store.enrol_patient(
        bed="ICU-3", study_id="S-001", weight_kg=70, arm="unknown", ards_onset=None
    )
    fixed = await store.enrol_patient(
        bed="ICU-3", study_id="S-001", weight_kg=72, arm="saline", ards_onset=None
    )
    assert fixed.weight_kg == 72 and fixed.arm is Arm.SALINE and fixed.enrolled_at == T0
    await clock.advance(3600)
    new = await store.enrol_patient(
        bed="ICU-3", study_id="S-002", weight_kg=60, arm="cells", ards_onset=None
    )
    assert await store.patient_at_bed("ICU-3") == new
    old = await store.patient("S-001")
    assert old is not None and old.discharged_at == clock.now()
    # moving S-001 to another bed re-admits them there
    moved = await store.enrol_patient(
        bed="ICU-4", study_id="S-001", weight_kg=72, arm="saline", ards_onset=None
    )
    assert moved.bed == "ICU-4" and moved.discharged_at is None
    assert await store.patient_at_bed("ICU-3") == new
    gone = await store.discharge_patient("S-002", t=clock.now())
    assert gone is not None and gone.discharged_at == clock.now()
    assert await store.patient_at_bed("ICU-3") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"arm": "placebo"}, "arm must be one of"),
        ({"weight_kg": 0}, "weight_kg"),
        ({"weight_kg": float("nan")}, "weight_kg"),
        ({"age_years": -1}, "age_years"),
        ({"study_id": ""}, "study_id is empty"),
    ],
)
async def test_enrol_refuses_bad_values(
    store: Store, kwargs: dict[str, object], message: str
) -> None:
    args = {"bed": "ICU-1", "study_id": "S-1", "weight_kg": 70, "arm": "cells", "ards_onset": None}
    with pytest.raises(ValueError, match=message):
        await store.enrol_patient(**(args | kwargs))  # type: ignore[arg-type]


async def test_devices_and_connection_history(store: Store) -> None:
    await store.upsert_device(
        bed="ICU-3", device_id="pump-1", kind="pump", protocol="modbus", address="tcp://x:502"
    )
    await store.upsert_device(
        bed="ICU-3", device_id="pump-1", kind="pump", protocol="modbus", address="tcp://y:502"
    )
    [dev] = await store.list_devices("ICU-3")
    assert dev.address == "tcp://y:502" and dev.state is None
    t = T0
    await store.record_device_connection(bed="ICU-3", device_id="pump-1", state="connected", t=t)
    await store.record_device_connection(
        bed="ICU-3",
        device_id="pump-1",
        state="disconnected",
        t=t + timedelta(minutes=5),
        reason="connection reset",
    )
    await store.record_device_connection(
        bed="ICU-3", device_id="pump-1", state="connected", t=t + timedelta(minutes=6)
    )
    # a late record of an older change goes to the history only
    await store.record_device_connection(
        bed="ICU-3", device_id="pump-1", state="disconnected", t=t + timedelta(minutes=1)
    )
    history = await store.device_history("ICU-3", "pump-1")
    assert [(h.state, h.t - t) for h in history] == [
        ("connected", timedelta(0)),
        ("disconnected", timedelta(minutes=1)),
        ("disconnected", timedelta(minutes=5)),
        ("connected", timedelta(minutes=6)),
    ]
    assert history[2].reason == "connection reset"
    since = await store.device_history("ICU-3", "pump-1", since=t + timedelta(minutes=2))
    assert [h.state for h in since] == ["disconnected", "connected"]
    [dev] = await store.list_devices()
    assert dev.state == "connected" and dev.state_since == t + timedelta(minutes=6)


async def test_connection_of_an_unconfigured_device_is_kept(store: Store) -> None:
    await store.record_device_connection(bed="ICU-7", device_id="vent", state="connected", t=T0)
    [dev] = await store.list_devices("ICU-7")
    assert (dev.device_id, dev.kind, dev.state) == ("vent", "", "connected")
    assert len(await store.device_history("ICU-7", "vent")) == 1


async def test_infusion_start_end_and_current(store: Store) -> None:
    await store.enrol_patient(
        bed="ICU-3", study_id="S-001", weight_kg=70, arm="cells", ards_onset=None
    )
    assert await store.current_infusion("ICU-3") is None
    inf = await store.start_infusion(
        bed="ICU-3", t=T0, weight_kg=None, volume_ml=100, planned_min=45, source="pump"
    )
    assert inf.study_id == "S-001" and inf.weight_kg == 70  # weight from the patient
    assert inf.volume_ml == 100 and inf.planned_min == 45 and inf.running
    # the clinician enters the same start: same infusion, missing order fields filled in
    again = await store.start_infusion(
        bed="ICU-3",
        t=T0 + timedelta(seconds=30),
        weight_kg=71,
        volume_ml=None,
        planned_min=None,
        source="clinician",
    )
    assert again.id == inf.id and again.weight_kg == 70 and again.started_at == T0
    assert await store.current_infusion("ICU-3") == again
    [bed] = await store.list_beds()
    assert bed.infusion == again
    ended = await store.end_infusion(bed="ICU-3", t=T0 + timedelta(minutes=47))
    assert ended is not None and ended.ended_at == T0 + timedelta(minutes=47)
    assert not ended.running
    assert await store.end_infusion(bed="ICU-3", t=T0 + timedelta(minutes=50)) is None
    assert await store.current_infusion("ICU-3") == ended
    assert await store.infusions(study_id="S-001") == [ended]


async def test_a_new_patient_does_not_see_the_previous_infusion(store: Store) -> None:
    await store.enrol_patient(bed="ICU-1", study_id="A", weight_kg=70, arm="cells", ards_onset=None)
    await store.start_infusion(
        bed="ICU-1", t=T0, weight_kg=None, volume_ml=100, planned_min=45, source="pump"
    )
    await store.end_infusion(bed="ICU-1", t=T0 + timedelta(hours=1))
    await store.enrol_patient(bed="ICU-1", study_id="B", weight_kg=80, arm="cells", ards_onset=None)
    assert await store.current_infusion("ICU-1") is None
    [bed] = await store.list_beds()
    assert bed.patient is not None and bed.patient.study_id == "B" and bed.infusion is None
    second = await store.start_infusion(
        bed="ICU-1",
        t=T0 + timedelta(days=1),
        weight_kg=None,
        volume_ml=90,
        planned_min=40,
        source="pump",
    )
    assert second.study_id == "B" and second.weight_kg == 80
    assert await store.current_infusion("ICU-1") == second


async def test_infusion_without_a_patient(store: Store) -> None:
    inf = await store.start_infusion(
        bed="ICU-5", t=T0, weight_kg=65, volume_ml=None, planned_min=None, source="pump"
    )
    assert inf.study_id is None and inf.weight_kg == 65
    assert await store.current_infusion("ICU-5") == inf
