"""Versioned forms, record locks and control patients in the store (migration 0006)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.store import DuplicateError, Store
from app.store._dataset import RecordLocked
from app.store.rows import Arm

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def test_a_locked_record_refuses_an_edit_without_a_reason(store: Store) -> None:
    await store.register_control(study_id="C-001", weight_kg=70, enrolled_at=T0)
    first = await store.save_form(
        "C-001", "outcomes", {"vital_status_d28": "alive"}, by="coord", t=T0
    )
    assert first.version == 1 and first.reason is None
    await store.set_lock("C-001", locked=True, by="dr.li", t=T0 + timedelta(days=30))
    for reason in (None, "", "   "):
        with pytest.raises(RecordLocked, match=r"locked by dr\.li"):
            await store.save_form(
                "C-001", "outcomes", {"vital_status_d28": "dead"}, by="coord", t=T0, reason=reason
            )
    assert [v.version for v in await store.form_versions("C-001", "outcomes")] == [1]
    second = await store.save_form(
        "C-001",
        "outcomes",
        {"vital_status_d28": "dead"},
        by="coord",
        t=T0 + timedelta(days=31),
        reason="death certificate received",
    )
    versions = await store.form_versions("C-001", "outcomes")
    assert [(v.version, v.data["vital_status_d28"], v.reason) for v in versions] == [
        (1, "alive", None),
        (2, "dead", "death certificate received"),
    ]
    assert (await store.current_forms())[("C-001", "outcomes")] == second


async def test_unlock_allows_edits_again_and_unknown_patients_are_refused(store: Store) -> None:
    await store.register_control(study_id="C-002", weight_kg=60, enrolled_at=T0)
    await store.set_lock("C-002", locked=True, by="dr.li", t=T0)
    await store.set_lock("C-002", locked=False, by="dr.li", t=T0, reason="query from monitor")
    lock = await store.lock_state("C-002")
    assert lock is not None and not lock.locked
    await store.save_form("C-002", "covariates", {"sex": "F"}, by="coord", t=T0)
    with pytest.raises(KeyError):
        await store.save_form("NOPE", "covariates", {}, by="coord", t=T0)
    with pytest.raises(KeyError):
        await store.set_lock("NOPE", locked=True, by="dr.li", t=T0)
    with pytest.raises(ValueError, match="form must be one of"):
        await store.save_form("C-002", "labs", {}, by="coord", t=T0)


async def test_controls_are_patients_without_a_bed(store: Store) -> None:
    p = await store.register_control(study_id="C-003", weight_kg=82.5, enrolled_at=T0, age_years=61)
    assert p.bed is None and p.arm is Arm.SALINE and p.age_years == 61
    with pytest.raises(DuplicateError):
        await store.register_control(study_id="C-003", weight_kg=80, enrolled_at=T0)
    await store.enrol_patient(
        bed="ICU-1", study_id="UC-001", weight_kg=70, arm="cells", ards_onset=None
    )
    assert [q.study_id for q in await store.all_patients()] == ["C-003", "UC-001"]
