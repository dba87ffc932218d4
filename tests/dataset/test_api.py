"""The dataset API: role-restricted entry, locks with reasons, controls, and exports."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from app.auth import issue_token
from app.context import AppContext
from app.main import create_app
from app.security import hash_password
from app.settings import Settings
from app.store import Store
from app.store.rows import Role
from core.bus import InProcessBus
from core.clock import VirtualClock

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
USERS = {
    "nina": Role.NURSE,
    "ada": Role.ADMIN,
    "chen": Role.COORDINATOR,
    "dr.li": Role.INVESTIGATOR,
}


@pytest.fixture
async def app(url: str, populate: Callable[[Store], Awaitable[None]]) -> AsyncIterator[FastAPI]:
    s = await Store.open(url, clock=VirtualClock(T0))
    try:
        password = hash_password("correct horse battery")
        for name, role in USERS.items():
            await s.add_user(name, role, password)
        await populate(s)
    finally:
        await s.close()
    settings = Settings(mode="test", database_url=url, secret_key="s" * 48)  # type: ignore[arg-type]
    application = create_app(settings, clock=VirtualClock(NOW), bus=InProcessBus())
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://iaewatch.test"
    ) as c:
        yield c


def as_(app: FastAPI, user: str) -> dict[str, str]:
    ctx: AppContext = app.state.ctx
    token, _ = issue_token(ctx, user, USERS[user])
    return {"Authorization": f"Bearer {token}"}


async def test_locked_record_needs_a_reason_and_keeps_versions(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    path = "/api/dataset/patients/UC-001/forms/outcomes"
    body = {"data": {"vital_status_d28": "dead", "death_at": "2026-03-20T08:00:00Z"}}
    r = await client.put(path, json=body, headers=as_(app, "chen"))
    assert r.status_code == 409 and "needs a reason" in r.json()["detail"]
    r = await client.put(
        path, json={**body, "reason": "late death notice"}, headers=as_(app, "chen")
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    r = await client.get(path + "/versions", headers=as_(app, "dr.li"))
    assert [(v["version"], v["reason"]) for v in r.json()] == [(1, None), (2, "late death notice")]
    r = await client.get("/api/dataset/patients/UC-001", headers=as_(app, "chen"))
    assert r.json()["computed"]["free_days_d28"]["ventilator"] == 0.0


async def test_roles(app: FastAPI, client: httpx.AsyncClient) -> None:
    r = await client.put(
        "/api/dataset/patients/C-001/forms/covariates",
        json={"data": {"sex": "F"}},
        headers=as_(app, "nina"),
    )
    assert r.status_code == 403
    r = await client.post("/api/dataset/patients/C-001/lock", json={}, headers=as_(app, "chen"))
    assert r.status_code == 403
    r = await client.post("/api/dataset/patients/C-001/lock", json={}, headers=as_(app, "dr.li"))
    assert r.status_code == 200 and r.json()["locked"] is True
    r = await client.post("/api/dataset/patients/C-001/unlock", json={}, headers=as_(app, "dr.li"))
    assert r.status_code == 422  # an unlock needs a reason
    r = await client.get("/api/dataset/export?format=csv&arm=true", headers=as_(app, "dr.li"))
    assert r.status_code == 403
    r = await client.get("/api/dataset/export?format=csv", headers=as_(app, "nina"))
    assert r.status_code == 403


async def test_bad_forms_are_refused_with_their_reason(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    h = as_(app, "chen")
    r = await client.put(
        "/api/dataset/patients/C-001/forms/covariates",
        json={"data": {"height_cm": 20}},
        headers=h,
    )
    assert r.status_code == 422 and "height_cm" in r.json()["detail"]
    r = await client.put(
        "/api/dataset/patients/C-001/forms/biomarkers",
        json={
            "data": {
                "samples": [
                    {"marker": "il99", "timepoint": "h6", "t": "2026-03-01T00:00:00Z", "value": 1}
                ]
            }
        },
        headers=h,
    )
    assert r.status_code == 422 and "il99" in r.json()["detail"]
    r = await client.put(
        "/api/dataset/patients/C-001/forms/outcomes",
        json={
            "data": {
                "vital_status_d28": "alive",
                "ventilation": [{"t": "2026-03-01T00:00:00Z", "event": "reintubation"}],
            }
        },
        headers=h,
    )
    assert r.status_code == 422 and "already on" in r.json()["detail"]
    r = await client.put("/api/dataset/patients/NOPE/forms/outcomes", json={"data": {}}, headers=h)
    assert r.status_code == 404


async def test_controls_and_exports(app: FastAPI, client: httpx.AsyncClient) -> None:
    h = as_(app, "chen")
    control = {"study_id": "C-002", "weight_kg": 65, "enrolled_at": "2026-03-02T10:00:00Z"}
    assert (await client.post("/api/dataset/controls", json=control, headers=h)).status_code == 201
    assert (await client.post("/api/dataset/controls", json=control, headers=h)).status_code == 409
    r = await client.get("/api/dataset/export?format=csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["x-audit-chain-head"]
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert {"patients.csv", "data_dictionary.csv", "manifest.json", "alerts.csv"} <= set(names)
    rows = zipfile.ZipFile(io.BytesIO(r.content)).read("patients.csv").decode().splitlines()
    assert [x.split(",")[0] for x in rows[1:]] == ["C-001", "C-002", "UC-001"]
    r = await client.get("/api/dataset/export?format=odm", headers=as_(app, "ada"))
    assert r.status_code == 200 and r.content.startswith(b"<?xml")
    r = await client.get("/api/dataset/export?format=sdtm&arm=true", headers=as_(app, "ada"))
    dm = zipfile.ZipFile(io.BytesIO(r.content)).read("dm.csv").decode()
    assert ",CELLS,Cells,CELLS,Cells" in dm
