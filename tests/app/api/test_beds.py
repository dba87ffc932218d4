"""Beds: listing with patient/infusion/numerics/alerts, trends, infusions, clinician entries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from app.context import AppContext
from core.bus import Subscription
from core.clock import VirtualClock
from core.model import Alert, DeviceEvent, EventSource, Observation, Priority
from core.params import VASOPRESSOR_CODES

SPO2 = "MDC_PULS_OXIM_SAT_O2"
HR = "MDC_ECG_HEART_RATE"

OVERRIDE = "tests start infusions without an eligibility record"


def obs(clock: VirtualClock, code: str, value: float, unit: str, ago_s: float = 0) -> Observation:
    return Observation(
        t=clock.now() - timedelta(seconds=ago_s), bed="ICU-1", code=code, value=value, unit=unit
    )


async def enrol(ctx: AppContext, bed: str = "ICU-1", study_id: str = "UC-001") -> None:
    await ctx.store.enrol_patient(
        bed=bed, study_id=study_id, weight_kg=72.5, arm="cells", ards_onset=None
    )


async def test_list_beds(
    client: httpx.AsyncClient,
    ctx: AppContext,
    nurse: dict[str, str],
    vclock: VirtualClock,
    make_alert: Callable[..., Alert],
) -> None:
    await enrol(ctx)
    await ctx.hub.publish_numerics("ICU-1", {SPO2: obs(vclock, SPO2, 93, "%")})
    await ctx.alerts.commit(make_alert(1))
    await ctx.alerts.commit(make_alert(2, priority=Priority.HIGH))
    await ctx.alerts.commit(make_alert(3, bed="ICU-2", priority=Priority.LOW))

    r = await client.get("/api/beds", headers=nurse)
    assert r.status_code == 200, r.text
    beds = r.json()
    assert [b["bed"] for b in beds] == ["ICU-1", "ICU-2", "ICU-3"]
    one = beds[0]
    assert one["label"] == "Bed 1"
    assert one["patient"]["study_id"] == "UC-001"
    assert one["patient"]["weight_kg"] == 72.5
    assert "arm" not in one["patient"]  # blinded: the station's bed payload never carries it
    assert one["infusion"] is None
    assert one["latest"][SPO2] == {
        "value": 93.0,
        "unit": "%",
        "t": "2026-03-01T08:00:00Z",
        "status": "valid",
    }
    assert one["alert"] == {"count": 2, "highest_priority": "high"}
    assert [d["device_id"] for d in one["devices"]] == ["pump", "vent"]
    assert one["devices"][0]["state"] == "connected"
    assert beds[1]["alert"] == {"count": 1, "highest_priority": "low"}
    assert beds[2]["alert"] == {"count": 0, "highest_priority": None}
    assert beds[2]["patient"] is None
    assert beds[2]["devices"] == []


async def test_latest_values_come_from_the_store_before_any_push(
    client: httpx.AsyncClient, ctx: AppContext, nurse: dict[str, str], vclock: VirtualClock
) -> None:
    await ctx.store.add_observations([obs(vclock, HR, 88, "/min")])
    r = await client.get("/api/beds/ICU-1", headers=nurse)
    assert r.status_code == 200
    assert r.json()["latest"][HR]["value"] == 88


async def test_unknown_bed_is_404(client: httpx.AsyncClient, nurse: dict[str, str]) -> None:
    assert (await client.get("/api/beds/ICU-9", headers=nurse)).status_code == 404
    r = await client.get("/api/beds/ICU-9/trends?codes=" + SPO2, headers=nurse)
    assert r.status_code == 404
    r = await client.post("/api/beds/ICU-9/events", json={"event": "death"}, headers=nurse)
    assert r.status_code == 404
    r = await client.post(
        "/api/beds/ICU-9/infusion/start",
        json={"weight_kg": 70, "volume_ml": 100, "planned_min": 45},
        headers=nurse,
    )
    assert r.status_code == 404


async def test_trends(
    client: httpx.AsyncClient, ctx: AppContext, nurse: dict[str, str], vclock: VirtualClock
) -> None:
    await ctx.store.add_observations(
        [obs(vclock, SPO2, 90 + i, "%", ago_s=600 - i * 60) for i in range(5)]
        + [obs(vclock, HR, 100, "/min", ago_s=8 * 3600)]  # outside the 6 h window
    )
    r = await client.get(f"/api/beds/ICU-1/trends?codes={SPO2},{HR}&hours=6", headers=nurse)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["since"] == "2026-03-01T02:00:00Z"
    assert body["until"] == "2026-03-01T08:00:00Z"
    spo2 = body["series"][SPO2]
    assert spo2["unit"] == "%"
    assert [v for _, v in spo2["points"]] == [90, 91, 92, 93, 94]
    assert spo2["points"][0][0] == "2026-03-01T07:50:00Z"
    assert body["series"][HR] == {"unit": "/min", "points": []}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?codes=",
        "?codes=,",
        f"?codes={SPO2}&hours=0",
        f"?codes={SPO2}&points=1",
        f"?codes={SPO2}&hours=abc",
    ],
)
async def test_trends_validation(
    client: httpx.AsyncClient, nurse: dict[str, str], query: str
) -> None:
    r = await client.get(f"/api/beds/ICU-1/trends{query}", headers=nurse)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


async def test_infusion_start_and_stop(
    client: httpx.AsyncClient,
    ctx: AppContext,
    nurse: dict[str, str],
    vclock: VirtualClock,
    events: Subscription,
) -> None:
    start = {"weight_kg": 70, "volume_ml": 100, "planned_min": 50, "override_reason": OVERRIDE}
    r = await client.post("/api/beds/ICU-1/infusion/start", json=start, headers=nurse)
    assert r.status_code == 201, r.text
    inf = r.json()
    assert inf["started_at"] == "2026-03-01T08:00:00Z"
    assert inf["window_end"] == "2026-03-02T08:00:00Z"
    assert inf["ended_at"] is None
    assert inf["planned_rate_ml_h"] == 120
    ev = await events.get()
    assert isinstance(ev, DeviceEvent)
    assert (ev.event, ev.bed, ev.source) == ("infusion_start", "ICU-1", EventSource.CLINICIAN)
    assert ev.fields == {"weight_kg": 70, "volume_ml": 100, "planned_min": 50}

    again = await client.post("/api/beds/ICU-1/infusion/start", json=start, headers=nurse)
    assert again.status_code == 409

    # progress: from the pump's volume when it reports, else elapsed time
    vclock.set(vclock.now() + timedelta(minutes=25))
    r = await client.get("/api/beds/ICU-1", headers=nurse)
    bed_inf = r.json()["infusion"]
    assert (bed_inf["progress"], bed_inf["progress_source"]) == (0.5, "time")
    await ctx.hub.publish_numerics(
        "ICU-1",
        {
            "MDC_VOL_FLUID_DELIV": obs(vclock, "MDC_VOL_FLUID_DELIV", 40, "mL"),
            "MDC_FLOW_FLUID_PUMP": obs(vclock, "MDC_FLOW_FLUID_PUMP", 120, "mL/h"),
        },
    )
    bed_inf = (await client.get("/api/beds/ICU-1", headers=nurse)).json()["infusion"]
    assert bed_inf["volume_infused_ml"] == 40
    assert bed_inf["rate_ml_h"] == 120
    assert (bed_inf["progress"], bed_inf["progress_source"]) == (0.4, "pump")

    r = await client.post("/api/beds/ICU-1/infusion/stop", headers=nurse)
    assert r.status_code == 200, r.text
    assert r.json()["ended_at"] == "2026-03-01T08:25:00Z"
    ev = await events.get()
    assert isinstance(ev, DeviceEvent) and ev.event == "infusion_end"
    assert (await client.post("/api/beds/ICU-1/infusion/stop", headers=nurse)).status_code == 409


async def test_infusion_weight_defaults_to_the_patients(
    client: httpx.AsyncClient, ctx: AppContext, nurse: dict[str, str]
) -> None:
    start = {"volume_ml": 100, "planned_min": 45, "override_reason": OVERRIDE}
    r = await client.post("/api/beds/ICU-1/infusion/start", json=start, headers=nurse)
    assert r.status_code == 422
    assert "weight_kg" in r.json()["detail"]
    await enrol(ctx)
    r = await client.post("/api/beds/ICU-1/infusion/start", json=start, headers=nurse)
    assert r.status_code == 201
    assert r.json()["weight_kg"] == 72.5


@pytest.mark.parametrize(
    "body",
    [
        {"weight_kg": 70, "volume_ml": -1, "planned_min": 45},
        {"weight_kg": 70, "volume_ml": 100, "planned_min": 0},
        {"weight_kg": 70, "volume_ml": 100},
        {"weight_kg": 70, "volume_ml": 100, "planned_min": 45, "rate": 3},
        {"weight_kg": 70, "volume_ml": 100, "planned_min": 45, "t": "2026-03-01T08:00:00"},
        {"weight_kg": 70, "volume_ml": 100, "planned_min": 45, "t": "2026-03-01T09:00:00Z"},
    ],
)
async def test_infusion_start_validation(
    client: httpx.AsyncClient, nurse: dict[str, str], body: dict
) -> None:
    r = await client.post("/api/beds/ICU-1/infusion/start", json=body, headers=nurse)
    assert r.status_code == 422, r.text


async def test_infusion_start_may_be_backdated(
    client: httpx.AsyncClient, nurse: dict[str, str], events: Subscription
) -> None:
    body = {
        "weight_kg": 70,
        "volume_ml": 100,
        "planned_min": 45,
        "t": "2026-03-01T08:30:00+01:00",
        "override_reason": OVERRIDE,
    }
    r = await client.post("/api/beds/ICU-1/infusion/start", json=body, headers=nurse)
    assert r.status_code == 201
    assert r.json()["started_at"] == "2026-03-01T07:30:00Z"
    ev = await events.get()
    assert ev.t.isoformat() == "2026-03-01T07:30:00+00:00"


async def test_clinician_events_are_published(
    client: httpx.AsyncClient, nurse: dict[str, str], events: Subscription
) -> None:
    r = await client.post(
        "/api/beds/ICU-2/events",
        json={"event": "clinical_sign", "sign": "urticaria"},
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    assert r.json() == {
        "bed": "ICU-2",
        "event": "clinical_sign",
        "t": "2026-03-01T08:00:00Z",
        "fields": {"sign": "urticaria", "entered_by": "nina"},
        "source": "clinician",
    }
    ev = await events.get()
    assert isinstance(ev, DeviceEvent)
    assert (ev.bed, ev.event, ev.fields["sign"], ev.source) == (
        "ICU-2",
        "clinical_sign",
        "urticaria",
        EventSource.CLINICIAN,
    )

    r = await client.post(
        "/api/beds/ICU-2/events",
        json={
            "event": "blood_gas",
            "unit": "mmHg",
            "pao2": 62,
            "ph": 7.31,
            "t": "2026-03-01T07:45:00Z",
        },
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    ev = await events.get()
    assert isinstance(ev, DeviceEvent)
    assert ev.fields == {
        "pao2_mmhg": 62,
        "ph": 7.31,
        "pao2_entered": 62,
        "entered_unit": "mmHg",
        "entered_by": "nina",
    }
    assert ev.t.isoformat() == "2026-03-01T07:45:00+00:00"

    for name in ("cardioversion", "cardiac_arrest", "death"):
        r = await client.post("/api/beds/ICU-2/events", json={"event": name}, headers=nurse)
        assert r.status_code == 201
        assert (await events.get()).event == name  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [
        {"event": "clinical_sign", "sign": "sneezing"},
        {"event": "clinical_sign"},
        {"event": "blood_gas"},
        {"event": "blood_gas", "unit": "mmHg", "pao2": -3},
        {"event": "blood_gas", "ph": 9},
        {"event": "arrhythmia", "rhythm": "VT"},
        {"event": "death", "cause": "x"},
        {"sign": "rash"},
    ],
)
async def test_clinician_event_validation(
    client: httpx.AsyncClient, nurse: dict[str, str], events: Subscription, body: dict
) -> None:
    r = await client.post("/api/beds/ICU-1/events", json=body, headers=nurse)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]
    assert events._queue.empty()


async def test_a_manual_dose_reaches_the_rules_as_the_pumps_would_send_it(
    client: httpx.AsyncClient, nurse: dict[str, str], events: Subscription
) -> None:
    body = {"drug": "Norepinephrine", "dose": 0.2, "unit": "mg/h", "note": "bag pump"}
    r = await client.post("/api/beds/ICU-2/doses", json=body, headers=nurse)
    assert r.status_code == 201, r.text
    obs = await events.get()
    assert isinstance(obs, Observation)
    code = VASOPRESSOR_CODES["norepinephrine"]
    assert (obs.bed, obs.code, obs.device) == ("ICU-2", code, "manual")
    assert (
        r.json()["fields"]["value"] == obs.value
        and obs.unit == r.json()["fields"]["canonical_unit"]
    )
    for bad, why in (
        ({"drug": "coffee", "dose": 1, "unit": "ug/min"}, "drug must be one of"),
        ({"drug": "norepinephrine", "dose": 1, "unit": "furlongs"}, "furlongs"),
        ({"drug": "norepinephrine", "dose": -1, "unit": "ug/min"}, "greater than or equal"),
        ({"drug": "norepinephrine", "dose": 0.1, "unit": "ug/kg/min"}, "patient's weight"),
    ):
        r = await client.post("/api/beds/ICU-2/doses", json=bad, headers=nurse)
        assert r.status_code == 422 and why in r.text, r.text
    assert events._queue.empty()
