"""API inputs at their limits: time spans, tiny and non-finite numbers (422 with a reason)."""

from __future__ import annotations

import httpx
import pytest

SPO2 = "MDC_PULS_OXIM_SAT_O2"


@pytest.mark.parametrize("hours", ["5e-324", "0", "nan", "inf", "-1", "73", "0.1"])
async def test_spans_outside_15_min_to_72_h_are_refused(
    client: httpx.AsyncClient, nurse: dict[str, str], hours: str
) -> None:
    for path in (
        f"/api/beds/ICU-1/trends?codes={SPO2}&hours={hours}",
        f"/api/beds/ICU-1/indices?hours={hours}",
    ):
        r = await client.get(path, headers=nurse)
        assert r.status_code == 422, (path, r.text)
        assert "hours" in r.text


async def test_the_smallest_span_is_served(
    client: httpx.AsyncClient, nurse: dict[str, str]
) -> None:
    r = await client.get(f"/api/beds/ICU-1/trends?codes={SPO2}&hours=0.25", headers=nurse)
    assert r.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"volume_ml": 100, "planned_min": 5e-324},
        {"volume_ml": 1e-300, "planned_min": 45},
        {"volume_ml": 100, "planned_min": 45, "weight_kg": 0.001},
        {"volume_ml": 100, "planned_min": 45, "weight_kg": 4000},
    ],
)
async def test_infusion_numbers_keep_their_physical_range(
    client: httpx.AsyncClient, nurse: dict[str, str], body: dict[str, float]
) -> None:
    r = await client.post("/api/beds/ICU-1/infusion/start", json=body, headers=nurse)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_numbers_in_bodies_are_refused(
    client: httpx.AsyncClient, nurse: dict[str, str], number: str
) -> None:
    raw = '{"volume_ml": 100, "planned_min": ' + number + "}"
    r = await client.post(
        "/api/beds/ICU-1/infusion/start",
        content=raw,
        headers={**nurse, "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
