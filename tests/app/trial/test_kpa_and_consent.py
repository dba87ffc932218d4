"""Through the API: a gas typed in kPa gives the right P/F and verdict, and a missing consent
or imaging reading blocks the infusion start."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from app.context import AppContext
from app.store.rows import Role
from monitors.trial.eligibility import EXCLUSIONS

from .conftest import SID, T0, confirm_enrolment, headers, ventilate
from .test_api import _enrol
from .test_product import BAG

KPA = 1000 / 133.322387415  # mmHg per kPa (1 mmHg = 133.322387415 Pa)


def _item(check: dict[str, object], item: str) -> dict[str, object]:
    return next(i for i in check["items"] if i["id"] == item)  # type: ignore[attr-defined]


async def _ready(ctx: AppContext, client: httpx.AsyncClient, fio2: float) -> None:
    await _enrol(ctx)
    await ventilate(ctx.store, T0 - timedelta(hours=11), T0, fio2=fio2, peep=10)
    for item, _ in EXCLUSIONS:
        await ctx.store.confirm_exclusion(
            study_id=SID, item=item, present=False, by="dr.lee", t=T0 - timedelta(hours=1)
        )


async def test_kpa_gases_give_the_true_pf_and_verdict(
    client: httpx.AsyncClient, ctx: AppContext
) -> None:
    await _ready(ctx, client, fio2=40)
    await confirm_enrolment(ctx.store)
    coord = headers(ctx, "chen", Role.COORDINATOR)
    for t, kpa in (("2026-02-28T22:00:00Z", 12.0), ("2026-03-01T07:30:00Z", 13.3)):
        r = await client.post(
            f"/api/patients/{SID}/blood-gases",
            json={"unit": "kPa", "pao2": kpa, "paco2": 6.1, "t": t},
            headers=coord,
        )
        assert r.status_code == 201, r.text
    g = r.json()
    assert g["pao2_mmhg"] == pytest.approx(13.3 * KPA, abs=1e-6)
    assert g["paco2_mmhg"] == pytest.approx(6.1 * KPA, abs=1e-6)
    assert g["pf_ratio"] == pytest.approx(249.4, abs=0.05) and g["entered_as"].endswith("kPa")
    check = (await client.get(f"/api/patients/{SID}/eligibility", headers=coord)).json()
    assert _item(check, "pf_below_200")["status"] == "not_met"  # true P/F ≈ 249, not 33
    assert check["verdict"] == "ineligible"
    # a PaO2 below the plausibility floor is refused with its reason
    r = await client.post(
        f"/api/patients/{SID}/blood-gases", json={"unit": "kPa", "pao2": 2.0}, headers=coord
    )
    assert r.status_code == 422 and "below 20 mmHg" in r.json()["detail"]


@pytest.mark.parametrize(
    ("missing", "item", "entry"),
    [
        (
            "consent",
            "informed_consent",
            {
                "consenter": "patient",
                "consenter_name": "Chen Wei",
                "t": "2026-03-01T06:00:00Z",
                "taken_by": "chen",
            },
        ),
        (
            "imaging",
            "bilateral_infiltrates",
            {
                "modality": "xray",
                "t": "2026-03-01T05:00:00Z",
                "reader": "dr.zhao",
                "bilateral": True,
            },
        ),
    ],
)
async def test_missing_consent_or_imaging_blocks_the_start(
    client: httpx.AsyncClient, ctx: AppContext, missing: str, item: str, entry: dict[str, object]
) -> None:
    await _ready(ctx, client, fio2=60)
    await confirm_enrolment(ctx.store, skip=missing)
    coord = headers(ctx, "chen", Role.COORDINATOR)
    nurse = headers(ctx, "nina", Role.NURSE)
    for t, kpa in (("2026-02-28T22:00:00Z", 9.0), ("2026-03-01T07:30:00Z", 8.5)):
        r = await client.post(
            f"/api/patients/{SID}/blood-gases",
            json={"unit": "kPa", "pao2": kpa, "t": t},
            headers=coord,
        )
        assert r.status_code == 201  # P/F 112.5 and 106.3: qualifying
    start = {"planned_min": 45}
    r = await client.post(f"/api/patients/{SID}/infusion/start", json=start, headers=nurse)
    assert r.status_code == 409
    failing = [i["id"] for i in r.json()["detail"]["eligibility"]["items"] if i["status"] != "met"]
    assert failing == [item]
    assert await ctx.store.current_infusion("ICU-1") is None
    eng = headers(ctx, "eric", Role.ENGINEER)
    assert (
        await client.put(f"/api/patients/{SID}/{missing}", json=entry, headers=eng)
    ).status_code == 403
    r = await client.put(f"/api/patients/{SID}/{missing}", json=entry, headers=coord)
    assert r.status_code == 200 and r.json()["verdict"] == "eligible", r.text
    # eligible, but the product checklist is not recorded yet: still refused
    r = await client.post(f"/api/patients/{SID}/infusion/start", json=start, headers=nurse)
    assert r.status_code == 409 and not r.json()["detail"]["product"]["complete"]
    r = await client.put(f"/api/patients/{SID}/product", json=BAG, headers=coord)
    assert r.json()["complete"], r.text
    r = await client.post(f"/api/patients/{SID}/infusion/start", json=start, headers=nurse)
    assert r.status_code == 201, r.text
    assert r.json()["order"]["dose_cells"] == pytest.approx(70.6e6)  # PBW basis
