"""The simulated patient every device of a bed reads: physiology, measurement, pumps, events.

`PatientModel` puts together the true physiology (`simulators.physiology`), how the devices
measure it (`simulators.measurement`), the bed's pumps and the log of what happened
(`core.model.DeviceEvent`s: pump alarms, rhythm alarms, clinician entries).

Nothing runs in the background: values are computed at `clock.now()`. `sync()` advances the
pumps and integrates the slow states lazily from the last evaluation, so the values at a
given time depend only on the seed and on the scenario actions applied before it — not on
how often anyone looked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from core.clock import Clock
from core.model import DeviceEvent, EventSource
from core.params import VASOPRESSOR_CODES
from core.vocabulary import STOPPING_PUMP_ALARMS
from simulators.measurement import Measurement, nibp_cycle_start, rounded
from simulators.physiology import Physiology, clinical_dose, rate_for_dose
from simulators.pump_state import PumpState
from simulators.source import DEFAULT_ADULT_ARDS

DEFAULT_BED = "ICU-1"


class PatientModel:
    """The simulated patient at bed `bed`: a `VitalsSource` plus pumps and an event log.

    `baseline` overrides `DEFAULT_ADULT_ARDS` code by code; MAP is always (sys + 2·dia)/3.
    Pumps passed at construction are the running infusions the baseline already reflects; a
    later dose change moves MAP relative to them. `drift` scales the slow random drift
    (0: none, for exact tests). Every mutator first brings the model up to `clock.now()`, so
    a change takes effect exactly when it is made.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        baseline: Mapping[str, float] = DEFAULT_ADULT_ARDS,
        seed: int,
        weight_kg: float = 70.0,
        pumps: Mapping[str, PumpState] | None = None,
        drift: float = 1.0,
        bed: str = DEFAULT_BED,
    ) -> None:
        if weight_kg <= 0:
            raise ValueError("weight_kg must be positive")
        self.clock = clock
        self.seed = seed
        self.bed = bed
        self.weight_kg = weight_kg
        self.pumps: dict[str, PumpState] = dict(pumps or {})
        self.events: list[DeviceEvent] = []
        self.body = Physiology(
            {**DEFAULT_ADULT_ARDS, **baseline},
            seed=seed,
            weight_kg=weight_kg,
            pumps=self.pumps,
            drift=drift,
        )
        self.measurement = Measurement(seed)
        self._t0 = clock.now()
        self._emitted = 0

    # ------------------------------------------------------------------ time

    @property
    def elapsed(self) -> float:
        """Seconds of model time since the model was created."""
        return (self.clock.now() - self._t0).total_seconds()

    def at(self, seconds: float) -> datetime:
        """The wall time of model time `seconds`."""
        return self._t0 + timedelta(seconds=seconds)

    def sync(self) -> None:
        """Advance pumps and slow states up to `clock.now()` (nothing to do if already)."""
        t = self.elapsed
        if t <= self.body.t:
            return
        dt = t - self.body.t
        for name, pump in self.pumps.items():
            self._advance_pump(name, pump, dt)
        self.body.advance(t)

    def _advance_pump(self, name: str, pump: PumpState, dt: float) -> None:
        before = pump.volume_infused_ml
        ended = "end_of_infusion" in pump.alarms
        pump.advance(dt)
        if not ended and "end_of_infusion" in pump.alarms:
            rate = max(pump.rate_ml_h, 1e-9)
            t_end = self.body.t + min(dt, (pump.vtbi_ml - before) * 3600.0 / rate)
            when = self.at(t_end)
            device = f"pump:{name}"
            self._log(when, "pump_alarm", {"kind": "end_of_infusion"}, device)
            if pump.role == "study":
                fields = {"volume_infused_ml": rounded(pump.volume_infused_ml, 1)}
                self._log(when, "infusion_end", fields, device)

    # ------------------------------------------------------------------ what is measured

    @property
    def rhythm(self) -> str:
        return self.body.rhythm

    @property
    def dead(self) -> bool:
        return self.body.dead

    def true_values(self) -> dict[str, float]:
        """Noise- and artifact-free physiology now, by code (absent = not measurable)."""
        self.sync()
        true = self.body.true()
        return {k: v for k, v in true.items() if v is not None and not k.startswith("_")}

    def ventilator_settings(self) -> dict[str, float]:
        """The ventilator's set points now (FiO2 %, PEEP cmH2O, rate /min): what the scenario
        set, without noise (the MEDIBUS simulator's 0x29 reply)."""
        self.sync()
        b = self.body
        return {
            "MDC_VENT_CONC_AWAY_O2_INSP": b.fio2.at(b.t),
            "MDC_PRESS_AWAY_END_EXP_POS": b.peep.at(b.t),
            "MDC_VENT_RESP_RATE": b.rr_set,
        }

    def vitals(self) -> Mapping[str, float]:
        """What the devices measure now: physiology + noise, rounded, with artifacts."""
        self.sync()
        return self.measurement.readings(self.body.true(), self.body.t, self.body.rhythm)

    @property
    def nibp_cycle_start(self) -> float:
        """Model time (s) of the current cuff cycle's start (a new NIBP reading)."""
        return nibp_cycle_start(self.elapsed)

    def rhythm_alarms(self) -> Sequence[str]:
        """The active rhythm alarm ([] in sinus rhythm)."""
        return [] if self.body.rhythm == "sinus" else [self.body.rhythm]

    def blood_gas(self) -> dict[str, float]:
        """An arterial blood gas drawn now: PaO2, PaCO2 (mmHg) and pH, as the lab reports."""
        self.sync()
        gas = self.body.blood_gas()
        return {k: rounded(v, 2 if k == "ph" else 0) for k, v in gas.items()}

    def doses(self) -> dict[str, float]:
        """Vasopressor doses now, by dose code, in each drug's clinical unit (summed per drug)."""
        self.sync()
        out: dict[str, float] = {}
        for pump in self.pumps.values():
            dose = clinical_dose(pump, self.weight_kg)
            if dose is not None and pump.drug is not None:
                code = VASOPRESSOR_CODES[pump.drug]
                out[code] = out.get(code, 0.0) + dose
        return out

    # ------------------------------------------------------------------ scenario effects

    def fever(self, to: float, over: float) -> None:
        """Core temperature heads for `to` °C, reaching it `over` seconds from now."""
        self.sync()
        self.body.fever(to, over)

    def hypotension(self, to: float, over: float) -> None:
        """Systolic pressure heads for `to` mmHg (at today's drug support), over `over` s."""
        self.sync()
        self.body.hypotension(to, over)

    def heart_rate(self, to: float, over: float) -> None:
        """Sinus heart rate heads for `to` /min over `over` s."""
        self.sync()
        self.body.heart_rate(to, over)

    def desaturation(self, to: float, over: float) -> None:
        """Lung injury worsens until SpO2 (at today's settings) reaches `to` %."""
        self.sync()
        self.body.desaturation(to, over)

    def set_fio2(self, percent: float, over: float = 0.0) -> None:
        self.sync()
        self.body.set_fio2(percent, over)

    def set_peep(self, cmh2o: float, over: float = 0.0) -> None:
        self.sync()
        self.body.set_peep(cmh2o, over)

    def set_ventilation(self, *, rate: float | None = None, tidal_ml: float | None = None) -> None:
        self.sync()
        self.body.set_ventilation(rate=rate, tidal_ml=tidal_ml)

    def airway_pressure(self, peak: float, over: float, cause: str = "resistance") -> None:
        """Peak pressure heads for `peak`: by resistance (plateau unchanged) or compliance."""
        self.sync()
        self.body.airway_pressure(peak, over, cause)

    def embolism(self, severity: float = 1.0, over: float = 60.0) -> None:
        """Pulmonary embolism: SpO2 and EtCO2 fall, HR rises, BP falls, together."""
        self.sync()
        self.body.embolism(severity, over)

    def set_rhythm(self, rhythm: str, rate: float | None = None) -> None:
        """Change the rhythm now; a new non-sinus rhythm is a monitor `arrhythmia` alarm."""
        self.sync()
        if self.body.set_rhythm(rhythm, rate):
            self.log("arrhythmia", {"rhythm": rhythm}, device="monitor")

    def spike(self, code: str, value: float, seconds: float) -> None:
        """An artifact: `code` reads `value` for `seconds`, the patient unchanged."""
        self.sync()
        self.measurement.spike(code, value, self.body.t, seconds)

    def clinician(self, event: str, fields: Mapping[str, Any] | None = None) -> None:
        """Record a clinician entry (clinical sign, cardioversion, arrest, death, blood gas)."""
        self.log(event, fields or {}, source=EventSource.CLINICIAN)

    def die(self) -> None:
        """Death: asystole, no pulse; the clinician's `death` entry is logged separately."""
        self.body.dead = True
        if self.body.rhythm != "asystole":
            self.set_rhythm("asystole")

    # ------------------------------------------------------------------ pumps

    def pump(self, name: str) -> PumpState:
        try:
            return self.pumps[name]
        except KeyError:
            raise KeyError(f"no pump named {name!r} (pumps: {', '.join(self.pumps)})") from None

    def start_infusion(self, name: str, *, rate_ml_h: float, vtbi_ml: float) -> None:
        """Start the study infusion; logs `infusion_start` with the weight and plan."""
        self.sync()
        pump = self.pump(name)
        pump.start(rate_ml_h=rate_ml_h, vtbi_ml=vtbi_ml)
        remaining = max(0.0, pump.vtbi_ml - pump.volume_infused_ml)
        fields = {
            "weight_kg": self.weight_kg,
            "volume_ml": pump.vtbi_ml,
            "planned_min": rounded(remaining / rate_ml_h * 60.0, 1) if rate_ml_h > 0 else 0.0,
        }
        self.log("infusion_start", fields, device=f"pump:{name}")

    def stop_infusion(self, name: str) -> None:
        self.sync()
        pump = self.pump(name)
        was_running = pump.running
        pump.stop()
        if was_running and pump.role == "study":
            fields = {"volume_infused_ml": rounded(pump.volume_infused_ml, 1)}
            self.log("infusion_end", fields, device=f"pump:{name}")

    def pump_alarm(self, name: str, kind: str) -> None:
        self.sync()
        self.pump(name).raise_alarm(kind)
        self.log("pump_alarm", {"kind": kind}, device=f"pump:{name}")

    def clear_pump_alarm(self, name: str, kind: str, *, resume: bool = True) -> None:
        self.sync()
        pump = self.pump(name)
        pump.clear_alarm(kind)
        if resume and not pump.alarms & STOPPING_PUMP_ALARMS:
            pump.running = pump.volume_infused_ml < pump.vtbi_ml or pump.vtbi_ml <= 0

    def set_rate(self, name: str, rate_ml_h: float) -> None:
        self.sync()
        self.pump(name).rate_ml_h = rate_ml_h

    def set_dose(self, name: str, dose: float) -> None:
        """Titrate a drug pump to `dose` in its drug's clinical unit."""
        pump = self.pump(name)
        if pump.drug is None or pump.concentration_ug_ml is None:
            raise ValueError(f"pump {name!r} carries no drug; titrate it by rate")
        self.set_rate(
            name, rate_for_dose(pump.drug, dose, pump.concentration_ug_ml, self.weight_kg)
        )

    def add_pump(self, name: str, pump: PumpState) -> None:
        """A new infusion from now on (a vasopressor added during the scenario).

        A pump of that name that is idle (never run, no drug) is programmed in place, so a
        device simulator already serving that `PumpState` object sees the new infusion.
        """
        self.sync()
        existing = self.pumps.get(name)
        if existing is None:
            self.pumps[name] = pump
        elif existing.drug is None and not existing.running and existing.volume_infused_ml == 0:
            existing.role, existing.drug = pump.role, pump.drug
            existing.concentration_ug_ml = pump.concentration_ug_ml
            existing.rate_ml_h, existing.vtbi_ml = pump.rate_ml_h, pump.vtbi_ml
            existing.running, existing.alarms = pump.running, set(pump.alarms)
        else:
            raise ValueError(f"pump {name!r} exists already")
        if pump.drug is not None:
            self.log("vasopressor_added", {"drug": pump.drug}, device=f"pump:{name}")

    # ------------------------------------------------------------------ events

    def log(
        self,
        event: str,
        fields: Mapping[str, Any],
        *,
        device: str | None = None,
        source: EventSource = EventSource.DEVICE,
    ) -> None:
        """Append an event at the current time."""
        self.sync()
        self._log(self.clock.now(), event, fields, device, source)

    def _log(
        self,
        t: datetime,
        event: str,
        fields: Mapping[str, Any],
        device: str | None,
        source: EventSource = EventSource.DEVICE,
    ) -> None:
        self.events.append(
            DeviceEvent(
                t=t, bed=self.bed, event=event, fields=dict(fields), device=device, source=source
            )
        )

    @property
    def clinician_events(self) -> list[DeviceEvent]:
        """The clinician's entries so far (signs, cardioversion, arrest, death, blood gases)."""
        return [e for e in self.events if e.source is EventSource.CLINICIAN]

    def new_events(self) -> Iterator[DeviceEvent]:
        """Events logged since the last call (each is returned once), in time order."""
        self.sync()
        fresh = sorted(self.events[self._emitted :], key=lambda e: e.t)
        self._emitted = len(self.events)
        return iter(fresh)
