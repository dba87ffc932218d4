"""Trial facts read from the store: blood gases with the ventilator settings of their time,
the eligibility checklist, and index trends. Shared by the trial API and the report.

FiO2 for a blood gas is the ventilator's last value at or before the draw (the setting the
gas was drawn at), PEEP and mean airway pressure the observations nearest to the gas's time,
each at most `PAIR_WITHIN_S` away (an FiO2 typed in with the gas is used instead, and says
so). Continuous indices (S/F, ΔP, Cstat) are computed per trend bucket
from the bucket means of their inputs; P/F and OI only at blood gases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.enrolment import enrolment_facts
from app.store import PatientRow, Store
from app.store._trial import BloodGasRow
from core.records import format_time_or_none as iso
from monitors.trial.eligibility import Answer, Checklist, Criteria, Facts, GasFacts, evaluate
from monitors.trial.indices import (
    CSTAT,
    DP,
    FIO2,
    OI,
    PEEP,
    PF,
    PMEAN,
    PPLAT,
    SF,
    SPO2,
    VTE,
    compute,
    oxygenation_index,
    pf_ratio,
)

PAIR_WITHIN_S = 600.0
"""How far a ventilator reading may be from a blood gas's time to stand for its setting."""

VENTILATOR_CODES = [FIO2, PEEP, PPLAT, PMEAN, VTE, "MDC_PRESS_AWAY_INSP_PEAK", "MDC_VENT_RESP_RATE"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Gas:
    """A blood gas as the report and the API show it, with its paired ventilator values."""

    t: datetime
    pao2_mmhg: float | None
    paco2_mmhg: float | None
    ph: float | None
    fio2_pct: float | None
    fio2_source: str
    peep_cmh2o: float | None
    peep_source: str
    mean_paw_cmh2o: float | None
    entered_by: str | None
    origin: str  # "trial record" or "bed event"
    entered_as: str | None = None  # "PaO2 12 kPa, PaCO2 5.1 kPa" when not typed in mmHg

    @property
    def pf(self) -> float | None:
        return pf_ratio(self.pao2_mmhg, self.fio2_pct)

    @property
    def oi(self) -> float | None:
        return oxygenation_index(self.fio2_pct, self.mean_paw_cmh2o, self.pao2_mmhg)

    def facts(self) -> GasFacts:
        return GasFacts(
            t=self.t,
            pao2_mmhg=self.pao2_mmhg,
            fio2_pct=self.fio2_pct,
            fio2_source=self.fio2_source,
            peep_cmh2o=self.peep_cmh2o,
            peep_source=self.peep_source,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "t": iso(self.t),
            "pao2_mmhg": self.pao2_mmhg,
            "paco2_mmhg": self.paco2_mmhg,
            "ph": self.ph,
            "fio2_pct": self.fio2_pct,
            "fio2_source": self.fio2_source,
            "peep_cmh2o": self.peep_cmh2o,
            "peep_source": self.peep_source,
            "mean_paw_cmh2o": self.mean_paw_cmh2o,
            "pf_ratio": _r(self.pf),
            "oxygenation_index": _r(self.oi, 2),
            "entered_by": self.entered_by,
            "origin": self.origin,
            "entered_as": self.entered_as,
            "warnings": self.facts().warnings,
        }


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def _num(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


async def _paired(
    store: Store, bed: str | None, code: str, t: datetime, *, before_only: bool = False
) -> tuple[float | None, str]:
    if bed is None:
        return None, "no bed"
    o = await store.nearest_observation(bed, code, t, PAIR_WITHIN_S, before_only=before_only)
    if o is None or o.value is None:
        where = "at or before the draw" if before_only else "of the draw"
        return None, f"none within {PAIR_WITHIN_S / 60:g} min {where}"
    return o.value, f"{o.device or 'ventilator'} at {iso(o.t)}"


async def gases(
    store: Store,
    *,
    bed: str | None,
    study_id: str | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Gas]:
    """Blood gases of a patient (the trial record) and of their bed (`blood_gas` events entered
    elsewhere), without duplicates, oldest first, each with FiO2/PEEP/mean Paw of its time."""
    raw: list[tuple[datetime, dict[str, float | None], str | None, str, str | None]] = []
    if study_id is not None:
        for g in await store.blood_gases(study_id):
            if (since is None or g.t >= since) and (until is None or g.t <= until):
                vals = {
                    "pao2": g.pao2_mmhg,
                    "paco2": g.paco2_mmhg,
                    "ph": g.ph,
                    "fio2": g.fio2_pct,
                }
                raw.append((g.t, vals, g.entered_by, "trial record", _entered_as(g)))
    if bed is not None:
        seen = {(t, v["pao2"]) for t, v, _, _, _ in raw}
        for ev in await store.events(bed, since=since, until=until, names=["blood_gas"]):
            f = ev.fields
            vals = {
                "pao2": _num(f.get("pao2_mmhg")),
                "paco2": _num(f.get("paco2_mmhg")),
                "ph": _num(f.get("ph")),
                "fio2": _num(f.get("fio2_pct")),
            }
            if (ev.t, vals["pao2"]) in seen:
                continue  # the trial record's own gas, published to the bed
            by = f.get("entered_by")
            raw.append((ev.t, vals, by if isinstance(by, str) else None, "bed event", None))
    out: list[Gas] = []
    for t, v, by, origin, entered_as in sorted(raw, key=lambda r: r[0]):
        fio2: float | None
        if v["fio2"] is not None:
            fio2, fio2_src = v["fio2"], f"entered with the gas by {by or 'clinician'}"
        else:
            fio2, fio2_src = await _paired(store, bed, FIO2, t, before_only=True)
        peep, peep_src = await _paired(store, bed, PEEP, t)
        paw, _ = await _paired(store, bed, PMEAN, t)
        out.append(
            Gas(
                t=t,
                pao2_mmhg=v["pao2"],
                paco2_mmhg=v["paco2"],
                ph=v["ph"],
                fio2_pct=fio2,
                fio2_source=fio2_src,
                peep_cmh2o=peep,
                peep_source=peep_src,
                mean_paw_cmh2o=paw,
                entered_by=by,
                origin=origin,
                entered_as=entered_as,
            )
        )
    return out


def _entered_as(g: BloodGasRow) -> str | None:
    """How a gas was typed when not in mmHg ("PaO2 12 kPa, PaCO2 5.1 kPa")."""
    if g.gas_unit is None or g.gas_unit == "mmHg":
        return None
    parts = [
        f"{name} {value:g} {g.gas_unit}"
        for name, value in (("PaO2", g.pao2_entered), ("PaCO2", g.paco2_entered))
        if value is not None
    ]
    return ", ".join(parts) or None


async def checklist(
    store: Store,
    patient: PatientRow,
    now: datetime,
    criteria: Criteria | None = None,
) -> tuple[Checklist, list[Gas]]:
    """The patient's eligibility checklist as of `now`, and the gases it was computed from."""
    found = await gases(store, bed=patient.bed, study_id=patient.study_id, until=now)
    answers: dict[str, Answer] = {}
    for row in await store.exclusion_history(patient.study_id):  # oldest first: newest wins
        if row.t <= now:
            answers[row.item] = Answer(present=row.present, by=row.by, t=row.t, note=row.note)
    facts = Facts(
        now=now,
        age_years=patient.age_years,
        ards_onset=patient.ards_onset,
        gases=[g.facts() for g in found],
        answers=answers,
        **await enrolment_facts(store, patient, now),
    )
    return evaluate(facts, criteria), found


CONTINUOUS: dict[str, tuple[str, ...]] = {
    SF: (SPO2, FIO2),
    DP: (PPLAT, PEEP),
    CSTAT: (VTE, PPLAT, PEEP),
}


async def index_trends(
    store: Store,
    bed: str,
    since: datetime,
    until: datetime,
    *,
    points: int = 288,
    gas_list: Sequence[Gas] | None = None,
) -> dict[str, list[tuple[datetime, float]]]:
    """Each index over [since, until]: S/F, ΔP, Cstat per bucket; P/F and OI per blood gas."""
    inputs = sorted({c for codes in CONTINUOUS.values() for c in codes})
    series = await store.trends(bed, inputs, since, until, points=points)
    width = (until - since).total_seconds() / points
    buckets: dict[int, dict[str, tuple[datetime, float]]] = {}
    for code, pts in series.items():
        for t, v in pts:
            k = min(points - 1, int((t - since).total_seconds() // width))
            buckets.setdefault(k, {})[code] = (t, v)
    out: dict[str, list[tuple[datetime, float]]] = {PF: [], OI: [], SF: [], DP: [], CSTAT: []}
    for k in sorted(buckets):
        row = buckets[k]
        for idx, codes in CONTINUOUS.items():
            if not all(c in row for c in codes):
                continue
            value = compute(idx, {c: row[c][1] for c in codes})
            if value is not None:
                t_mid = since + timedelta(seconds=(k + 0.5) * width)
                out[idx].append((min(max(t_mid, since), until), value))
    if gas_list is None:
        patient = await store.patient_at_bed(bed)
        gas_list = await gases(
            store,
            bed=bed,
            study_id=patient.study_id if patient else None,
            since=since,
            until=until,
        )
    for g in gas_list:
        if not since <= g.t <= until:
            continue
        if g.pf is not None:
            out[PF].append((g.t, g.pf))
        if g.oi is not None:
            out[OI].append((g.t, g.oi))
    return out
