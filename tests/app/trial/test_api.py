"""The trial endpoints through the real app: views without the arm, gases, exclusions, the
guarded infusion start with its audited override, index trends, and the report formats."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta

import httpx
from fastapi import Depends, FastAPI

from app.api.trial import bed_infusion_guard
from app.context import AppContext
from app.store.rows import Role
from core.clock import VirtualClock
from core.model import DeviceEvent, Observation
from monitors.trial.eligibility import EXCLUSIONS

from .conftest import BED, SID, T0, headers, ventilate


async def _enrol(ctx: AppContext) -> None:
    await ctx.store.upsert_bed(BED)
    await ctx.store.enrol_patient(
        bed=BED,
        study_id=SID,
        weight_kg=80.0,
        arm="cells",
        ards_onset=T0 - timedelta(hours=30),
        age_years=61,
        enrolled_at=T0 - timedelta(hours=12),
    )


async def test_trial_view_never_shows_the_arm(client: httpx.AsyncClient, ctx: AppContext) -> None:
    await _enrol(ctx)
    nurse = headers(ctx, "nina", Role.NURSE)
    r = await client.get(f"/api/patients/{SID}/trial", headers=nurse)
    assert r.status_code == 200, r.text
    body = r.json()
    assert '"arm"' not in json.dumps(body)
    assert body["order"]["dose_cells"] == 80e6 and body["order"]["rate_ml_h"] == [100.0, 200.0]
    assert body["eligibility"]["verdict"] == "incomplete"
    assert len(body["eligibility"]["items"]) == 9 + len(EXCLUSIONS)
    r = await client.get(f"/api/patients/{SID}/order", headers=nurse)
    assert r.json()["dose_text"] == "80.0 × 10^6 cells"
    assert (await client.get("/api/patients/nobody/trial", headers=nurse)).status_code == 404
    assert (await client.get(f"/api/patients/{SID}/trial")).status_code == 401


async def test_blood_gas_entry_goes_to_the_engine_and_pairs_the_ventilator(
    client: httpx.AsyncClient, ctx: AppContext, vclock: VirtualClock
) -> None:
    await _enrol(ctx)
    await ventilate(ctx.store, T0 - timedelta(minutes=30), T0, fio2=50, peep=10)
    sub = ctx.bus.subscribe()
    nurse = headers(ctx, "nina", Role.NURSE)
    r = await client.post(
        f"/api/patients/{SID}/blood-gases",
        json={"unit": "mmHg", "pao2": 80, "ph": 7.3, "t": "2026-03-01T07:59:00Z"},
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    g = r.json()
    assert g["pf_ratio"] == 160.0 and g["fio2_pct"] == 50 and g["peep_cmh2o"] == 10
    assert g["oxygenation_index"] == 11.25  # 0.5 × 18 × 100 / 80
    async with asyncio.timeout(1):
        ev = await anext(aiter(sub))
    assert isinstance(ev, DeviceEvent) and ev.event == "blood_gas"
    assert ev.fields["pao2_mmhg"] == 80 and ev.fields["entered_by"] == "nina"
    sub.close()
    r = await client.post(
        f"/api/patients/{SID}/blood-gases",
        json={"unit": "mmHg", "pao2": 80, "t": "2026-03-01T09:00:00Z"},
        headers=nurse,
    )
    assert r.status_code == 422  # in the future
    eng = headers(ctx, "eric", Role.ENGINEER)
    r = await client.post(
        f"/api/patients/{SID}/blood-gases", json={"unit": "mmHg", "pao2": 80}, headers=eng
    )
    assert r.status_code == 403


async def test_exclusions_and_the_guarded_infusion_start(
    client: httpx.AsyncClient, ctx: AppContext, app: FastAPI
) -> None:
    await _enrol(ctx)
    nurse = headers(ctx, "nina", Role.NURSE)
    r = await client.put(
        f"/api/patients/{SID}/exclusions/nonsense", json={"present": False}, headers=nurse
    )
    assert r.status_code == 404
    r = await client.put(
        f"/api/patients/{SID}/exclusions/malignancy", json={"present": False}, headers=nurse
    )
    item = next(i for i in r.json()["items"] if i["id"] == "malignancy")
    assert item["status"] == "met" and "nina" in item["source"]

    # the record is incomplete: refused, with the checklist
    start = {"planned_min": 45}
    r = await client.post(f"/api/patients/{SID}/infusion/start", json=start, headers=nurse)
    assert r.status_code == 409
    assert r.json()["detail"]["eligibility"]["verdict"] == "incomplete"
    assert await ctx.store.current_infusion(BED) is None

    # the bed endpoint's guard refuses too
    async def guarded(bed: str) -> dict[str, str]:
        return {"ok": bed}

    app.add_api_route(
        "/test/guard/{bed}", guarded, methods=["POST"], dependencies=[Depends(bed_infusion_guard)]
    )
    r = await client.post(f"/test/guard/{BED}", headers=nurse)
    assert r.status_code == 409 and "override_reason" in r.json()["detail"]["message"]

    # an explicit override starts it and is audited: who, when, why, what was missing
    sub = ctx.bus.subscribe()
    start["override_reason"] = "PI decision: second gas delayed by lab outage"
    r = await client.post(f"/api/patients/{SID}/infusion/start", json=start, headers=nurse)
    assert r.status_code == 201, r.text
    assert r.json()["volume_ml"] == 100 and r.json()["order"]["dose_cells"] == 80e6
    async with asyncio.timeout(1):
        ev = await anext(aiter(sub))
    sub.close()
    assert isinstance(ev, DeviceEvent) and ev.event == "infusion_start"
    assert "arm" not in ev.fields and ev.fields["weight_kg"] == 80.0
    log = await ctx.store.audit_for(SID, prefix="trial.override")
    assert len(log) == 1 and log[0]["actor"] == "nina" and log[0]["t"] == T0
    assert log[0]["details"]["reason"] == start["override_reason"]
    assert log[0]["details"]["verdict"] == "incomplete"
    assert log[0]["details"]["failing"]["invasive_airway"] == "unknown"
    # one study infusion per patient
    r = await client.post(
        f"/api/patients/{SID}/infusion/start", json={"planned_min": 45}, headers=nurse
    )
    assert r.status_code == 409


async def test_index_trends(client: httpx.AsyncClient, ctx: AppContext) -> None:
    await _enrol(ctx)
    obs = []
    for m in range(0, 60):
        t = T0 - timedelta(minutes=m)
        for code, v, unit in (
            ("MDC_PULS_OXIM_SAT_O2", 92.0, "%"),
            ("MDC_VENT_CONC_AWAY_O2_INSP", 40.0, "%"),
            ("MDC_PRESS_RESP_PLAT", 28.0, "cm[H2O]"),
            ("MDC_PRESS_AWAY_END_EXP_POS", 12.0, "cm[H2O]"),
            ("MDC_VOL_AWAY_TIDAL_EXP", 420.0, "mL"),
        ):
            obs.append(Observation(t=t, bed=BED, code=code, value=v, unit=unit, device="v"))
    await ctx.store.add_observations(obs)
    nurse = headers(ctx, "nina", Role.NURSE)
    r = await client.get(
        f"/api/beds/{BED}/indices", params={"hours": 2, "points": 24}, headers=nurse
    )
    assert r.status_code == 200, r.text
    idx = r.json()["indices"]
    assert {v for _, v in idx["IAEW_SF_RATIO"]["points"]} == {230.0}
    assert {v for _, v in idx["IAEW_DRIVING_PRESSURE"]["points"]} == {16.0}
    assert {v for _, v in idx["IAEW_STATIC_COMPLIANCE"]["points"]} == {26.25}
    assert idx["IAEW_PF_RATIO"]["points"] == []  # no blood gas
    assert "97" in idx["IAEW_SF_RATIO"]["formula"]
    assert (await client.get("/api/beds/NOPE/indices", headers=nurse)).status_code == 404


async def test_report_formats_and_the_arm(client: httpx.AsyncClient, ctx: AppContext) -> None:
    await _enrol(ctx)
    nurse = headers(ctx, "nina", Role.NURSE)
    admin = headers(ctx, "ada", Role.ADMIN)
    url = f"/api/patients/{SID}/report"
    r = await client.get(url, headers=nurse)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert SID in r.text and "cells" not in r.text.replace("cells/kg", "").replace(
        "× 10^6 cells", ""
    )
    r = await client.get(url, params={"format": "pdf"}, headers=nurse)
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    r = await client.get(url, params={"format": "csv"}, headers=nurse)
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["study_id", "section", "item", "t", "value", "unit", "detail"]
    r = await client.get(url, params={"format": "json"}, headers=nurse)
    assert "arm" not in r.json()["patient"]
    assert (await client.get(url, params={"arm": "true"}, headers=nurse)).status_code == 403
    r = await client.get(url, params={"format": "json", "arm": "true"}, headers=admin)
    assert r.json()["patient"]["arm"] == "cells"
    assert (await client.get("/api/patients/nobody/report", headers=nurse)).status_code == 404
    assert (await client.get(url, params={"format": "docx"}, headers=nurse)).status_code == 422
