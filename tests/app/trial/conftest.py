"""Fixtures for the trial workflow: a migrated SQLite store per test, an enrolled patient,
and the app with a nurse's and an admin's token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pgschema import create_pg_schema, drop_pg_schema, pg_url

from app.auth import issue_token
from app.context import AppContext
from app.main import create_app
from app.security import hash_password
from app.settings import Settings
from app.store import Store
from app.store.migrate import upgrade
from app.store.rows import Role
from core.bus import InProcessBus
from core.clock import VirtualClock
from core.model import Observation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
BED = "ICU-1"
SID = "UC-017"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated database: SQLite, and PostgreSQL (skipped only when unreachable)."""
    if request.param == "sqlite":
        u = f"sqlite+aiosqlite:///{tmp_path / 'trial.db'}"
        await upgrade(u)
        yield u
        return
    try:
        name = await create_pg_schema()
    except ConnectionError as exc:
        pytest.skip(str(exc))
    try:
        await upgrade(pg_url(name))
        yield pg_url(name)
    finally:
        await drop_pg_schema(name)


@pytest.fixture
async def store(url: str, vclock: VirtualClock) -> AsyncIterator[Store]:
    s = await Store.open(url, clock=vclock)
    try:
        yield s
    finally:
        await s.close()


def vent(t: datetime, fio2: float, peep: float, pmean: float = 18.0) -> list[Observation]:
    """One ventilator frame: FiO2, PEEP and mean airway pressure."""
    return [
        Observation(t=t, bed=BED, code=code, value=v, unit=unit, device="ventilator")
        for code, v, unit in (
            ("MDC_VENT_CONC_AWAY_O2_INSP", fio2, "%"),
            ("MDC_PRESS_AWAY_END_EXP_POS", peep, "cm[H2O]"),
            ("MDC_PRESS_AWAY_MEAN", pmean, "cm[H2O]"),
        )
    ]


async def ventilate(
    store: Store, since: datetime, until: datetime, fio2: float, peep: float
) -> None:
    """A ventilator frame every minute over [since, until]."""
    batch: list[Observation] = []
    t = since
    while t <= until:
        batch += vent(t, fio2, peep)
        t += timedelta(minutes=1)
    await store.add_observations(batch)


async def confirm_enrolment(
    store: Store, t: datetime = T0 - timedelta(hours=2), *, skip: str | None = None
) -> None:
    """Record consent, imaging, airway, height and sex, and protective ventilation (all but
    `skip`)."""
    facts: dict[str, dict[str, object]] = {
        "consent": {
            "consenter": "legal_representative",
            "consenter_name": "Wang Li (spouse)",
            "t": t,
            "taken_by": "coord.chen",
        },
        "imaging": {"modality": "ct", "t": t, "reader": "dr.zhao", "bilateral": True},
        "airway": {"kind": "endotracheal_tube", "confirmed_by": "dr.lee", "t": t},
        "body": {"height_cm": 175.0, "sex": "male"},
        "protective_ventilation": {"by": "dr.lee", "t": t, "note": "VT 6 mL/kg PBW, Pplat 26"},
    }
    for kind, data in facts.items():
        if kind == skip:
            continue
        await store.add_fact(study_id=SID, kind=kind, data=data, by="coord.chen", t=t)


@pytest.fixture
async def enrolled(store: Store) -> Store:
    await store.upsert_bed(BED, label="Bed 1")
    await store.enrol_patient(
        bed=BED,
        study_id=SID,
        weight_kg=80.0,
        arm="saline",
        ards_onset=T0 - timedelta(hours=30),
        age_years=61,
        enrolled_at=T0 - timedelta(hours=12),
    )
    return store


@pytest.fixture
async def app(url: str, vclock: VirtualClock) -> AsyncIterator[FastAPI]:
    s = await Store.open(url)
    try:
        for name, role in (
            ("nina", Role.NURSE),
            ("ada", Role.ADMIN),
            ("eric", Role.ENGINEER),
            ("chen", Role.COORDINATOR),
            ("dr.lee", Role.INVESTIGATOR),
        ):
            await s.add_user(name, role, hash_password("correct horse battery"))
    finally:
        await s.close()
    settings = Settings(mode="test", database_url=url, secret_key="s" * 48)  # type: ignore[arg-type]
    application = create_app(settings, clock=vclock, bus=InProcessBus())
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def ctx(app: FastAPI) -> AppContext:
    c: AppContext = app.state.ctx
    return c


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://iaewatch.test") as c:
        yield c


def headers(ctx: AppContext, user: str, role: Role) -> dict[str, str]:
    token, _ = issue_token(ctx, user, role)
    return {"Authorization": f"Bearer {token}"}
