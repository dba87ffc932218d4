"""Playing a scenario: `ScenarioRunner` applies one bed's timeline to its `PatientModel` as
the clock passes each step (live with `run()`, or offline with `apply_until()`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime, timedelta
from typing import Any

from core.clock import Clock, VirtualClock
from core.model import EventSource
from simulators.faults import Faults
from simulators.patient import PatientModel, clinical_dose, rate_for_dose
from simulators.pump_state import PumpState
from simulators.scenario import MIN_BASELINE_S, BedScenario, Scenario, Step

StepListener = Callable[[Step, datetime], None]


class ScenarioRunner:
    """Applies one bed's timeline to its `PatientModel` as the clock passes each step.

    Scenario time 0 (infusion start) is `origin`; by default the runner is created at the
    scenario's start, so `origin = now + |start|`. Device unplug/replug flips
    `faults[device].drop`. `run()` sleeps on the clock between steps (a `ScaledClock` sets
    the speed); `apply_until(t)` applies due steps synchronously, moving a `VirtualClock`
    to each step's own time first so every change lands exactly when the timeline says.
    """

    def __init__(
        self,
        scenario: Scenario | BedScenario,
        model: PatientModel,
        clock: Clock,
        faults_by_device: MutableMapping[str, Faults] | None = None,
        *,
        bed: str | None = None,
        origin: datetime | None = None,
        on_step: StepListener | None = None,
    ) -> None:
        if isinstance(scenario, Scenario):
            self.bed = scenario.bed(bed)
            start = scenario.start
        else:
            self.bed = scenario
            start = min(-MIN_BASELINE_S, min((s.at for s in scenario.timeline), default=0.0))
        self.model = model
        self.clock = clock
        self.faults: MutableMapping[str, Faults] = (
            faults_by_device if faults_by_device is not None else {}
        )
        self.origin = origin or clock.now() + timedelta(seconds=-start)
        self.on_step = on_step
        self.applied: list[tuple[Step, datetime]] = []
        self._next = 0

    def time_of(self, step: Step) -> datetime:
        return self.origin + timedelta(seconds=step.at)

    @property
    def scenario_time(self) -> float:
        """Seconds since infusion start (negative before it)."""
        return (self.clock.now() - self.origin).total_seconds()

    @property
    def done(self) -> bool:
        return self._next >= len(self.bed.timeline)

    def next_due(self) -> datetime | None:
        """When the next step is due (None when the timeline is finished)."""
        return None if self.done else self.time_of(self.bed.timeline[self._next])

    def apply_until(self, t: datetime) -> list[Step]:
        """Apply every step due at or before `t`, each at its own time; return them."""
        done = []
        while not self.done:
            step = self.bed.timeline[self._next]
            when = self.time_of(step)
            if when > t:
                break
            if isinstance(self.clock, VirtualClock) and self.clock.now() < when:
                self.clock.set(when)
            self._apply_next()
            done.append(step)
        return done

    async def run(self) -> None:
        """Apply the remaining steps in real (clock) time; returns after the last one."""
        while not self.done:
            due = self.time_of(self.bed.timeline[self._next])
            wait = (due - self.clock.now()).total_seconds()
            if wait > 0:
                await self.clock.sleep(wait)
            self.apply_until(self.clock.now())

    def _apply_next(self) -> None:
        step = self.bed.timeline[self._next]
        self._next += 1
        self.apply(step)
        now = self.clock.now()
        self.applied.append((step, now))
        if self.on_step is not None:
            self.on_step(step, now)

    def apply(self, step: Step) -> None:
        """Make one step happen now."""
        m, a = self.model, step.args
        act = step.action
        if act == "infusion_start":
            pump = m.pump(a["pump"])
            spec = next((p for p in self.bed.pumps if p.name == a["pump"]), None)
            rate = a.get("rate", spec.rate_ml_h if spec else pump.rate_ml_h)
            vtbi = a.get("vtbi", spec.volume_ml if spec else pump.vtbi_ml)
            m.start_infusion(a["pump"], rate_ml_h=rate, vtbi_ml=vtbi)
        elif act == "infusion_stop":
            m.stop_infusion(a["pump"])
        elif act == "fever":
            m.fever(a["to"], a["over"])
        elif act == "hypotension":
            m.hypotension(a["to"], a["over"])
        elif act == "desaturation":
            m.desaturation(a["to"], a["over"])
        elif act == "heart_rate":
            m.heart_rate(a["to"], a["over"])
        elif act == "fio2":
            m.set_fio2(a["set"], a["over"])
        elif act == "peep":
            m.set_peep(a["set"], a["over"])
        elif act == "resp_rate":
            m.set_ventilation(rate=a["set"])
        elif act == "tidal_volume":
            m.set_ventilation(tidal_ml=a["set"])
        elif act == "airway_pressure":
            m.airway_pressure(a["peak"], a["over"], a["cause"])
        elif act == "embolism":
            m.embolism(a["severity"], a["over"])
        elif act == "rhythm":
            m.set_rhythm(a["rhythm"], a.get("rate"))
        elif act in ("occlusion", "air_in_line"):
            m.pump_alarm(a["pump"], act)
        elif act == "clear_alarm":
            m.clear_pump_alarm(a["pump"], a["kind"], resume=a["resume"])
        elif act == "titrate":
            if "dose" in a:
                m.set_dose(a["pump"], a["dose"])
            else:
                m.set_rate(a["pump"], a["rate"])
        elif act == "add_vasopressor":
            self._add_vasopressor(a)
        elif act in ("unplug", "replug"):
            self._plug(a["device"], unplugged=act == "unplug")
        elif act == "spike":
            m.spike(a["code"], a["to"], a["for"])
        elif act == "clinical_sign":
            m.clinician("clinical_sign", {"sign": a["sign"]})
        elif act == "cardioversion":
            m.clinician("cardioversion")
            m.set_rhythm(a["rhythm"])
        elif act == "cardiac_arrest":
            m.clinician("cardiac_arrest")
            m.set_rhythm(a["rhythm"])
        elif act == "death":
            m.die()
            m.clinician("death")
        elif act == "blood_gas":
            gas = m.blood_gas()
            gas.update({k: v for k, v in a.items() if v is not None})
            m.clinician("blood_gas", gas)
        else:  # pragma: no cover - ACTIONS and this dispatch are kept together
            raise AssertionError(f"unhandled action {act}")

    def _add_vasopressor(self, a: Mapping[str, Any]) -> None:
        m = self.model
        drug, conc = a["drug"], a["concentration"]
        rate = a["rate"] if "rate" in a else rate_for_dose(drug, a["dose"], conc, m.weight_kg)
        pump = PumpState(role="vasopressor", drug=drug, concentration_ug_ml=conc)
        pump.start(rate_ml_h=rate)
        m.add_pump(a["pump"], pump)

    def _plug(self, device: str, *, unplugged: bool) -> None:
        faults = self.faults.setdefault(device, Faults())
        if faults.drop == unplugged:
            return
        faults.drop = unplugged
        event = "device_disconnected" if unplugged else "device_connected"
        fields = {"reason": "unplugged"} if unplugged else {}
        self.model.log(event, fields, device=device, source=EventSource.DRIVER)


def doses_now(model: PatientModel) -> dict[str, float]:
    """Per pump, the clinical dose now (for progress lines)."""
    out = {}
    for name, pump in model.pumps.items():
        dose = clinical_dose(pump, model.weight_kg)
        if dose is not None:
            out[name] = dose
    return out
