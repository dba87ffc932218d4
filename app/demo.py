"""The simulated ICU of `iaewatch demo`: four beds, each a scenario, every protocol in play.

Each bed of `examples/iaewatch.yaml` plays one shipped scenario on simulators listening at the
addresses the file declares, so the service talks to them exactly as it would to real devices.
The demo scenarios (`examples/demo/`) are the shipped ones with time compressed, so that a
nurse sees each bed's event within minutes. The 30 min before the launch (the pre-infusion
period the rules engine takes its baseline from) are rendered offline and fed through the
pipeline first; then the live simulators take over from the same scenario time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from app.config import BedConfig, IcuConfig
from app.context import AppContext
from app.security import hash_password
from app.store import Store
from core.clock import Clock
from core.model import DeviceEvent, EventSource
from drivers.transport import split_host_port
from simulators.bed import SimulatedBed
from simulators.recording import records
from simulators.scenario import load_scenario

log = logging.getLogger(__name__)

SCENARIOS = Path(__file__).resolve().parents[1] / "examples" / "demo"
EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "examples" / "iaewatch.yaml"
DEMO_USERS = (("nurse", "nurse", "nurse-demo"), ("engineer", "engineer", "engineer-demo"))


@dataclass(frozen=True, slots=True)
class DemoBed:
    scenario: str
    join_at_s: float  # scenario time (s from infusion start) at which the live bed begins
    study_id: str
    arm: str


DEMO_BEDS: dict[str, DemoBed] = {
    # the demo scenarios (examples/demo/) compress the shipped ones so that each bed's
    # infusion starts a minute after launch and its event follows within minutes
    "ICU-1": DemoBed("demo_vasopressor.yaml", 0.0, "S-101", "cells"),
    "ICU-2": DemoBed("demo_fever.yaml", 0.0, "S-102", "saline"),
    "ICU-3": DemoBed("demo_occlusion.yaml", 0.0, "S-103", "cells"),
    "ICU-4": DemoBed("demo_vt.yaml", 0.0, "S-104", "cells"),
}
_DEVICE_OF = {
    "modbus-tcp": "pump",
    "medibus": "ventilator",
    "intellivue": "monitor",
    "hl7-mllp": "hl7",
}


async def prepare_database(store: Store, icu: IcuConfig, clock: Clock) -> None:
    """Demo users and one enrolled patient per bed (idempotent)."""
    for username, role, password in DEMO_USERS:
        if await store.user(username) is None:
            await store.add_user(username, role, hash_password(password))
    for bed in icu.beds:
        demo = DEMO_BEDS.get(bed.bed)
        await store.upsert_bed(bed.bed, label=bed.label)
        if demo is None or await store.patient_at_bed(bed.bed) is not None:
            continue
        if await store.patient(demo.study_id) is not None:
            continue
        scenario = load_scenario(SCENARIOS / demo.scenario)
        await store.enrol_patient(
            bed=bed.bed,
            study_id=demo.study_id,
            weight_kg=scenario.beds[0].weight_kg,
            arm=demo.arm,
            ards_onset=clock.now() - timedelta(hours=30),
            age_years=58,
        )


def simulated_icu(
    icu: IcuConfig,
    *,
    out: Callable[[str], None] = print,
) -> Callable[[AppContext], contextlib.AbstractAsyncContextManager[list[SimulatedBed]]]:
    """A service: feeds each bed's history to the pipeline, then runs its live simulators."""

    @contextlib.asynccontextmanager
    async def run(ctx: AppContext) -> AsyncIterator[list[SimulatedBed]]:
        beds: list[SimulatedBed] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            for bed in icu.beds:
                demo = DEMO_BEDS.get(bed.bed)
                if demo is not None:
                    sim = await _start_bed(ctx, bed.bed, demo, icu, out)
                    beds.append(sim)
                    tasks.append(asyncio.create_task(sim.run(), name=f"demo {bed.bed}"))
            yield beds
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for sim in beds:
                await sim.close()

    return run


async def _start_bed(
    ctx: AppContext,
    bed: str,
    demo: DemoBed,
    icu: IcuConfig,
    out: Callable[[str], None],
) -> SimulatedBed:
    scenario = load_scenario(SCENARIOS / demo.scenario)
    config = next(b for b in icu.beds if b.bed == bed)
    infusion_at = ctx.clock.now() - timedelta(seconds=demo.join_at_s)
    history = 0
    ids = _history_devices(config)
    for rec in records(scenario, infusion_at=infusion_at, until_s=demo.join_at_s, period=5.0):
        device = ids.get(rec.device or "", rec.device)
        await ctx.bus.publish(replace(rec, bed=bed, device=device))
        history += 1
    sim = SimulatedBed(
        scenario,
        ctx.clock,
        start_at=demo.join_at_s,
        out=lambda line: out(f"{bed} {line}"),
        on_event=_forward(ctx, bed),
    )
    for d in config.devices:
        kind = _DEVICE_OF[d.protocol]
        if kind == "hl7":
            await sim.start(
                ["hl7"],
                hl7_to=split_host_port(d.address),
                hl7_location=d.sender.get("location", bed),
            )
        elif kind == "pump" and any(a.device == "pump" for a in sim.addresses):
            continue  # one Modbus gateway serves every pump of the bed, one unit id each
        else:
            host, port = split_host_port(d.address.removeprefix("socket://"))
            await sim.start([kind], host=host, port=port)
    log.info(
        "demo: %s plays %s from %s (%d history records)",
        bed,
        scenario.name,
        _offset(demo.join_at_s),
        history,
    )
    return sim


def _history_devices(config: BedConfig) -> dict[str, str]:
    """The offline history's senders (the simulators' links: `monitor`, `ventilator`,
    `pump:study`) as the ids the bed's configuration gives its devices, so that the live
    devices carry on the history's series instead of arriving as second sources of them."""
    ids: dict[str, str] = {}
    for d in config.devices:
        if d.kind != "pump":
            ids.setdefault(d.kind, d.id)
        elif d.role == "study":
            ids.setdefault("pump:study", d.id)
    return ids


def _forward(ctx: AppContext, bed: str) -> Callable[[DeviceEvent], None]:
    """Clinician entries the scenario makes (signs, blood gases...) reach the service as the
    API would deliver them; device events arrive through the device protocols themselves.
    Entries dated before the launch were already fed with the history."""
    launched = ctx.clock.now()
    sending: set[asyncio.Task[None]] = set()  # held until done: the loop keeps weak refs

    def forward(ev: DeviceEvent) -> None:
        if ev.source is EventSource.CLINICIAN and ev.t >= launched:
            task = asyncio.get_running_loop().create_task(ctx.bus.publish(replace(ev, bed=bed)))
            sending.add(task)
            task.add_done_callback(sending.discard)

    return forward


def _offset(seconds: float) -> str:
    sign = "-" if seconds < 0 else "+"
    m = int(abs(seconds)) // 60
    return f"{sign}{m // 60}h{m % 60:02d}m"
