"""Render a scenario to the recorded-stream format (JSON Lines, DESIGN.md), offline.

Each bed runs on its own `VirtualClock` from the scenario's start to `until` (default 24 h
after infusion start) and is sampled every `period` seconds:
- monitor numerics (`device: monitor`); the cuff pressure only when a new cycle reads it;
- ventilator data (`device: ventilator`);
- per pump (`device: pump:<name>`): delivered rate, volume infused, VTBI (study pump) and,
  for a drug, `IAEW_DOSE_<DRUG>` in the drug's clinical unit (ug/min for norepinephrine and
  phenylephrine, ug/kg/min for dopamine and epinephrine, U/min for vasopressin);
- events as they happen: `infusion_start`/`infusion_end`, `pump_alarm`, `arrhythmia`,
  clinician entries (`source: clinician`), and `device_connected`/`device_disconnected`
  (`source: driver`) for the links `monitor`, `ventilator` and `pump` (the pump gateway).
An unplugged link produces nothing (no values, no device events) until it is replugged.
Beds are interleaved in time order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from core.clock import VirtualClock
from core.model import DeviceEvent, EventSource, Observation
from core.params import PARAMETERS, VASOPRESSOR_CODES
from core.records import dump_record
from simulators.faults import Faults
from simulators.measurement import CODES_MONITOR, CODES_VENTILATOR, NIBP_CODES
from simulators.physiology import clinical_dose
from simulators.pump_state import PumpState
from simulators.runner import ScenarioRunner
from simulators.scenario_types import BedScenario, Scenario

DEFAULT_INFUSION_AT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
"""Wall time of infusion start (scenario time 0) unless told otherwise."""

DEFAULT_UNTIL_S = 24 * 3600.0
LINKS = ("monitor", "ventilator", "pump")

Record = Observation | DeviceEvent


def link_of(device: str | None) -> str | None:
    """The link a device's data travels on (`pump:study` → `pump`); None for clinicians."""
    if device is None:
        return None
    return device.split(":", 1)[0]


def bed_records(
    bed: BedScenario,
    *,
    start_s: float,
    infusion_at: datetime = DEFAULT_INFUSION_AT,
    until_s: float = DEFAULT_UNTIL_S,
    period: float = 1.0,
) -> Iterator[Record]:
    """One bed's records, in time order, from scenario time `start_s` to `until_s`."""
    if period <= 0:
        raise ValueError("period must be positive")
    clock = VirtualClock(infusion_at + timedelta(seconds=start_s))
    model = bed.build_model(clock)
    faults = {link: Faults() for link in (*LINKS, "hl7")}
    runner = ScenarioRunner(bed, model, clock, faults, origin=infusion_at)
    name = bed.name
    for link in LINKS:
        yield DeviceEvent(
            t=clock.now(),
            bed=name,
            event="device_connected",
            fields={"reason": "scenario start"},
            device=link,
            source=EventSource.DRIVER,
        )
    last_nibp = -1.0
    n = math.floor((until_s - start_s) / period + 1e-9) + 1
    for k in range(n):
        t = infusion_at + timedelta(seconds=start_s + k * period)
        runner.apply_until(t)
        clock.set(t)
        values = model.vitals()
        for ev in model.new_events():
            if ev.source is EventSource.DEVICE and _dropped(faults, ev.device):
                continue
            yield ev
        if not faults["monitor"].drop:
            cycle = model.nibp_cycle_start
            fresh_nibp = cycle != last_nibp
            for code in CODES_MONITOR:
                if code not in values or (code in NIBP_CODES and not fresh_nibp):
                    continue
                yield _obs(t, name, code, values[code], "monitor")
            if fresh_nibp and NIBP_CODES[0] in values:
                last_nibp = cycle
        if not faults["ventilator"].drop:
            for code in CODES_VENTILATOR:
                if code in values:
                    yield _obs(t, name, code, values[code], "ventilator")
        if not faults["pump"].drop:
            yield from _pump_obs(t, name, model.pumps, model.weight_kg)


def _dropped(faults: dict[str, Faults], device: str | None) -> bool:
    link = link_of(device)
    return link is not None and link in faults and faults[link].drop


def _pump_obs(
    t: datetime, bed: str, pumps: dict[str, PumpState], weight_kg: float
) -> Iterator[Observation]:
    for pname, pump in pumps.items():
        device = f"pump:{pname}"
        rate = pump.rate_ml_h if pump.delivering else 0.0
        yield _obs(t, bed, "MDC_FLOW_FLUID_PUMP", round(rate, 2), device)
        yield _obs(t, bed, "MDC_VOL_FLUID_DELIV", round(pump.volume_infused_ml, 1), device)
        if pump.role == "study" and pump.vtbi_ml > 0:
            yield _obs(t, bed, "MDC_VOL_FLUID_TBI", round(pump.vtbi_ml, 1), device)
        dose = clinical_dose(pump, weight_kg)
        if dose is not None and pump.drug is not None:
            code = VASOPRESSOR_CODES[pump.drug]
            yield _obs(t, bed, code, round(dose, 4), device)


def _obs(t: datetime, bed: str, code: str, value: float, device: str) -> Observation:
    return Observation(
        t=t, bed=bed, code=code, value=float(value), unit=PARAMETERS[code].unit, device=device
    )


def records(
    scenario: Scenario,
    *,
    infusion_at: datetime = DEFAULT_INFUSION_AT,
    until_s: float = DEFAULT_UNTIL_S,
    period: float = 1.0,
) -> Iterator[Record]:
    """Every bed's records, interleaved in time order (ties keep bed order)."""
    if until_s < scenario.start:
        raise ValueError("until is before the scenario start")
    streams = [
        bed_records(
            bed, start_s=scenario.start, infusion_at=infusion_at, until_s=until_s, period=period
        )
        for bed in scenario.beds
    ]
    return heapq.merge(*streams, key=lambda r: r.t)


def write_recording(
    scenario: Scenario,
    out: TextIO,
    *,
    infusion_at: datetime = DEFAULT_INFUSION_AT,
    until_s: float = DEFAULT_UNTIL_S,
    period: float = 1.0,
) -> int:
    """Write the scenario as JSON Lines to `out`; returns the number of lines."""
    count = 0
    for rec in records(scenario, infusion_at=infusion_at, until_s=until_s, period=period):
        out.write(dump_record(rec))
        out.write("\n")
        count += 1
    return count


def record_file(
    scenario: Scenario,
    path: str | Path,
    *,
    infusion_at: datetime = DEFAULT_INFUSION_AT,
    until_s: float = DEFAULT_UNTIL_S,
    period: float = 1.0,
) -> int:
    """`write_recording` into a file (written whole or not at all: a temporary, then renamed)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            n = write_recording(
                scenario, fh, infusion_at=infusion_at, until_s=until_s, period=period
            )
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return n
