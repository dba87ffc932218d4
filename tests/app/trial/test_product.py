"""The product record: the weight basis used in the dose, the checklist's problems, and a
pump start without a complete checklist raising an alert that asks for a reason."""

from __future__ import annotations

import httpx
import pytest

from app.context import AppContext
from app.product_check import RULE, check_pump_start
from app.store.rows import Role
from core.model import Category, DeviceEvent, EventSource

from .conftest import BED, SID, T0, confirm_enrolment, headers
from .test_api import _enrol

BAG = {
    "weight_basis": "pbw",
    "bag_id": "BAG-0042",
    "lot_id": "UCMSC-2026-007",
    "cell_count": 8.0e7,
    "viability_pct": 92.5,
    "prepared_at": "2026-03-01T05:00:00Z",
    "expires_at": "2026-03-01T11:00:00Z",
    "preservation": "cryopreserved_dmso",
    "washed": True,
    "lumen_confirmed": True,
}


async def test_weight_basis_dose_and_problems(client: httpx.AsyncClient, ctx: AppContext) -> None:
    await _enrol(ctx)  # 80 kg actual
    coord = headers(ctx, "chen", Role.COORDINATOR)
    r = await client.put(f"/api/patients/{SID}/product", json=BAG, headers=coord)
    assert r.status_code == 422 and "height and sex" in r.json()["detail"]
    await confirm_enrolment(ctx.store)  # male, 175 cm: PBW 70.6 kg
    r = await client.put(f"/api/patients/{SID}/product", json=BAG, headers=coord)
    assert r.status_code == 200, r.text
    p = r.json()
    assert (
        p["complete"] and p["dose_weight_kg"] == 70.6 and p["dose_cells"] == pytest.approx(70.6e6)
    )
    order = (await client.get(f"/api/patients/{SID}/order", headers=coord)).json()
    assert order["dose_cells"] == pytest.approx(70.6e6)
    capped = BAG | {"weight_basis": "capped", "cap_kg": 75}
    p = (await client.put(f"/api/patients/{SID}/product", json=capped, headers=coord)).json()
    assert p["dose_weight_kg"] == 75.0 and p["weight_basis"] == "capped"
    bad = BAG | {
        "viability_pct": 60,
        "lumen_confirmed": False,
        "expires_at": "2026-03-01T07:00:00Z",
        "cell_count": 5e7,
    }
    p = (await client.put(f"/api/patients/{SID}/product", json=bad, headers=coord)).json()
    assert not p["complete"]
    text = " | ".join(p["problems"])
    for words in ("less than the dose", "viability 60 % < 70 %", "expired", "lumen"):
        assert words in text
    eng = headers(ctx, "eric", Role.ENGINEER)
    assert (
        await client.put(f"/api/patients/{SID}/product", json=BAG, headers=eng)
    ).status_code == 403


async def test_a_pump_start_without_the_checklist_raises_an_alert_and_asks_why(
    client: httpx.AsyncClient, ctx: AppContext
) -> None:
    await _enrol(ctx)
    start = DeviceEvent(
        t=T0,
        bed=BED,
        event="infusion_start",
        fields={},
        source=EventSource.DEVICE,
        device="pump:study",
    )
    alert = await check_pump_start(ctx, start)
    assert alert is not None and alert.category is Category.INFUSION_PROBLEM
    assert alert.rule == RULE and "no product checklist recorded" in alert.message
    assert (await ctx.store.alert(alert.id)) is not None
    nurse = headers(ctx, "nina", Role.NURSE)
    r = await client.post(
        f"/api/patients/{SID}/unchecked-start-reason",
        json={"reason": "bag checked on paper, system down"},
        headers=nurse,
    )
    assert r.status_code == 201 and r.json()["alert_id"] == alert.id
    [entry] = await ctx.store.audit_for(SID, prefix="trial.unchecked_start_reason")
    assert entry["actor"] == "nina" and entry["details"]["alert_id"] == alert.id
    # with a complete checklist a pump start is fine; a clinician's start is not the pump's
    await confirm_enrolment(ctx.store)
    coord = headers(ctx, "chen", Role.COORDINATOR)
    await client.put(f"/api/patients/{SID}/product", json=BAG, headers=coord)
    assert await check_pump_start(ctx, start) is None
    assert (
        await check_pump_start(
            ctx,
            DeviceEvent(
                t=T0, bed=BED, event="infusion_start", fields={}, source=EventSource.CLINICIAN
            ),
        )
        is None
    )


async def test_the_api_start_needs_the_checklist(
    client: httpx.AsyncClient, ctx: AppContext
) -> None:
    await _enrol(ctx)
    nurse = headers(ctx, "nina", Role.NURSE)
    r = await client.post(
        f"/api/patients/{SID}/infusion/start", json={"planned_min": 45}, headers=nurse
    )
    assert r.status_code == 409
    assert r.json()["detail"]["product"]["problems"] == ["no product checklist recorded"]
