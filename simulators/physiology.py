"""The simulated patient's true physiology: the signals, how they evolve, what scenarios do.

Each value is baseline + slow drift (Ornstein–Uhlenbeck) + scenario effects, and the
parameters are coupled the way a ventilated ARDS patient's are:

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

`Physiology` knows nothing of clocks or devices: it works in model seconds, integrating the
slow states on a fixed 5 s grid (`advance`), and `true()` is the noise-free state at the
time it is integrated to. How devices measure it is `simulators.measurement`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from core import vocabulary
from core.params import PARAMETERS, VASOPRESSOR_CODES
from simulators.pump_state import PumpState

GRID_S = 5.0
"""Integration step of the slow states (drift, drug effect, washout, recruitment)."""

RHYTHMS = ("sinus", *vocabulary.RHYTHMS)
"""Rhythms the model knows: sinus and the rhythms of the `arrhythmia` event (its alarms)."""

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


@dataclass(slots=True)
class Ramp:
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


class Physiology:
    """The patient's true state in model seconds (`t`), from its baseline and scenario effects.

    `pumps` is read, not owned: its drug pumps' doses move MAP and heart rate. Those present
    at construction are the running infusions the baseline already reflects. `drift` scales
    the slow random drift (0: none, for exact tests). Effects apply at `t`, so bring the
    model there (`advance`) first.
    """

    def __init__(
        self,
        baseline: Mapping[str, float],
        *,
        seed: int,
        weight_kg: float,
        pumps: Mapping[str, PumpState],
        drift: float = 1.0,
    ) -> None:
        self.baseline = dict(baseline)
        self.weight_kg = weight_kg
        self.pumps = pumps
        self.rhythm = "sinus"
        self.rhythm_rate: float | None = None
        self.dead = False
        self.t = 0.0  # model seconds the state is integrated to
        self._t_grid = 0.0
        self._rng = random.Random(seed)

        b = self.baseline
        # Ventilator settings (volume control) and their delayed physiological effect.
        self.fio2 = Ramp(b["MDC_VENT_CONC_AWAY_O2_INSP"], b["MDC_VENT_CONC_AWAY_O2_INSP"])
        self.peep = Ramp(b["MDC_PRESS_AWAY_END_EXP_POS"], b["MDC_PRESS_AWAY_END_EXP_POS"])
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
        self.temp_off = Ramp(0.0, 0.0)
        self.sys_off = Ramp(0.0, 0.0)
        self.hr_off = Ramp(0.0, 0.0)
        self.lung = Ramp(1.0, 1.0)  # factor on P/F
        self.perfusion = Ramp(1.0, 1.0)  # factor on pulmonary perfusion (EtCO2)
        self.resist_off = Ramp(0.0, 0.0)  # cmH2O added to the resistive pressure
        self.compliance_k = Ramp(1.0, 1.0)  # factor on compliance
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

    # ------------------------------------------------------------------ time

    def advance(self, t: float) -> None:
        """Integrate the slow states up to model time `t` (s); earlier times are a no-op."""
        if t <= self.t:
            return
        while self._t_grid + GRID_S <= t:
            self._grid_step()
            self._t_grid += GRID_S
        self.t = t

    def _grid_step(self) -> None:
        rng = self._rng
        for d in self._drifts:
            d.step(rng)
        t = self._t_grid
        self._eff_fio2 = _lag(self._eff_fio2, self.fio2.at(t), 30.0)
        self._eff_peep = _lag(self._eff_peep, self.peep.at(t), 180.0)
        self._eff_mv = _lag(self._eff_mv, self._minute_volume_true(), 180.0)
        self._pressor_eff = _lag(self._pressor_eff, self._pressor_target(), 120.0)

    # ------------------------------------------------------------------ the signals

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

    def true(self) -> dict[str, float | None]:
        """Noise-free physiology at `t` by code (None = not measurable); `_`-keys are inner."""
        t, b = self.t, self.baseline
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

    def blood_gas(self) -> dict[str, float]:
        """Arterial PaO2, PaCO2 (mmHg) and pH (Henderson–Hasselbalch at HCO3- 24 mmol/L)."""
        true = self.true()
        pao2, paco2 = true["_pao2"] or 0.0, true["_paco2"] or 40.0
        ph = 6.1 + math.log10(24.0 / (0.0307 * paco2))
        return {"pao2_mmhg": pao2, "paco2_mmhg": paco2, "ph": ph}

    # ------------------------------------------------------------------ scenario effects

    def _ramp(self, ramp: Ramp, end: float, over: float) -> None:
        ramp.retarget(self.t, end, over)

    def fever(self, to: float, over: float) -> None:
        """Core temperature heads for `to` °C, reaching it `over` seconds from now."""
        now = self.true()["MDC_TEMP_BLD"] or 0.0
        self._ramp(self.temp_off, self.temp_off.at(self.t) + to - now, over)

    def hypotension(self, to: float, over: float) -> None:
        """Systolic pressure heads for `to` mmHg (at today's drug support), over `over` s."""
        now = self.true()["MDC_PRESS_BLD_ART_SYS"] or 0.0
        if self.rhythm in _RHYTHM_PRESSURE:
            now /= _RHYTHM_PRESSURE[self.rhythm][0]
        self._ramp(self.sys_off, self.sys_off.at(self.t) + to - now, over)

    def heart_rate(self, to: float, over: float) -> None:
        """Sinus heart rate heads for `to` /min over `over` s."""
        now = self.true()["_hr_sinus"] or 0.0
        self._ramp(self.hr_off, self.hr_off.at(self.t) + to - now, over)

    def desaturation(self, to: float, over: float) -> None:
        """Lung injury worsens until SpO2 (at today's settings) reaches `to` %."""
        pao2_now = self.true()["_pao2"] or 1.0
        factor = inverse_severinghaus(to) / pao2_now
        self._ramp(self.lung, self.lung.at(self.t) * factor, over)

    def set_fio2(self, percent: float, over: float = 0.0) -> None:
        self._ramp(self.fio2, percent, over)

    def set_peep(self, cmh2o: float, over: float = 0.0) -> None:
        self._ramp(self.peep, cmh2o, over)

    def set_ventilation(self, *, rate: float | None = None, tidal_ml: float | None = None) -> None:
        if rate is not None:
            self.rr_set = rate
        if tidal_ml is not None:
            self.vt_set = tidal_ml

    def airway_pressure(self, peak: float, over: float, cause: str = "resistance") -> None:
        """Peak pressure heads for `peak`: by resistance (plateau unchanged) or compliance."""
        true = self.true()
        now_peak = true["MDC_PRESS_AWAY_INSP_PEAK"] or 0.0
        if cause == "resistance":
            self._ramp(self.resist_off, self.resist_off.at(self.t) + peak - now_peak, over)
        elif cause == "compliance":
            now_plat = true["MDC_PRESS_RESP_PLAT"] or 0.0
            elastic_now = now_plat - self.peep.at(self.t)
            elastic_new = max(1.0, elastic_now + peak - now_peak)
            k = self.compliance_k.at(self.t) * elastic_now / elastic_new
            self._ramp(self.compliance_k, k, over)
        else:
            raise ValueError(f"cause must be resistance or compliance, not {cause!r}")

    def embolism(self, severity: float = 1.0, over: float = 60.0) -> None:
        """Pulmonary embolism: SpO2 and EtCO2 fall, HR rises, BP falls, together."""
        s = max(0.0, min(1.0, severity))
        spo2 = self.true()["MDC_PULS_OXIM_SAT_O2"] or 90.0
        self.desaturation(max(60.0, spo2 - 10.0 * s), over)
        self._ramp(self.perfusion, self.perfusion.at(self.t) * (1.0 - 0.45 * s), over)
        self._ramp(self.hr_off, self.hr_off.at(self.t) + 30.0 * s, over)
        self._ramp(self.sys_off, self.sys_off.at(self.t) - 35.0 * s, over)

    def set_rhythm(self, rhythm: str, rate: float | None = None) -> bool:
        """Change the rhythm now; True when a new non-sinus rhythm (an alarm) begins."""
        if rhythm not in RHYTHMS:
            raise ValueError(f"unknown rhythm {rhythm!r}; expected one of {', '.join(RHYTHMS)}")
        changed = rhythm != self.rhythm
        self.rhythm, self.rhythm_rate = rhythm, rate
        return changed and rhythm != "sinus"


def _lag(value: float, target: float, tau: float) -> float:
    """One first-order lag step of GRID_S toward `target` with time constant `tau`."""
    return target + (value - target) * math.exp(-GRID_S / tau)
