"""Patients: enrolment, lookup, conflicts."""

from __future__ import annotations

import httpx
import pytest

ENROL = {
    "study_id": "UC-007",
    "bed": "ICU-2",
    "weight_kg": 81,
    "arm": "unknown",
    "ards_onset": "2026-02-28T22:00:00+01:00",
    "age_years": 58,
}


async def test_enrol_get_and_list(client: httpx.AsyncClient, nurse: dict[str, str]) -> None:
    r = await client.post("/api/patients", json=ENROL, headers=nurse)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "study_id": "UC-007",
        "bed": "ICU-2",
        "weight_kg": 81.0,
        "arm": "unknown",
        "ards_onset": "2026-02-28T21:00:00Z",
        "age_years": 58,
    }
    r = await client.get("/api/patients/UC-007", headers=nurse)
    assert r.status_code == 200
    assert r.json()["bed"] == "ICU-2"
    r = await client.get("/api/patients", headers=nurse)
    assert [p["study_id"] for p in r.json()] == ["UC-007"]
    bed = (await client.get("/api/beds/ICU-2", headers=nurse)).json()
    assert bed["patient"]["study_id"] == "UC-007"


async def test_enrol_conflicts(client: httpx.AsyncClient, nurse: dict[str, str]) -> None:
    assert (await client.post("/api/patients", json=ENROL, headers=nurse)).status_code == 201
    taken = {**ENROL, "study_id": "UC-008"}
    r = await client.post("/api/patients", json=taken, headers=nurse)
    assert r.status_code == 409
    assert "has a patient" in r.json()["detail"]
    elsewhere = {**ENROL, "bed": "ICU-3"}
    r = await client.post("/api/patients", json=elsewhere, headers=nurse)
    assert r.status_code == 409


async def test_unknowns_are_404(client: httpx.AsyncClient, nurse: dict[str, str]) -> None:
    assert (await client.get("/api/patients/UC-404", headers=nurse)).status_code == 404
    r = await client.post("/api/patients", json={**ENROL, "bed": "ICU-99"}, headers=nurse)
    assert r.status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"arm": "placebo"},
        {"weight_kg": 0},
        {"study_id": ""},
        {"study_id": "has space"},
        {"ards_onset": "yesterday"},
        {"age_years": -1},
        {"favourite_colour": "blue"},
    ],
)
async def test_enrol_validation(
    client: httpx.AsyncClient, nurse: dict[str, str], change: dict
) -> None:
    r = await client.post("/api/patients", json={**ENROL, **change}, headers=nurse)
    assert r.status_code == 422, r.text


async def test_engineers_cannot_enrol(client: httpx.AsyncClient, engineer: dict[str, str]) -> None:
    assert (await client.post("/api/patients", json=ENROL, headers=engineer)).status_code == 403
    assert (await client.get("/api/patients", headers=engineer)).status_code == 200
