"""The outbound service inside the app: one PCD-04 per transition to the alarm manager, the
alert and the bed's numerics every interval as PCD-01 to the EHR, and each endpoint's health
in `/metrics` and `/api/outbound` (engineers) — virtual time, real MLLP sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from realtime import drive, drive_until, free_port

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
def endpoints() -> tuple[EndpointConfig, ...]:
    return ENDPOINTS


@pytest.fixture
async def app(
    settings: Settings,
    vclock: VirtualClock,
    bus: InProcessBus,
    registry: DeviceRegistry,
    receivers: object,
    endpoints: tuple[EndpointConfig, ...],
) -> AsyncIterator[FastAPI]:
    application = create_app(
        settings, clock=vclock, bus=bus, devices=registry, services=[outbound_service(endpoints)]
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

    now = vclock.now()
    await ctx.store.add_observations(
        [
            Observation(t=now, bed="ICU-1", code="MDC_PULS_OXIM_SAT_O2", value=93.0, unit="%"),
            Observation(t=now, bed="ICU-1", code="MDC_TEMP", value=100.4, unit="[degF]"),
        ]
    )
    await drive_until(vclock, lambda: any(m.control_id.startswith("N") for m in ehr.received), 65)
    numerics = decode_report(next(m for m in ehr.received if m.control_id.startswith("N")))
    assert numerics.patient_id == "S-042"
    got = {m.code: (m.mdc, m.value, m.unit) for m in numerics.metrics}
    assert got["MDC_PULS_OXIM_SAT_O2"] == (150456, 93.0, "%")
    assert got["MDC_TEMP"] == (150344, pytest.approx(38.0), "Cel")  # sent in the canonical unit

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


def _alert(n: int, t: datetime) -> Alert:
    return Alert(
        id=f"b-{n}",
        bed="ICU-1",
        category=Category.FEVER,
        rule="temp_high",
        priority=Priority.LOW,
        phase=Phase.START,
        state=AlertState.ACTIVE,
        onset=t,
        t=t,
        message="T 38.6 °C",
    )


@pytest.mark.parametrize(
    "endpoints",
    [(EndpointConfig(name="down", kind=Kind.PCD_04, address=f"127.0.0.1:{free_port()}", line=1,
                     backlog_alert=3, retry_max=2.0),)],
)  # fmt: skip
async def test_a_backlog_raises_a_technical_alert_at_the_bed_until_it_drains(
    ctx: AppContext, vclock: VirtualClock, endpoints: tuple[EndpointConfig, ...]
) -> None:
    await ctx.store.enrol_patient(
        bed="ICU-1", study_id="S-7", weight_kg=70, arm="cells", ards_onset=None
    )
    for n in range(3):
        await ctx.alerts.commit(_alert(n, vclock.now()))

    async def backlog_alerts() -> list[Alert]:
        return [a for a in await ctx.store.alerts() if a.rule == "outbound_backlog:down"]

    async def poll(check: Callable[[list[Alert]], bool], seconds: float) -> list[Alert]:
        """Step virtual time until the store's backlog alerts pass `check` (the store is
        async, so it is read between steps)."""
        end = vclock.monotonic() + seconds
        while not check(found := await backlog_alerts()):
            assert vclock.monotonic() < end, f"not reached: {found}"
            await drive(vclock, 1.0)
        return found

    raised = await poll(bool, 30)
    beds = {b.bed for b in await ctx.store.list_beds()}
    assert {a.bed for a in raised} == beds  # at every bed: the endpoint serves them all
    assert all(a.category is Category.TECHNICAL for a in raised)
    assert all("3 messages waiting" in a.message for a in raised)
    am = AlarmManager(vclock)
    await am.serve("127.0.0.1", endpoints[0].host_port[1])
    try:
        ended = await poll(lambda found: all(a.phase is Phase.END for a in found), 60)
        assert {a.id for a in ended} == {a.id for a in raised}
        # what was queued for it reached the alarm manager once, in seq order; its own
        # backlog alerts went to the station only
        seqs = [a.seq for a in await ctx.store.transitions_after(0) if a.rule == "temp_high"]
        await drive_until(vclock, lambda: len(am.accepted) == len(seqs), 60)
        assert am.accepted == [f"A{s}" for s in seqs] and am.duplicates == 0
    finally:
        await am.close()
