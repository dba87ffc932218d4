"""A patient's confirmed enrolment facts, read from the store into the checklist's types.

The store keeps each fact as a JSON document per kind (`app.store._enrolment`); this is the
one place that turns them back into `monitors.trial.enrolment` values, and gathers the
ventilator's tidal volume and plateau for the protective-ventilation item.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.store import PatientRow, Store
from monitors.trial.enrolment import (
    Airway,
    AirwayKind,
    Body,
    Confirmation,
    Consent,
    Consenter,
    Imaging,
    Modality,
    Sex,
    VentSample,
)
from monitors.trial.indices import PPLAT, VTE

VENT_WINDOW = timedelta(hours=24)
"""How far back tidal volume and plateau are read for the protective-ventilation item."""


def _t(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _parse(kind: str, d: dict[str, Any]) -> Any:
    if kind == "consent":
        return Consent(
            consenter=Consenter(d["consenter"]),
            consenter_name=d["consenter_name"],
            t=_t(d["t"]),
            taken_by=d["taken_by"],
        )
    if kind == "imaging":
        return Imaging(
            modality=Modality(d["modality"]),
            t=_t(d["t"]),
            reader=d["reader"],
            bilateral=bool(d["bilateral"]),
        )
    if kind == "airway":
        return Airway(kind=AirwayKind(d["kind"]), confirmed_by=d["confirmed_by"], t=_t(d["t"]))
    if kind == "body":
        return Body(height_cm=float(d["height_cm"]), sex=Sex(d["sex"]))
    return Confirmation(by=d["by"], t=_t(d["t"]), note=d.get("note"))


async def enrolment_facts(store: Store, patient: PatientRow, now: datetime) -> dict[str, Any]:
    """Keyword arguments for `monitors.trial.eligibility.Facts`: the confirmed facts entered
    at or before `now`, and the ventilator samples of the last 24 h."""
    out: dict[str, Any] = {}
    for kind, row in (await store.facts(patient.study_id)).items():
        if row.entered_at <= now:
            key = "protective_confirmed" if kind == "protective_ventilation" else kind
            out[key] = _parse(kind, row.data)
    if patient.bed is not None:
        series = await store.trends(patient.bed, [VTE, PPLAT], now - VENT_WINDOW, now, points=96)
        vts = [VentSample(t=t, vt_ml=v, pplat_cmh2o=None) for t, v in series[VTE]]
        pplats = [VentSample(t=t, vt_ml=None, pplat_cmh2o=v) for t, v in series[PPLAT]]
        out["ventilation"] = vts + pplats
    return out
