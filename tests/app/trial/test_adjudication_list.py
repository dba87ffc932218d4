"""`GET /api/adjudications?alert_id=…`: the adjudications in force for a page's alerts in one
call (the trial page shows them beside each alert); an alert not adjudicated is absent."""

from __future__ import annotations

import httpx

from app.context import AppContext
from app.store.rows import Role

from .conftest import headers
from .test_adverse_events import PASSWORD, PE_ALERTS, _setup


async def test_the_adjudications_of_several_alerts(
    client: httpx.AsyncClient, ctx: AppContext
) -> None:
    await _setup(ctx)
    inv = headers(ctx, "dr.lee", Role.INVESTIGATOR)
    nurse = headers(ctx, "nina", Role.NURSE)
    r = await client.post(
        "/api/adjudications",
        json={
            "alert_ids": ["embolism", "hypoxemia"],
            "verdict": "not_iae",
            "reason": "pre_existing",
            "password": PASSWORD,
            "meaning": "reviewed",
        },
        headers=inv,
    )
    assert r.status_code == 201, r.text
    ids = [n for n, _ in PE_ALERTS]
    r = await client.get("/api/adjudications", params={"alert_id": ids}, headers=nurse)
    assert r.status_code == 200
    found = r.json()
    assert sorted(found) == ["embolism", "hypoxemia"]
    assert found["hypoxemia"]["verdict"] == "not_iae"
    assert found["hypoxemia"]["reason"] == "pre_existing"
    assert found["embolism"]["signature"]["signer"] == "dr.lee"
    assert (await client.get("/api/adjudications", headers=nurse)).status_code == 422
