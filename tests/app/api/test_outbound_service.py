"""The outbound service inside the app: one PCD-04 per transition to the alarm manager, the
alert and the bed's numerics every interval as PCD-01 to the EHR, and each endpoint's health
in `/metrics` and `/api/outbound` (engineers) — virtual time, real MLLP sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from realtime import drive_until, free_port

from app.context import AppContext
from app.live.registry import DeviceRegistry
from app.main import create_app
from app.outbound.config import EndpointConfig, Kind
from app.outbound.service import outbound_service
from app.settings import Settings
from core.bus import InProcessBus
from core.clock import VirtualClock
from core.model import Alert, AlertState, Category, Observation, Phase, Priority
from drivers.hl7.pcd import decode_report
from simulators.alarm_manager import AlarmManager

AM_PORT, EHR_PORT = free_port(), free_port()
ENDPOINTS = (
    EndpointConfig(name="am", kind=Kind.PCD_04, address=f"127.0.0.1:{AM_PORT}", line=1),
    EndpointConfig(name="ehr", kind=Kind.PCD_01, address=f"127.0.0.1:{EHR_PORT}", line=2),
)


@pytest.fixture
async def receivers(vclock: VirtualClock) -> AsyncIterator[tuple[AlarmManager, AlarmManager]]:
    am, ehr = AlarmManager(vclock), AlarmManager(vclock)
    await am.serve("127.0.0.1", AM_PORT)
    await ehr.serve("127.0.0.1", EHR_PORT)
    yield am, ehr
    await am.close()
    await ehr.close()


@pytest.fixture
async def app(
    settings: Settings,
    vclock: VirtualClock,
    bus: InProcessBus,
    registry: DeviceRegistry,
    receivers: object,
) -> AsyncIterator[FastAPI]:
    application = create_app(
        settings, clock=vclock, bus=bus, devices=registry, services=[outbound_service(ENDPOINTS)]
    )
    async with application.router.lifespan_context(application):
        yield application


async def test_alerts_and_numerics_leave_and_health_is_visible(
    ctx: AppContext,
    vclock: VirtualClock,
    receivers: tuple[AlarmManager, AlarmManager],
    client: httpx.AsyncClient,
    engineer: dict[str, str],
    nurse: dict[str, str],
) -> None:
    am, ehr = receivers
    await ctx.store.enrol_patient(
        bed="ICU-1", study_id="S-042", weight_kg=70, arm="cells", ards_onset=None
    )
    t = vclock.now()
    await ctx.store.add_observations(
        [Observation(t=t, bed="ICU-1", code="MDC_PULS_OXIM_SAT_O2", value=91.0, unit="%")]
    )
    alert = await ctx.alerts.commit(
        Alert(
            id="a-1",
            bed="ICU-1",
            category=Category.HYPOXEMIA,
            rule="spo2_low",
            priority=Priority.MEDIUM,
            phase=Phase.START,
            state=AlertState.ACTIVE,
            onset=t,
            t=t,
            message="SpO2 86 %",
        )
    )
    await drive_until(vclock, lambda: len(am.accepted) == 1 and len(ehr.accepted) == 1, 30)
    [r40] = am.received
    assert r40.message_type == ("ORU", "R40", "ORU_R40") and r40.control_id == f"A{alert.seq}"
    assert decode_report(r40).patient_id == "S-042"
    assert ehr.received[0].message_type[1] == "R01"
    await ctx.alerts.acknowledge("a-1", by="nina", t=vclock.now())
    await drive_until(vclock, lambda: len(am.accepted) == 2, 30)
    assert decode_report(am.received[1]).alarms[0].inactivation == "alert-acknowledged"

    await ctx.store.add_observations(
        [
            Observation(
                t=vclock.now(), bed="ICU-1", code="MDC_PULS_OXIM_SAT_O2", value=93.0, unit="%"
            )
        ]
    )
    await drive_until(vclock, lambda: any(m.control_id.startswith("N") for m in ehr.received), 65)
    numerics = decode_report(next(m for m in ehr.received if m.control_id.startswith("N")))
    assert numerics.patient_id == "S-042"
    assert [(m.code, m.mdc, m.unit) for m in numerics.metrics] == [
        ("MDC_PULS_OXIM_SAT_O2", 150456, "%")
    ]

    metrics = (await client.get("/metrics", headers=engineer)).text
    assert 'iaewatch_outbound_connected{endpoint="am",kind="pcd-04"} 1.0' in metrics
    assert 'iaewatch_outbound_queue_depth{endpoint="ehr",kind="pcd-01"} 0.0' in metrics
    assert (await client.get("/api/outbound", headers=nurse)).status_code == 403
    panel = (await client.get("/api/outbound", headers=engineer)).json()
    assert [(e["name"], e["state"], e["queue_depth"]) for e in panel] == [
        ("am", "connected", 0),
        ("ehr", "connected", 0),
    ]
    devices = (await client.get("/api/devices", headers=engineer)).json()
    rows = {d["device_id"]: d for d in devices if d["bed"] == "outbound"}
    assert rows["am"]["state"] == "connected" and rows["am"]["frames"] == 2
    assert rows["ehr"]["identification"] == {"queue depth": "0", "oldest unsent": "none"}
