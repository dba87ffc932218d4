"""Baseline values from the store: the worst of each APACHE II / SOFA variable in the 24 h
before day 0, and P/F, PEEP and driving pressure at enrolment. A value entered in the
covariates form always wins over a stored one; each value says where it came from.

Stored sources (the bed's observations and the patient's blood gases, `app.report.gather`):
temperature (`MDC_TEMP_BLD`, `MDC_TEMP`), MAP (`MDC_PRESS_BLD_ART_MEAN`, else non-invasive),
heart rate (`MDC_ECG_HEART_RATE`, else the oximeter's), respiratory rate (`MDC_RESP_RATE`,
`MDC_VENT_RESP_RATE`), gases (PaO2, PaCO2, pH, FiO2 of their time) and vasopressor doses
(`IAEW_DOSE_*`; norepinephrine µg/min is divided by the weight). "Worst" is the value with
the most APACHE II points (SOFA: the lowest P/F and MAP, the highest doses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.dataset import apache
from app.dataset.bands import Bands, points
from app.dataset.forms import CovariatesForm
from app.report.gather import Gas
from app.store import PatientRow, Store
from monitors.trial.indices import PEEP, PPLAT, driving_pressure

WINDOW = timedelta(hours=24)
VITALS: dict[str, tuple[str, ...]] = {
    "temperature_c": ("MDC_TEMP_BLD", "MDC_TEMP"),
    "map_mmhg": ("MDC_PRESS_BLD_ART_MEAN", "MDC_PRESS_BLD_NONINV_MEAN"),
    "heart_rate": ("MDC_ECG_HEART_RATE", "MDC_PULS_OXIM_PULS_RATE"),
    "resp_rate": ("MDC_RESP_RATE", "MDC_VENT_RESP_RATE"),
}
DOSES: dict[str, tuple[str, bool]] = {
    # drug → (code, whether the code's unit is per minute and needs dividing by the weight)
    "norepinephrine_ug_kg_min": ("IAEW_DOSE_NOREPINEPHRINE", True),
    "epinephrine_ug_kg_min": ("IAEW_DOSE_EPINEPHRINE", False),
    "dopamine_ug_kg_min": ("IAEW_DOSE_DOPAMINE", False),
}
NORMAL = {"temperature_c": 37.0, "map_mmhg": 90.0, "heart_rate": 90.0, "resp_rate": 18.0, "ph": 7.4}
"""Mid-normal values: among equally scored values the worst is the farthest from these."""
SETTINGS_WITHIN_S = 3600.0
"""How far before day 0 a plateau pressure or PEEP may be to count as 'at enrolment'."""


@dataclass(frozen=True, slots=True)
class Sourced:
    value: float | None
    source: str  # "entered", "stored", "computed" or "missing"


def _worst(name: str, values: Sequence[float], bands: Bands, below: int) -> float | None:
    """The value with the most APACHE II points, the farthest from normal among those."""
    if not values:
        return None
    return max(values, key=lambda v: (points(v, bands, below), abs(v - NORMAL[name])))


async def _series(store: Store, bed: str, codes: Sequence[str], t0: datetime) -> list[float]:
    """The values of the first code in `codes` that has any in the 24 h before t0."""
    for code in codes:
        obs = await store.observations(bed, [code], since=t0 - WINDOW, until=t0)
        vals = [o.value for o in obs if o.value is not None]
        if vals:
            return vals
    return []


async def stored_worst(
    store: Store, patient: PatientRow, gases: Sequence[Gas]
) -> dict[str, float | None]:
    """The worst stored values of the 24 h before day 0 (names as `forms.WorstValues`, plus
    `pf_ratio` and `sofa_map_mmhg`)."""
    t0 = patient.enrolled_at
    out: dict[str, float | None] = {}
    before = [g for g in gases if t0 - WINDOW <= g.t <= t0]
    oxy = [g for g in before if g.pao2_mmhg is not None and g.fio2_pct is not None]
    if oxy:
        g = max(
            oxy,
            key=lambda g: apache.oxygenation_points(g.fio2_pct, g.pao2_mmhg, g.paco2_mmhg)[0] or 0,
        )
        out |= {"fio2_pct": g.fio2_pct, "pao2_mmhg": g.pao2_mmhg, "paco2_mmhg": g.paco2_mmhg}
        out["pf_ratio"] = min(x for x in (g.pf for g in oxy) if x is not None)
    out["ph"] = _worst("ph", [g.ph for g in before if g.ph is not None], apache.PH, 4)
    if patient.bed is None:
        return out
    bed = patient.bed
    for name, codes in VITALS.items():
        bands, below = apache.SIMPLE[name]
        series = await _series(store, bed, codes, t0)
        out[name] = _worst(name, series, bands, below)
        if name == "map_mmhg" and series:
            out["sofa_map_mmhg"] = min(series)
    for name, (code, per_weight) in DOSES.items():
        series = await _series(store, bed, [code], t0)
        if series:
            out[name] = max(series) / (patient.weight_kg if per_weight else 1.0)
    return out


def merged_worst(
    form: CovariatesForm, stored: dict[str, float | None]
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Entered worst values over stored ones, and each value's source."""
    entered = form.worst_24h.model_dump()
    values: dict[str, float | None] = {}
    sources: dict[str, str] = {}
    for name in sorted(set(entered) | set(stored)):
        e = entered.get(name)
        if e is not None:
            values[name], sources[name] = float(e), "entered"
        elif stored.get(name) is not None:
            values[name], sources[name] = stored[name], "stored"
    if "map_mmhg" in entered and entered["map_mmhg"] is not None:
        values["sofa_map_mmhg"] = float(entered["map_mmhg"])
    if values.get("pf_ratio") is None and entered.get("pao2_mmhg") and entered.get("fio2_pct"):
        values["pf_ratio"] = entered["pao2_mmhg"] / (entered["fio2_pct"] / 100)
        sources["pf_ratio"] = "computed"
    return values, sources


async def at_enrolment(
    store: Store, patient: PatientRow, form: CovariatesForm, gases: Sequence[Gas]
) -> dict[str, Sourced]:
    """P/F, PEEP and driving pressure at enrolment: entered, else the last gas at or before
    day 0 (within 24 h) and the bed's last plateau pressure and PEEP (within 1 h)."""
    t0 = patient.enrolled_at
    last = next((g for g in reversed(gases) if t0 - WINDOW <= g.t <= t0 and g.pf is not None), None)
    pplat = peep = None
    if patient.bed is not None:
        o = await store.nearest_observation(
            patient.bed, PPLAT, t0, SETTINGS_WITHIN_S, before_only=True
        )
        pplat = o.value if o else None
        o = await store.nearest_observation(
            patient.bed, PEEP, t0, SETTINGS_WITHIN_S, before_only=True
        )
        peep = o.value if o else None
    stored = {
        "pf": last.pf if last else None,
        "peep": peep if peep is not None else (last.peep_cmh2o if last else None),
        "driving_pressure": driving_pressure(pplat, peep),
    }
    entered = {
        "pf": form.pf_at_enrolment,
        "peep": form.peep_at_enrolment,
        "driving_pressure": form.driving_pressure_at_enrolment,
    }
    return {
        k: Sourced(entered[k], "entered")
        if entered[k] is not None
        else Sourced(stored[k], "stored" if stored[k] is not None else "missing")
        for k in entered
    }
