"""A physiological patient model that every simulated device of a bed reads.

Each measured value is

    baseline  +  slow drift (Ornstein–Uhlenbeck)  +  scenario effects  →  physiology
    physiology  +  bounded measurement noise  +  artifacts  →  what the device shows

and the parameters are coupled the way a ventilated ARDS patient's are:

- oxygenation: PaO2 = P/F × effective FiO2, P/F rising with PEEP (recruitment) and falling
  with lung injury; SpO2 from PaO2 by Severinghaus' dissociation curve, so raising FiO2 or
  PEEP raises SpO2, with the lag of a washout (FiO2) or of recruitment (PEEP);
- pressure: MAP = (sys + 2·dia)/3; vasopressor doses raise it through an Emax curve with a
  two-minute lag; heart rate rises with fever (~10/min per °C) and with a fall in MAP;
- ventilation: volume control, so plateau = PEEP + VT/compliance and peak = plateau +
  resistive pressure; PEEP recruits lung, improving compliance as well as P/F; EtCO2
  follows CO2 production over alveolar ventilation (minute volume) and falls with
  pulmonary perfusion (embolism, low output, arrest);
- rhythm: VT/AF/SVT/brady set the rate and cut the pressure; VF and asystole leave no pulse,
  so SpO2, pulse rate and NIBP are absent and the arterial line is flat.

Nothing runs in the background: values are computed at `clock.now()`. `sync()` integrates the
slow states lazily on a fixed 5 s grid from the last evaluation, and measurement noise is a
hash of (seed, parameter, second), so the values at a given time depend only on the seed and
on the scenario actions applied before it — not on how often anyone looked.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.clock import Clock
from core.model import EventSource
from core.params import PARAMETERS, VASOPRESSOR_CODES
from simulators.pump_state import PumpState
from simulators.source import DEFAULT_ADULT_ARDS

GRID_S = 5.0
"""Integration step of the slow states (drift, drug effect, washout, recruitment)."""

RHYTHMS = ("sinus", "AF", "SVT", "VT", "VF", "asystole", "brady")
"""Rhythms the model knows; all but sinus are rhythm alarms (DESIGN.md's `arrhythmia`)."""

PULSELESS = frozenset({"VF", "asystole"})

_DEFAULT_RATE = {"AF": 130.0, "SVT": 165.0, "VT": 180.0, "asystole": 0.0, "brady": 35.0}

# Pressure change per rhythm: (systolic factor, diastolic factor) — a fast or chaotic rhythm
# shortens filling and cuts output.
_RHYTHM_PRESSURE = {
    "AF": (0.92, 0.95),
    "SVT": (0.85, 0.92),
    "VT": (0.62, 0.78),
    "brady": (0.85, 0.88),
}
_FLAT_ART = (22.0, 16.0)  # arterial line with no output: the mean filling pressure, about
_RHYTHM_PERFUSION = {"VT": 0.75, "VF": 0.2, "asystole": 0.15, "SVT": 0.9}

# Vasopressor effect on MAP: Emax model, dose in the drug's clinical unit (core.params).
# Values are of the order of published dose–response ranges; they shape, not prescribe.
_PRESSOR_EMAX = {
    "norepinephrine": (40.0, 10.0),  # mmHg, EC50 ug/min
    "phenylephrine": (35.0, 100.0),  # ug/min
    "dopamine": (30.0, 8.0),  # ug/kg/min
    "epinephrine": (40.0, 0.1),  # ug/kg/min
    "vasopressin": (25.0, 0.03),  # U/min
}
_CHRONOTROPY = {"dopamine": 2.0, "epinephrine": 150.0}  # /min per unit of dose

CODES_MONITOR = (
    "MDC_PULS_OXIM_SAT_O2",
    "MDC_PULS_OXIM_PULS_RATE",
    "MDC_ECG_HEART_RATE",
    "MDC_PRESS_BLD_ART_SYS",
    "MDC_PRESS_BLD_ART_DIA",
    "MDC_PRESS_BLD_ART_MEAN",
    "MDC_PRESS_BLD_NONINV_SYS",
    "MDC_PRESS_BLD_NONINV_DIA",
    "MDC_PRESS_BLD_NONINV_MEAN",
    "MDC_TEMP_BLD",
    "MDC_RESP_RATE",
    "MDC_AWAY_CO2_ET",
)
CODES_VENTILATOR = (
    "MDC_VENT_RESP_RATE",
    "MDC_VENT_CONC_AWAY_O2_INSP",
    "MDC_PRESS_AWAY_END_EXP_POS",
    "MDC_PRESS_AWAY_INSP_PEAK",
    "MDC_PRESS_RESP_PLAT",
    "MDC_PRESS_AWAY_MEAN",
    "MDC_VOL_AWAY_TIDAL_EXP",
    "MDC_VOL_MINUTE_AWAY_EXP",
)
NIBP_CODES = ("MDC_PRESS_BLD_NONINV_SYS", "MDC_PRESS_BLD_NONINV_DIA", "MDC_PRESS_BLD_NONINV_MEAN")
NIBP_INTERVAL_S = 900.0
"""Non-invasive pressure is a cuff cycle, every 15 min; between cycles it holds its value."""

# Measurement noise: (bound of a triangular error, display resolution).
_NOISE: dict[str, tuple[float, float]] = {
    "MDC_PULS_OXIM_SAT_O2": (1.0, 1.0),
    "MDC_PULS_OXIM_PULS_RATE": (2.0, 1.0),
    "MDC_ECG_HEART_RATE": (2.0, 1.0),
    "MDC_PRESS_BLD_ART_SYS": (3.0, 1.0),
    "MDC_PRESS_BLD_ART_DIA": (2.0, 1.0),
    "MDC_PRESS_BLD_NONINV_SYS": (4.0, 1.0),
    "MDC_PRESS_BLD_NONINV_DIA": (3.0, 1.0),
    "MDC_TEMP_BLD": (0.05, 0.01),
    "MDC_RESP_RATE": (1.0, 1.0),
    "MDC_VENT_RESP_RATE": (1.0, 1.0),
    "MDC_AWAY_CO2_ET": (1.0, 1.0),
    "MDC_VENT_CONC_AWAY_O2_INSP": (1.0, 1.0),
    "MDC_PRESS_AWAY_END_EXP_POS": (0.3, 0.1),
    "MDC_PRESS_AWAY_INSP_PEAK": (1.0, 1.0),
    "MDC_PRESS_RESP_PLAT": (1.0, 1.0),
    "MDC_PRESS_AWAY_MEAN": (0.5, 1.0),
    "MDC_VOL_AWAY_TIDAL_EXP": (10.0, 1.0),
    "MDC_VOL_MINUTE_AWAY_EXP": (0.2, 0.1),
}
NOISE_BOUND: Mapping[str, float] = {code: b for code, (b, _) in _NOISE.items()}
"""Largest measurement error per code before rounding to the display resolution."""


def severinghaus(pao2: float) -> float:
    """SpO2 (%) from PaO2 (mmHg): Severinghaus, J Appl Physiol 1979."""
    p = max(pao2, 0.1)
    return 100.0 / (23400.0 / (p**3 + 150.0 * p) + 1.0)


def inverse_severinghaus(spo2: float) -> float:
    """PaO2 (mmHg) for an SpO2 (%), by bisection of `severinghaus`."""
    target = min(max(spo2, 1.0), 99.9)
    lo, hi = 0.1, 800.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if severinghaus(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def dose_unit(drug: str) -> str:
    """The clinical unit a vasopressor's dose is written in (`ug/min`, `ug/kg/min`, `U/min`)."""
    return PARAMETERS[VASOPRESSOR_CODES[drug]].unit


def clinical_dose(pump: PumpState, weight_kg: float) -> float | None:
    """The dose a drug pump delivers now, in its drug's clinical unit (None: not a drug)."""
    if pump.drug is None or pump.drug not in VASOPRESSOR_CODES:
        return None
    delivered = pump.dose(weight_kg)
    if delivered is None:
        return None
    per_min = delivered[0]  # amount per minute: ug (or U for vasopressin)
    return per_min / weight_kg if "/kg/" in dose_unit(pump.drug) else per_min


def rate_for_dose(drug: str, dose: float, concentration: float, weight_kg: float) -> float:
    """Pump rate (mL/h) giving `dose` (clinical unit) of `drug` at `concentration` (per mL)."""
    per_min = dose * weight_kg if "/kg/" in dose_unit(drug) else dose
    return per_min * 60.0 / concentration


@dataclass(frozen=True, slots=True)
class PatientEvent:
    """Something that happened at the bed: from a device, a driver or a clinician."""

    t: datetime
    event: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    device: str | None = None
    source: EventSource = EventSource.DEVICE


@dataclass(slots=True)
class _Ramp:
    """A value that moves linearly from `start` to `end` over [t0, t0 + duration]."""

    start: float
    end: float
    t0: float = 0.0
    duration: float = 0.0

    def at(self, t: float) -> float:
        if self.duration <= 0 or t >= self.t0 + self.duration:
            return self.end
        if t <= self.t0:
            return self.start
        return self.start + (self.end - self.start) * (t - self.t0) / self.duration

    def retarget(self, t: float, end: float, duration: float) -> None:
        """From wherever it is at `t`, head for `end`, arriving `duration` s later."""
        self.start = self.at(t)
        self.end = end
        self.t0 = t
        self.duration = max(0.0, duration)


class _Drift:
    """Ornstein–Uhlenbeck drift: mean 0, stationary SD `sigma`, time constant `tau`, clamped.

    Stepped exactly on the GRID_S grid; the innovation is uniform with unit variance (cheaper
    than a Gaussian, and over many steps the drift is Gaussian all the same).
    """

    __slots__ = ("_a", "_b", "_bound", "x")

    def __init__(self, sigma: float, tau: float) -> None:
        self.x = 0.0
        self._a = math.exp(-GRID_S / tau)
        self._b = sigma * math.sqrt(1.0 - self._a * self._a) * math.sqrt(3.0)
        self._bound = 2.5 * sigma

    def step(self, rng: random.Random) -> None:
        x = self.x * self._a + self._b * (2.0 * rng.random() - 1.0)
        bound = self._bound
        self.x = bound if x > bound else -bound if x < -bound else x


@dataclass(frozen=True, slots=True)
class _Spike:
    code: str
    value: float
    t0: float
    t1: float


def _mix64(x: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit hash of an integer."""
    m = 0xFFFFFFFFFFFFFFFF
    x = (x + 0x9E3779B97F4A7C15) & m
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
    return x ^ (x >> 31)


class PatientModel:
    """The simulated patient: a `VitalsSource` plus pumps, ventilator settings and events.

    `baseline` overrides `DEFAULT_ADULT_ARDS` code by code; MAP is always (sys + 2·dia)/3.
    Pumps passed at construction are the running infusions the baseline already reflects; a
    later dose change moves MAP relative to them. `drift` scales the slow random drift
    (0: none, for exact tests). Every mutator first brings the model up
    to `clock.now()`, so a change takes effect exactly when it is made.
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
    ) -> None:
        if weight_kg <= 0:
            raise ValueError("weight_kg must be positive")
        self.clock = clock
        self.seed = seed
        self.weight_kg = weight_kg
        self.baseline: dict[str, float] = {**DEFAULT_ADULT_ARDS, **baseline}
        self.pumps: dict[str, PumpState] = dict(pumps or {})
        self.events: list[PatientEvent] = []
        self.rhythm = "sinus"
        self.rhythm_rate: float | None = None
        self.dead = False
        self._t0 = clock.now()
        self._t = 0.0  # seconds since _t0 the model is integrated to
        self._t_grid = 0.0
        self._rng = random.Random(seed)
        self._noise_key = _mix64(seed & 0xFFFFFFFFFFFFFFFF)
        self._spikes: list[_Spike] = []
        self._emitted = 0

        b = self.baseline
        # Ventilator settings (volume control) and their delayed physiological effect.
        self.fio2 = _Ramp(b["MDC_VENT_CONC_AWAY_O2_INSP"], b["MDC_VENT_CONC_AWAY_O2_INSP"])
        self.peep = _Ramp(b["MDC_PRESS_AWAY_END_EXP_POS"], b["MDC_PRESS_AWAY_END_EXP_POS"])
        self.vt_set = b["MDC_VOL_AWAY_TIDAL_EXP"]
        self.rr_set = b["MDC_VENT_RESP_RATE"]
        self._eff_fio2 = self.fio2.end
        self._eff_peep = self.peep.end
        self._mv_base = self.vt_set * self.rr_set / 1000.0
        self._eff_mv = self._mv_base
        self._pf_base = inverse_severinghaus(b["MDC_PULS_OXIM_SAT_O2"]) / (self.fio2.end / 100)
        self._compliance = self.vt_set / max(
            1.0, b["MDC_PRESS_RESP_PLAT"] - b["MDC_PRESS_AWAY_END_EXP_POS"]
        )
        self._resistive = b["MDC_PRESS_AWAY_INSP_PEAK"] - b["MDC_PRESS_RESP_PLAT"]
        self._mean_k = (b["MDC_PRESS_AWAY_MEAN"] - b["MDC_PRESS_AWAY_END_EXP_POS"]) / max(
            1.0, b["MDC_PRESS_AWAY_INSP_PEAK"] - b["MDC_PRESS_AWAY_END_EXP_POS"]
        )
        # Scenario effects, as ramps of offsets (or factors) over the baseline.
        self.temp_off = _Ramp(0.0, 0.0)
        self.sys_off = _Ramp(0.0, 0.0)
        self.hr_off = _Ramp(0.0, 0.0)
        self.lung = _Ramp(1.0, 1.0)  # factor on P/F
        self.perfusion = _Ramp(1.0, 1.0)  # factor on pulmonary perfusion (EtCO2)
        self.resist_off = _Ramp(0.0, 0.0)  # cmH2O added to the resistive pressure
        self.compliance_k = _Ramp(1.0, 1.0)  # factor on compliance
        # Slow drift of the patient (seeded).
        k = max(0.0, drift)
        self._d_hr = _Drift(sigma=4.0 * k, tau=1800.0)
        self._d_sys = _Drift(sigma=5.0 * k, tau=1800.0)
        self._d_temp = _Drift(sigma=0.1 * k, tau=7200.0)
        self._d_lung = _Drift(sigma=0.03 * k, tau=2400.0)
        self._d_co2 = _Drift(sigma=1.2 * k, tau=2400.0)
        self._d_rr = _Drift(sigma=0.8 * k, tau=900.0)
        self._d_vt = _Drift(sigma=8.0 * k, tau=1200.0)
        self._d_comp = _Drift(sigma=0.03 * k, tau=3600.0)
        self._drifts = (
            self._d_hr,
            self._d_sys,
            self._d_temp,
            self._d_lung,
            self._d_co2,
            self._d_rr,
            self._d_vt,
            self._d_comp,
        )
        self._pressor_ref = self._pressor_target()
        self._pressor_eff = self._pressor_ref
        self._nibp_held: dict[str, float] = {}
        self._nibp_cycle = -1

    # ------------------------------------------------------------------ time

    @property
    def elapsed(self) -> float:
        """Seconds of model time since the model was created."""
        return (self.clock.now() - self._t0).total_seconds()

    def at(self, seconds: float) -> datetime:
        """The wall time of model time `seconds`."""
        return self._t0 + timedelta(seconds=seconds)

    def sync(self) -> None:
        """Integrate pumps and slow states up to `clock.now()` (nothing to do if already)."""
        t = self.elapsed
        if t <= self._t:
            return
        dt = t - self._t
        for name, pump in self.pumps.items():
            self._advance_pump(name, pump, dt)
        while self._t_grid + GRID_S <= t:
            self._grid_step()
            self._t_grid += GRID_S
        self._t = t

    def _advance_pump(self, name: str, pump: PumpState, dt: float) -> None:
        before = pump.volume_infused_ml
        ended = "end_of_infusion" in pump.alarms
        pump.advance(dt)
        if not ended and "end_of_infusion" in pump.alarms:
            rate = max(pump.rate_ml_h, 1e-9)
            t_end = self._t + min(dt, (pump.vtbi_ml - before) * 3600.0 / rate)
            when = self.at(t_end)
            device = f"pump:{name}"
            self._log(when, "pump_alarm", {"kind": "end_of_infusion"}, device)
            if pump.role == "study":
                self._log(
                    when, "infusion_end", {"volume_ml": _r(pump.volume_infused_ml, 1)}, device
                )

    def _grid_step(self) -> None:
        rng = self._rng
        for d in self._drifts:
            d.step(rng)
        t = self._t_grid
        self._eff_fio2 = _lag(self._eff_fio2, self.fio2.at(t), 30.0)
        self._eff_peep = _lag(self._eff_peep, self.peep.at(t), 180.0)
        self._eff_mv = _lag(self._eff_mv, self._minute_volume_true(), 180.0)
        self._pressor_eff = _lag(self._pressor_eff, self._pressor_target(), 120.0)

    # ------------------------------------------------------------------ physiology

    def _pressor_target(self) -> float:
        total = 0.0
        for pump in self.pumps.values():
            dose = clinical_dose(pump, self.weight_kg)
            if dose is None or pump.drug is None:
                continue
            emax, ec50 = _PRESSOR_EMAX.get(pump.drug, (0.0, 1.0))
            total += emax * dose / (ec50 + dose)
        return total

    def _chronotropy(self) -> float:
        bpm = 0.0
        for pump in self.pumps.values():
            dose = clinical_dose(pump, self.weight_kg)
            if dose is not None and pump.drug in _CHRONOTROPY:
                bpm += _CHRONOTROPY[pump.drug] * dose
        return bpm

    def _minute_volume_true(self) -> float:
        vt = self.vt_set + self._d_vt.x
        rr = self.rr_set + max(0.0, self._d_rr.x)  # patient triggering only adds breaths
        return vt * rr / 1000.0

    def _true(self) -> dict[str, float | None]:
        """Noise-free physiology at the model's current time (None = not measurable)."""
        t, b = self._t, self.baseline
        temp = b["MDC_TEMP_BLD"] + self._d_temp.x + self.temp_off.at(t)
        pressor = self._pressor_eff - self._pressor_ref
        sys_off = self._d_sys.x + self.sys_off.at(t)
        art_sys = b["MDC_PRESS_BLD_ART_SYS"] + sys_off + pressor
        art_dia = b["MDC_PRESS_BLD_ART_DIA"] + 0.6 * sys_off + pressor
        map_base = (b["MDC_PRESS_BLD_ART_SYS"] + 2 * b["MDC_PRESS_BLD_ART_DIA"]) / 3
        map_now = (art_sys + 2 * art_dia) / 3
        baro = 0.3 * max(0.0, map_base - map_now)
        hr_sinus = (
            b["MDC_ECG_HEART_RATE"]
            + self._d_hr.x
            + self.hr_off.at(t)
            + 10.0 * (temp - b["MDC_TEMP_BLD"])
            + baro
            + self._chronotropy()
        )
        hr = hr_sinus
        perfusion = self.perfusion.at(t)
        pulse: float | None = hr
        if self.rhythm != "sinus":
            rate = (
                self.rhythm_rate if self.rhythm_rate is not None else _DEFAULT_RATE.get(self.rhythm)
            )
            hr = rate if rate is not None else hr
            if self.rhythm in _RHYTHM_PRESSURE:
                fs, fd = _RHYTHM_PRESSURE[self.rhythm]
                art_sys, art_dia = art_sys * fs, art_dia * fd
            perfusion *= _RHYTHM_PERFUSION.get(self.rhythm, 1.0)
            pulse = hr - 8.0 if self.rhythm == "AF" else hr  # pulse deficit
        pulseless = self.rhythm in PULSELESS
        if pulseless:
            art_sys, art_dia = _FLAT_ART
            pulse = None
        art_sys = max(art_sys, art_dia + 5.0) if not pulseless else art_sys
        map_now = (art_sys + 2 * art_dia) / 3
        perfusion *= min(1.0, max(0.3, map_now / map_base)) ** 0.5

        # Oxygenation: P/F with recruitment by PEEP and lung injury, then the curve.
        peep_gain = 1.0 + 0.03 * (self._eff_peep - b["MDC_PRESS_AWAY_END_EXP_POS"])
        pf = self._pf_base * self.lung.at(t) * math.exp(self._d_lung.x) * max(0.2, peep_gain)
        pao2 = pf * self._eff_fio2 / 100.0
        spo2: float | None = None if pulseless else severinghaus(pao2)

        # Ventilation: volume control.
        vt = self.vt_set + self._d_vt.x
        rr = self.rr_set + max(0.0, self._d_rr.x)
        peep = self.peep.at(t)
        compliance = self._compliance * self.compliance_k.at(t) * math.exp(self._d_comp.x)
        compliance *= max(0.5, 1.0 + 0.03 * (self._eff_peep - b["MDC_PRESS_AWAY_END_EXP_POS"]))
        plat = peep + vt / compliance
        peak = plat + self._resistive + self.resist_off.at(t)
        vco2 = 1.0 + 0.1 * (temp - b["MDC_TEMP_BLD"])
        etco2 = (b["MDC_AWAY_CO2_ET"] + self._d_co2.x) * vco2 * self._mv_base / self._eff_mv
        etco2 *= perfusion

        nibp_ok = not pulseless
        nibp_d = b["MDC_PRESS_BLD_NONINV_SYS"] - b["MDC_PRESS_BLD_ART_SYS"]
        nibp_dd = b["MDC_PRESS_BLD_NONINV_DIA"] - b["MDC_PRESS_BLD_ART_DIA"]
        return {
            "MDC_PULS_OXIM_SAT_O2": spo2,
            "MDC_PULS_OXIM_PULS_RATE": pulse,
            "MDC_ECG_HEART_RATE": None if self.rhythm == "VF" else hr,
            "MDC_PRESS_BLD_ART_SYS": art_sys,
            "MDC_PRESS_BLD_ART_DIA": art_dia,
            "MDC_PRESS_BLD_NONINV_SYS": art_sys + nibp_d if nibp_ok else None,
            "MDC_PRESS_BLD_NONINV_DIA": art_dia + nibp_dd if nibp_ok else None,
            "MDC_TEMP_BLD": temp,
            "MDC_RESP_RATE": rr,
            "MDC_VENT_RESP_RATE": rr,
            "MDC_AWAY_CO2_ET": etco2,
            "MDC_VENT_CONC_AWAY_O2_INSP": self.fio2.at(t),
            "MDC_PRESS_AWAY_END_EXP_POS": peep,
            "MDC_PRESS_AWAY_INSP_PEAK": peak,
            "MDC_PRESS_RESP_PLAT": plat,
            "MDC_PRESS_AWAY_MEAN": peep + self._mean_k * (peak - peep),
            "MDC_VOL_AWAY_TIDAL_EXP": vt,
            "MDC_VOL_MINUTE_AWAY_EXP": vt * rr / 1000.0,
            "_pao2": pao2,
            "_hr_sinus": hr_sinus,
            "_paco2": (b["MDC_AWAY_CO2_ET"] + 8.0) * vco2 * self._mv_base / self._eff_mv,
        }

    def true_values(self) -> dict[str, float]:
        """Noise- and artifact-free physiology now, by code (absent = not measurable)."""
        self.sync()
        return {k: v for k, v in self._true().items() if v is not None and not k.startswith("_")}

    def vitals(self) -> Mapping[str, float]:
        """What the devices measure now: physiology + noise, rounded, with artifacts."""
        self.sync()
        true = self._true()
        second = math.floor(self._t)
        out: dict[str, float] = {}
        for code, value in true.items():
            if value is None or code.startswith("_") or code in NIBP_CODES:
                continue
            out[code] = self._measure(code, value, second)
        self._nibp(true, out)
        if "MDC_PRESS_BLD_ART_SYS" in out:
            out["MDC_PRESS_BLD_ART_MEAN"] = float(
                round((out["MDC_PRESS_BLD_ART_SYS"] + 2 * out["MDC_PRESS_BLD_ART_DIA"]) / 3)
            )
        if self.rhythm == "AF" and "MDC_ECG_HEART_RATE" in out:
            irregular = 12.0 * (self._uniform("AF", second) * 2 - 1)
            out["MDC_ECG_HEART_RATE"] = float(round(out["MDC_ECG_HEART_RATE"] + irregular))
        for spike in self._spikes:
            if spike.t0 <= self._t < spike.t1 and spike.code in out:
                out[spike.code] = spike.value
        self._spikes = [s for s in self._spikes if s.t1 > self._t]
        return out

    def _nibp(self, true: Mapping[str, float | None], out: dict[str, float]) -> None:
        """Hold the last cuff reading; a cycle that finds no pulse has no reading."""
        cycle = math.floor(self._t / NIBP_INTERVAL_S)
        if cycle != self._nibp_cycle:
            self._nibp_cycle = cycle
            self._nibp_held = {}
            sys_, dia = true["MDC_PRESS_BLD_NONINV_SYS"], true["MDC_PRESS_BLD_NONINV_DIA"]
            if sys_ is not None and dia is not None:
                k = cycle * 1000  # noise drawn once per cycle
                s = self._measure("MDC_PRESS_BLD_NONINV_SYS", sys_, k)
                d = self._measure("MDC_PRESS_BLD_NONINV_DIA", dia, k)
                self._nibp_held = {
                    "MDC_PRESS_BLD_NONINV_SYS": s,
                    "MDC_PRESS_BLD_NONINV_DIA": d,
                    "MDC_PRESS_BLD_NONINV_MEAN": float(round((s + 2 * d) / 3)),
                }
        out.update(self._nibp_held)

    @property
    def nibp_cycle_start(self) -> float:
        """Model time (s) of the current cuff cycle's start (a new NIBP reading)."""
        return math.floor(self.elapsed / NIBP_INTERVAL_S) * NIBP_INTERVAL_S

    def _uniform(self, name: str, k: int) -> float:
        key = _mix64(self._noise_key ^ zlib.crc32(name.encode()))
        return _mix64(key ^ (k & 0xFFFFFFFFFFFFFFFF)) / 2.0**64

    def _measure(self, code: str, value: float, k: int) -> float:
        bound, resolution = _NOISE.get(code, (0.0, 0.01))
        # Triangular error in [-bound, bound]: two uniforms, like a small sum of errors.
        err = bound * (self._uniform(code, 2 * k) + self._uniform(code, 2 * k + 1) - 1.0)
        shown = round((value + err) / resolution) * resolution
        param = PARAMETERS.get(code)
        if param is not None:
            shown = min(param.high, max(param.low, shown))
        return _r(shown, _decimals(resolution))

    def rhythm_alarms(self) -> Sequence[str]:
        """The active rhythm alarm ([] in sinus rhythm)."""
        return [] if self.rhythm == "sinus" else [self.rhythm]

    def blood_gas(self) -> dict[str, float]:
        """An arterial blood gas drawn now: PaO2, PaCO2 (mmHg) and pH (HCO3- 24 mmol/L)."""
        self.sync()
        true = self._true()
        pao2, paco2 = true["_pao2"] or 0.0, true["_paco2"] or 40.0
        ph = 6.1 + math.log10(24.0 / (0.0307 * paco2))
        return {"pao2_mmhg": _r(pao2, 0), "paco2_mmhg": _r(paco2, 0), "ph": _r(ph, 2)}

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

    def _ramp(self, ramp: _Ramp, end: float, over: float) -> None:
        self.sync()
        ramp.retarget(self._t, end, over)

    def fever(self, to: float, over: float) -> None:
        """Core temperature heads for `to` °C, reaching it `over` seconds from now."""
        self.sync()
        now = self._true()["MDC_TEMP_BLD"] or 0.0
        self._ramp(self.temp_off, self.temp_off.at(self._t) + to - now, over)

    def hypotension(self, to: float, over: float) -> None:
        """Systolic pressure heads for `to` mmHg (at today's drug support), over `over` s."""
        self.sync()
        now = self._true()["MDC_PRESS_BLD_ART_SYS"] or 0.0
        if self.rhythm in _RHYTHM_PRESSURE:
            now /= _RHYTHM_PRESSURE[self.rhythm][0]
        self._ramp(self.sys_off, self.sys_off.at(self._t) + to - now, over)

    def heart_rate(self, to: float, over: float) -> None:
        """Sinus heart rate heads for `to` /min over `over` s."""
        self.sync()
        now = self._true()["_hr_sinus"] or 0.0
        self._ramp(self.hr_off, self.hr_off.at(self._t) + to - now, over)

    def desaturation(self, to: float, over: float) -> None:
        """Lung injury worsens until SpO2 (at today's settings) reaches `to` %."""
        self.sync()
        true = self._true()
        pao2_now = true["_pao2"] or 1.0
        factor = inverse_severinghaus(to) / pao2_now
        self._ramp(self.lung, self.lung.at(self._t) * factor, over)

    def recover_lung(self, to: float, over: float) -> None:
        """Set the lung-injury factor on P/F (1 = as at baseline)."""
        self._ramp(self.lung, to, over)

    def set_fio2(self, percent: float, over: float = 0.0) -> None:
        self._ramp(self.fio2, percent, over)

    def set_peep(self, cmh2o: float, over: float = 0.0) -> None:
        self._ramp(self.peep, cmh2o, over)

    def set_ventilation(self, *, rate: float | None = None, tidal_ml: float | None = None) -> None:
        self.sync()
        if rate is not None:
            self.rr_set = rate
        if tidal_ml is not None:
            self.vt_set = tidal_ml

    def airway_pressure(self, peak: float, over: float, cause: str = "resistance") -> None:
        """Peak pressure heads for `peak`: by resistance (plateau unchanged) or compliance."""
        self.sync()
        true = self._true()
        now_peak = true["MDC_PRESS_AWAY_INSP_PEAK"] or 0.0
        if cause == "resistance":
            self._ramp(self.resist_off, self.resist_off.at(self._t) + peak - now_peak, over)
        elif cause == "compliance":
            now_plat = true["MDC_PRESS_RESP_PLAT"] or 0.0
            peep = self.peep.at(self._t)
            elastic_now = now_plat - peep
            elastic_new = max(1.0, elastic_now + peak - now_peak)
            k = self.compliance_k.at(self._t) * elastic_now / elastic_new
            self._ramp(self.compliance_k, k, over)
        else:
            raise ValueError(f"cause must be resistance or compliance, not {cause!r}")

    def embolism(self, severity: float = 1.0, over: float = 60.0) -> None:
        """Pulmonary embolism: SpO2 and EtCO2 fall, HR rises, BP falls, together."""
        self.sync()
        s = max(0.0, min(1.0, severity))
        true = self._true()
        spo2 = true["MDC_PULS_OXIM_SAT_O2"] or 90.0
        self.desaturation(max(60.0, spo2 - 10.0 * s), over)
        self._ramp(self.perfusion, self.perfusion.at(self._t) * (1.0 - 0.45 * s), over)
        self._ramp(self.hr_off, self.hr_off.at(self._t) + 30.0 * s, over)
        self._ramp(self.sys_off, self.sys_off.at(self._t) - 35.0 * s, over)

    def set_rhythm(self, rhythm: str, rate: float | None = None) -> None:
        """Change the rhythm now; a new non-sinus rhythm is a monitor `arrhythmia` alarm."""
        if rhythm not in RHYTHMS:
            raise ValueError(f"unknown rhythm {rhythm!r}; expected one of {', '.join(RHYTHMS)}")
        self.sync()
        changed = rhythm != self.rhythm
        self.rhythm, self.rhythm_rate = rhythm, rate
        if changed and rhythm != "sinus":
            self.log("arrhythmia", {"rhythm": rhythm}, device="monitor")

    def spike(self, code: str, value: float, seconds: float) -> None:
        """An artifact: `code` reads `value` for `seconds`, the patient unchanged."""
        self.sync()
        self._spikes.append(_Spike(code, value, self._t, self._t + seconds))

    def clinician(self, event: str, fields: Mapping[str, Any] | None = None) -> None:
        """Record a clinician entry (clinical sign, cardioversion, arrest, death, blood gas)."""
        self.log(event, fields or {}, source=EventSource.CLINICIAN)

    def die(self) -> None:
        """Death: asystole, no pulse; the clinician's `death` entry is logged separately."""
        self.dead = True
        if self.rhythm != "asystole":
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
            "planned_min": _r(remaining / rate_ml_h * 60.0, 1) if rate_ml_h > 0 else 0.0,
        }
        self.log("infusion_start", fields, device=f"pump:{name}")

    def stop_infusion(self, name: str) -> None:
        self.sync()
        pump = self.pump(name)
        was_running = pump.running
        pump.stop()
        if was_running and pump.role == "study":
            fields = {"volume_ml": _r(pump.volume_infused_ml, 1)}
            self.log("infusion_end", fields, device=f"pump:{name}")

    def pump_alarm(self, name: str, kind: str) -> None:
        self.sync()
        self.pump(name).raise_alarm(kind)
        self.log("pump_alarm", {"kind": kind}, device=f"pump:{name}")

    def clear_pump_alarm(self, name: str, kind: str, *, resume: bool = True) -> None:
        self.sync()
        pump = self.pump(name)
        pump.clear_alarm(kind)
        if resume and not pump.alarms & {"occlusion", "air_in_line", "door_open"}:
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
        self.events.append(PatientEvent(t, event, dict(fields), device, source))

    @property
    def clinician_events(self) -> list[PatientEvent]:
        """The clinician's entries so far (signs, cardioversion, arrest, death, blood gases)."""
        return [e for e in self.events if e.source is EventSource.CLINICIAN]

    def new_events(self) -> Iterator[PatientEvent]:
        """Events logged since the last call (each is returned once), in time order."""
        self.sync()
        fresh = sorted(self.events[self._emitted :], key=lambda e: e.t)
        self._emitted = len(self.events)
        return iter(fresh)


def _lag(value: float, target: float, tau: float) -> float:
    """One first-order lag step of GRID_S toward `target` with time constant `tau`."""
    return target + (value - target) * math.exp(-GRID_S / tau)


def _decimals(resolution: float) -> int:
    return max(0, -math.floor(math.log10(resolution) + 1e-9))


def _r(x: float, ndigits: int) -> float:
    return float(round(x, ndigits))
