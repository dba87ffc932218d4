"""Migration 0005 on a database filled by the previous head (0003): nothing is lost, the old
gases read as mmHg, old accounts keep their roles, and the new roles and tables work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pgschema import create_pg_schema, drop_pg_schema, pg_url
from sqlalchemy import text

from app.store import Store
from app.store.engine import make_engine
from app.store.migrate import head_revisions, upgrade
from app.store.rows import Role

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

ROWS = {
    "beds": [{"bed": "ICU-1", "label": "Bed 1"}],
    "patients": [
        {
            "study_id": "UC-001",
            "bed": "ICU-1",
            "weight_kg": 70.0,
            "arm": "cells",
            "ards_onset": T,
            "age_years": 50,
            "enrolled_at": T,
        },
    ],
    "users": [
        {
            "username": "nina",
            "role": "nurse",
            "password_hash": "x",
            "created_at": T,
            "disabled": False,
        },
    ],
    "blood_gases": [
        {
            "study_id": "UC-001",
            "t": T,
            "pao2_mmhg": 71.5,
            "paco2_mmhg": 45.0,
            "ph": 7.31,
            "fio2_pct": None,
            "entered_by": "nina",
            "entered_at": T,
            "note": "first",
        },
    ],
    "exclusion_answers": [
        {
            "study_id": "UC-001",
            "item": "malignancy",
            "answer": "absent",
            "by": "dr.lee",
            "t": T,
            "note": None,
        },
    ],
    "infusions": [
        {
            "bed": "ICU-1",
            "study_id": "UC-001",
            "started_at": T,
            "ended_at": None,
            "weight_kg": 70.0,
            "volume_ml": 100.0,
            "planned_min": 45.0,
            "source": "clinician",
            "start_uncertainty_s": 12.5,
            "start_time_source": "seen_at_reconnect",
        },
    ],
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    try:
        name = await create_pg_schema()
    except ConnectionError as exc:
        pytest.skip(str(exc))
    try:
        yield pg_url(name)
    finally:
        await drop_pg_schema(name)


async def _fill(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for table, rows in ROWS.items():
                for row in rows:
                    cols = ", ".join(f'"{c}"' for c in row)
                    marks = ", ".join(f":{c}" for c in row)
                    await conn.execute(text(f"INSERT INTO {table} ({cols}) VALUES ({marks})"), row)
    finally:
        await engine.dispose()


async def test_upgrade_from_0003_keeps_every_row(empty_url: str) -> None:
    assert await upgrade(empty_url, "0003") == ("0003",)
    await _fill(empty_url)
    assert await upgrade(empty_url) == head_revisions()
    store = await Store.open(empty_url)
    try:
        [gas] = await store.blood_gases("UC-001")
        assert (gas.pao2_mmhg, gas.paco2_mmhg, gas.ph, gas.note) == (71.5, 45.0, 7.31, "first")
        assert gas.gas_unit is None and gas.pao2_entered is None  # entered before: mmHg
        assert (await store.exclusions("UC-001"))["malignancy"].present is False
        user = await store.user("nina")
        assert user is not None and user.role is Role.NURSE
        [infusion] = await store.infusions(study_id="UC-001")
        assert infusion.start_uncertainty_s == 12.5
        assert infusion.start_time_source == "seen_at_reconnect"
        # the new roles and tables work on the upgraded database
        await store.add_user("dr.lee", Role.INVESTIGATOR, "y")
        await store.add_user("chen", Role.COORDINATOR, "z")
        await store.add_fact(
            study_id="UC-001",
            kind="body",
            data={"height_cm": 170, "sex": "female"},
            by="chen",
            t=T,
        )
        assert (await store.facts("UC-001"))["body"].data["sex"] == "female"
        ae = await store.add_adverse_event(
            study_id="UC-001",
            by="chen",
            t=T,
            alert_ids=[],
            term="rigors",
            meddra_code=None,
            onset=T,
            resolved_at=None,
            ctcae_grade=1,
            seriousness=[],
            causality_product="possible",
            causality_procedure="unlikely",
            expected=True,
            action_taken="none",
            treatment=None,
            outcome="recovered",
            reporter="chen",
            aware_at=T,
        )
        assert (await store.adverse_events_of("UC-001"))[0].id == ae.id
    finally:
        await store.close()
