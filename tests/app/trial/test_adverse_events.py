"""Adjudication with e-signature, several alerts grouped into one AE, the AE/SAE record, the
reporting clock (virtual clock) and the roles that may do each (403 otherwise)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from factories import make_alert

from app.context import AppContext
from app.sae_clock import SaeClock
from app.store.rows import Role
from core.clock import VirtualClock
from core.model import Category

from .conftest import BED, SID, T0, headers
from .test_api import _enrol

PASSWORD = "correct horse battery"
PE_ALERTS = (
    ("embolism", Category.EMBOLISM_PATTERN),
    ("hypoxemia", Category.HYPOXEMIA),
    ("hypotension", Category.HYPOTENSION),
    ("tachycardia", Category.TACHYCARDIA),
    ("pressor", Category.VASOPRESSOR_ESCALATION),
)

AE = {
    "term": "Pulmonary embolism during cell infusion",
    "meddra_code": "10037377",
    "onset": "2026-03-01T07:20:00Z",
    "ctcae_grade": 4,
    "seriousness": ["life_threatening"],
    "causality_product": "probable",
    "causality_procedure": "possible",
    "expected": False,
    "action_taken": "stopped",
    "treatment": "heparin, norepinephrine",
    "outcome": "recovering",
}


async def _setup(ctx: AppContext) -> None:
    await _enrol(ctx)
    for name, category in PE_ALERTS:
        onset = T0 - timedelta(minutes=40)
        await ctx.alerts.commit(make_alert(id=name, category=category, onset=onset, t=onset))


async def test_adjudicate_and_group_alerts_into_one_signed_ae(
    client: httpx.AsyncClient, ctx: AppContext
) -> None:
    await _setup(ctx)
    coord = headers(ctx, "chen", Role.COORDINATOR)
    inv = headers(ctx, "dr.lee", Role.INVESTIGATOR)
    nurse = headers(ctx, "nina", Role.NURSE)

    r = await client.post(f"/api/patients/{SID}/adverse-events", json=AE, headers=coord)
    assert r.status_code == 201, r.text
    ae = r.json()
    assert ae["susar"] and ae["serious"] and ae["reporter"] == "chen"

    body = {
        "alert_ids": [n for n, _ in PE_ALERTS],
        "verdict": "iae",
        "ae_id": ae["id"],
        "password": PASSWORD,
        "meaning": "confirmed as infusion-associated",
    }
    assert (await client.post("/api/adjudications", json=body, headers=nurse)).status_code == 403
    assert (await client.post("/api/adjudications", json=body, headers=coord)).status_code == 403
    wrong = await client.post("/api/adjudications", json=body | {"password": "guess"}, headers=inv)
    assert wrong.status_code == 403 and "password" in wrong.json()["detail"]
    r = await client.post("/api/adjudications", json=body, headers=inv)
    assert r.status_code == 201, r.text
    rows = r.json()
    assert len(rows) == 5 and {x["ae_id"] for x in rows} == {ae["id"]}
    sig = rows[0]["signature"]
    assert (sig["signer"], sig["role"], sig["meaning"]) == (
        "dr.lee",
        "investigator",
        "confirmed as infusion-associated",
    )
    assert sig["t"] == "2026-03-01T08:00:00Z" and len(sig["record_sha256"]) == 64

    # the AE now carries the five alerts; the investigator signs the record
    r = await client.post(
        f"/api/adverse-events/{ae['id']}/sign", json={"password": PASSWORD}, headers=coord
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/adverse-events/{ae['id']}/sign",
        json={"password": PASSWORD, "meaning": "investigator approval"},
        headers=inv,
    )
    signed = r.json()
    assert sorted(signed["alert_ids"]) == sorted(n for n, _ in PE_ALERTS)
    assert signed["signatures"][0]["valid"] and signed["signatures"][0]["signer"] == "dr.lee"
    # a later change shows against the signature
    r = await client.patch(
        f"/api/adverse-events/{ae['id']}", json={"ctcae_grade": 3}, headers=coord
    )
    assert r.json()["signatures"][0]["valid"] is False
    assert any(
        e["action"] == "trial.adverse_event_update"
        for e in await ctx.store.audit_for(SID, prefix="trial.")
    )

    # not an IAE needs a reason; 'other' needs its text; an alert joins one AE only
    r = await client.post(
        "/api/adjudications",
        json={"alert_ids": ["hypoxemia"], "verdict": "not_iae", "password": PASSWORD},
        headers=inv,
    )
    assert r.status_code == 422
    r = await client.post(
        "/api/adjudications",
        json={
            "alert_ids": ["hypoxemia"],
            "verdict": "not_iae",
            "reason": "other",
            "password": PASSWORD,
        },
        headers=inv,
    )
    assert r.status_code == 422
    r = await client.get("/api/alerts/hypoxemia/adjudication", headers=nurse)
    assert r.json()["verdict"] == "iae"
    other = await client.post(
        f"/api/patients/{SID}/adverse-events", json=AE | {"alert_ids": ["hypoxemia"]}, headers=coord
    )
    assert other.status_code == 409


async def test_the_sae_clock_raises_an_overdue_alert(
    client: httpx.AsyncClient, ctx: AppContext, vclock: VirtualClock
) -> None:
    await _setup(ctx)
    coord = headers(ctx, "chen", Role.COORDINATOR)
    r = await client.post(f"/api/patients/{SID}/adverse-events", json=AE, headers=coord)
    ae = r.json()
    due = {d["report"]: d for d in ae["reports_due"]}
    assert due["sae_initial"]["due"] == "2026-03-02T08:00:00Z"  # aware at T0 + 24 h
    assert due["susar"]["due"] == "2026-03-08T08:00:00Z"  # life-threatening SUSAR: 7 days
    view = (await client.get(f"/api/patients/{SID}/trial", headers=coord)).json()
    assert view["adverse_events"][0]["reports_due"][0]["due"] == "2026-03-02T08:00:00Z"

    # the virtual clock: the same AE, the site aware 23 h 59 min before now
    clock = SaeClock(ctx)
    assert await clock.check() == []
    aware = (T0 - timedelta(hours=23, minutes=59)).isoformat()
    r = await client.post(
        f"/api/patients/{SID}/adverse-events", json=AE | {"aware_at": aware}, headers=coord
    )
    late = r.json()
    assert await clock.check() == []
    await vclock.advance(120.0)
    coord = headers(ctx, "chen", Role.COORDINATOR)
    [alert_id] = await clock.check()
    alert = await ctx.store.alert(alert_id)
    assert alert is not None and alert.category is Category.TECHNICAL and alert.bed == BED
    assert "SAE report" in alert.message and alert.onset == T0 + timedelta(minutes=1)
    assert await clock.check() == [alert_id]  # the same alert, not a second one
    # the initial report is sent: no longer owed; the SUSAR report still is
    r = await client.post(
        f"/api/adverse-events/{late['id']}/reported", json={"report": "sae_initial"}, headers=coord
    )
    assert r.status_code == 200, r.text
    assert [d["done_at"] is not None for d in r.json()["reports_due"]] == [True, False]
    assert await clock.check() == []  # nothing overdue now: the alert ends
    closed = await ctx.store.alert(alert_id)
    assert closed is not None and closed.ended_at == T0 + timedelta(minutes=2)
    assert "sent" in closed.message
    # a life-threatening SUSAR the site knew of 8 days ago, its SAE report sent: 7 days overdue
    old = AE | {"aware_at": (T0 - timedelta(days=8)).isoformat(), "onset": "2026-02-21T08:00:00Z"}
    r = await client.post(f"/api/patients/{SID}/adverse-events", json=old, headers=coord)
    await client.post(
        f"/api/adverse-events/{r.json()['id']}/reported",
        json={"report": "sae_initial"},
        headers=coord,
    )
    raised = set(await clock.check()) - {alert_id}
    [susar] = [await ctx.store.alert(i) for i in raised]
    assert susar is not None and "SUSAR report" in susar.message


async def test_non_serious_and_other_susars(client: httpx.AsyncClient, ctx: AppContext) -> None:
    await _setup(ctx)
    coord = headers(ctx, "chen", Role.COORDINATOR)
    mild = AE | {"seriousness": [], "ctcae_grade": 1}
    r = await client.post(f"/api/patients/{SID}/adverse-events", json=mild, headers=coord)
    assert r.json()["reports_due"] == [] and not r.json()["susar"]
    other = AE | {"seriousness": ["hospitalisation_prolonged"]}
    r = await client.post(f"/api/patients/{SID}/adverse-events", json=other, headers=coord)
    assert r.json()["reports_due"][1]["due"] == "2026-03-16T08:00:00Z"  # 15 days
    expected = AE | {"expected": True}
    r = await client.post(f"/api/patients/{SID}/adverse-events", json=expected, headers=coord)
    assert not r.json()["susar"] and len(r.json()["reports_due"]) == 1
    fatal = AE | {"ctcae_grade": 5, "seriousness": ["life_threatening"]}
    r = await client.post(f"/api/patients/{SID}/adverse-events", json=fatal, headers=coord)
    assert r.status_code == 422  # grade 5 is death


async def test_roles_are_enforced(client: httpx.AsyncClient, ctx: AppContext) -> None:
    await _setup(ctx)
    eng = headers(ctx, "eric", Role.ENGINEER)
    coord = headers(ctx, "chen", Role.COORDINATOR)
    nurse = headers(ctx, "nina", Role.NURSE)
    # an engineer may not acknowledge a clinical alert, nor a coordinator; a nurse may
    assert (await client.post("/api/alerts/hypoxemia/ack", headers=eng)).status_code == 403
    assert (await client.post("/api/alerts/hypoxemia/ack", headers=coord)).status_code == 403
    assert (await client.post("/api/alerts/hypoxemia/ack", headers=nurse)).status_code == 200
    # an engineer enters no trial data and no AE
    gas = {"unit": "kPa", "pao2": 12.0}
    r = await client.post(f"/api/patients/{SID}/blood-gases", json=gas, headers=eng)
    assert r.status_code == 403
    r = await client.post(f"/api/patients/{SID}/adverse-events", json=AE, headers=eng)
    assert r.status_code == 403
    # a coordinator does not start infusions; a coordinator enters trial data
    r = await client.post(
        f"/api/patients/{SID}/infusion/start", json={"planned_min": 45}, headers=coord
    )
    assert r.status_code == 403
    r = await client.post(f"/api/patients/{SID}/blood-gases", json=gas, headers=coord)
    assert r.status_code == 201
