"""One `PatientData` per patient: the entered forms (newest versions), what the store knows
(infusion, gases, alerts, AEs), and everything computed from them (free days, P/F and OI on
the protocol days, baseline values, APACHE II, SOFA). Exports read only these.

Group: `cells` (cell arm with an infusion), `control` (saline arm, or registered without an
infusion), `unknown` (blinded arm). Day 0 is enrolment for every group.

Oxygenation on day d ∈ {1, 2, 3, 7}: the entered gas for that day, else the stored gas nearest
to day 0 + d × 24 h within ±12 h, with FiO2 and mean airway pressure of its time:
    P/F = PaO2 (mmHg) / FiO2 (fraction)            — the protocol's "OI" (氧合指数)
    OI  = FiO2 (fraction) × mean Paw (cmH2O) × 100 / PaO2 (mmHg)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.dataset.apache import apache_ii
from app.dataset.bands import Score
from app.dataset.baseline import Sourced, at_enrolment, merged_worst, stored_worst
from app.dataset.forms import BiomarkersForm, CovariatesForm, OutcomesForm
from app.dataset.freedays import Switch, free_days, intervals
from app.dataset.sofa import sofa
from app.report.gather import Gas, gases
from app.store import InfusionRow, PatientRow, Store
from app.store._dataset import FormRow, LockRow, ObservationSummary
from app.store.rows import Arm
from core.model import Alert
from monitors.trial.indices import oxygenation_index, pf_ratio

OXYGENATION_DAYS = (1, 2, 3, 7)
DAY_WINDOW = timedelta(hours=12)
FOLLOW_UP = timedelta(days=28)


@dataclass(frozen=True, slots=True)
class OxygenationDay:
    day: int
    t: datetime | None
    pao2_mmhg: float | None
    fio2_pct: float | None
    mean_paw_cmh2o: float | None
    source: str  # "entered", "stored" or "missing"

    @property
    def pf(self) -> float | None:
        return pf_ratio(self.pao2_mmhg, self.fio2_pct)

    @property
    def oi(self) -> float | None:
        return oxygenation_index(self.fio2_pct, self.mean_paw_cmh2o, self.pao2_mmhg)


@dataclass(frozen=True, slots=True, kw_only=True)
class AdverseEvent:
    """An AE as exported: from the AE/SAE record when there is one, else an IAE alert."""

    ref: str
    term: str
    onset: datetime
    end: datetime | None
    grade: int | None
    serious: bool | None
    causality: str | None
    outcome: str | None
    source: str  # "ae_record" or "iae_alert"


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientData:
    patient: PatientRow
    group: str
    infusion: InfusionRow | None
    outcomes: OutcomesForm
    covariates: CovariatesForm
    biomarkers: BiomarkersForm
    versions: dict[str, int]
    lock: LockRow | None
    free_days: dict[str, float | None]
    oxygenation: tuple[OxygenationDay, ...]
    enrolment: dict[str, Sourced]
    worst: dict[str, float | None]
    worst_sources: dict[str, str]
    apache_ii: Score
    sofa: Score
    vasopressor_use: Sourced
    gases: tuple[Gas, ...]
    alerts: tuple[Alert, ...]
    adverse_events: tuple[AdverseEvent, ...]
    observation_summary: tuple[ObservationSummary, ...]
    history: tuple[dict[str, Any], ...]

    @property
    def study_id(self) -> str:
        return self.patient.study_id

    @property
    def t0(self) -> datetime:
        return self.patient.enrolled_at

    @property
    def bmi(self) -> float | None:
        h = self.covariates.height_cm
        return None if h is None else round(self.patient.weight_kg / (h / 100) ** 2, 1)

    @property
    def hours_from_onset(self) -> float | None:
        onset = self.patient.ards_onset
        return None if onset is None else round((self.t0 - onset).total_seconds() / 3600, 1)


def group_of(patient: PatientRow, infusion: InfusionRow | None) -> str:
    if patient.arm is Arm.SALINE or infusion is None:
        return "control"
    return "cells" if patient.arm is Arm.CELLS else "unknown"


def compute_free_days(
    t0: datetime, out: OutcomesForm, *, vasopressor_at_t0: bool
) -> dict[str, float | None]:
    """Ventilator-, ICU- and vasopressor-free days (None while day-28 status is unknown).
    Vasopressors ran at day 0 when the first vasopressor event is a stop, else when
    `vasopressor_at_t0` says so."""
    if out.vital_status_d28 == "unknown":
        return {"ventilator": None, "icu": None, "vasopressor": None}
    death = out.death_at
    vent = [Switch(e.t, e.event == "reintubation") for e in out.ventilation]
    icu = [Switch(e.t, e.event == "icu_readmission") for e in out.icu]
    pressors = sorted(
        (Switch(e.t, e.event == "vasopressor_start") for e in out.vasopressors), key=lambda s: s.t
    )
    if pressors:  # the events say whether a vasopressor ran at day 0: a stop first means yes
        vasopressor_at_t0 = not pressors[0].on
    return {
        "ventilator": free_days(t0, intervals(t0, on_at_t0=True, switches=vent), death_at=death),
        "icu": free_days(t0, intervals(t0, on_at_t0=True, switches=icu), death_at=death),
        "vasopressor": free_days(
            t0, intervals(t0, on_at_t0=vasopressor_at_t0, switches=pressors), death_at=death
        ),
    }


def oxygenation_days(
    t0: datetime, out: OutcomesForm, stored: Sequence[Gas]
) -> tuple[OxygenationDay, ...]:
    days: list[OxygenationDay] = []
    entered = {o.day: o for o in out.oxygenation}
    for d in OXYGENATION_DAYS:
        if d in entered:
            e = entered[d]
            days.append(
                OxygenationDay(d, e.t, e.pao2_mmhg, e.fio2_pct, e.mean_paw_cmh2o, "entered")
            )
            continue
        target = t0 + timedelta(days=d)
        near = [g for g in stored if abs(g.t - target) <= DAY_WINDOW and g.pf is not None]
        if not near:
            days.append(OxygenationDay(d, None, None, None, None, "missing"))
            continue
        g = min(near, key=lambda g: (abs(g.t - target), g.t))
        days.append(OxygenationDay(d, g.t, g.pao2_mmhg, g.fio2_pct, g.mean_paw_cmh2o, "stored"))
    return tuple(days)


async def adverse_events(
    store: Store, patient: PatientRow, alerts: Sequence[Alert]
) -> tuple[AdverseEvent, ...]:
    """The patient's AEs from the AE/SAE record, then the protocol IAE alerts of their bed
    that no AE groups and no adjudication called `not_iae` (source `iae_alert`), so that no
    IAE is missing from the export while it waits for adjudication."""
    rows = sorted(await store.adverse_events_of(patient.study_id), key=lambda r: (r.onset, r.id))
    grouped = {a for r in rows for a in r.alert_ids}
    verdicts = await store.adjudications_for([a.id for a in alerts if a.iae])
    records = [
        AdverseEvent(
            ref=f"AE-{r.id}",
            term=r.term,
            onset=r.onset,
            end=r.resolved_at,
            grade=r.ctcae_grade,
            serious=bool(r.seriousness),
            causality=r.causality_product,
            outcome=r.outcome,
            source="ae_record",
        )
        for r in rows
    ]
    pending = [
        AdverseEvent(
            ref=a.id,
            term=a.category.value.replace("_", " "),
            onset=a.onset,
            end=a.ended_at,
            grade=None,
            serious=None,
            causality=None,
            outcome=None,
            source="iae_alert",
        )
        for a in alerts
        if a.iae
        and a.id not in grouped
        and not (a.id in verdicts and verdicts[a.id].verdict == "not_iae")
    ]
    return (*records, *pending)


def _form(model: type[Any], row: FormRow | None) -> Any:
    return model.model_validate(row.data if row else {})


async def assemble(
    store: Store, patient: PatientRow, forms: dict[tuple[str, str], FormRow]
) -> PatientData:
    """Everything the dataset says about one patient."""
    sid, t0 = patient.study_id, patient.enrolled_at
    rows = {f: forms.get((sid, f)) for f in ("outcomes", "covariates", "biomarkers")}
    out: OutcomesForm = _form(OutcomesForm, rows["outcomes"])
    cov: CovariatesForm = _form(CovariatesForm, rows["covariates"])
    bio: BiomarkersForm = _form(BiomarkersForm, rows["biomarkers"])
    infusion = next(iter(await store.infusions(study_id=sid)), None)
    gs = tuple(
        await gases(
            store,
            bed=patient.bed,
            study_id=sid,
            since=t0 - timedelta(hours=24),
            until=t0 + FOLLOW_UP,
        )
    )
    alerts: tuple[Alert, ...] = ()
    summary: tuple[ObservationSummary, ...] = ()
    if patient.bed is not None:
        until = min(patient.discharged_at or t0 + FOLLOW_UP, t0 + FOLLOW_UP)
        found = await store.alerts(bed=patient.bed, since=t0, until=until, limit=10_000)
        alerts = tuple(sorted(found, key=lambda a: (a.onset, a.id)))
        summary = tuple(
            await store.observation_summary(patient.bed, t0 - timedelta(hours=24), until)
        )
    stored = await stored_worst(store, patient, gs)
    worst, sources = merged_worst(cov, stored)
    pressors_stored = any(
        worst.get(k)
        for k in ("norepinephrine_ug_kg_min", "epinephrine_ug_kg_min", "dopamine_ug_kg_min")
    )
    vaso = (
        Sourced(float(cov.vasopressor_use), "entered")
        if cov.vasopressor_use is not None
        else Sourced(float(pressors_stored), "stored")
    )
    age = patient.age_years
    return PatientData(
        patient=patient,
        group=group_of(patient, infusion),
        infusion=infusion,
        outcomes=out,
        covariates=cov,
        biomarkers=bio,
        versions={f: r.version for f, r in rows.items() if r is not None},
        lock=await store.lock_state(sid),
        free_days=compute_free_days(t0, out, vasopressor_at_t0=bool(vaso.value)),
        oxygenation=oxygenation_days(t0, out, gs),
        enrolment=await at_enrolment(store, patient, cov, gs),
        worst=worst,
        worst_sources=sources,
        apache_ii=apache_ii(worst, age_years=age, chronic_health=cov.chronic_health),
        sofa=sofa({**worst, "map_mmhg": worst.get("sofa_map_mmhg"), "respiratory_support": 1.0}),
        vasopressor_use=vaso,
        gases=gs,
        alerts=alerts,
        adverse_events=await adverse_events(store, patient, alerts),
        observation_summary=summary,
        history=tuple(
            {
                "form": f.form,
                "version": f.version,
                "entered_by": f.entered_by,
                "entered_at": f.entered_at,
                "reason": f.reason,
            }
            for f in await store.form_history(sid)
        ),
    )


async def assemble_all(store: Store) -> list[PatientData]:
    """Every patient's data, by study id."""
    forms = await store.current_forms()
    return [await assemble(store, p, forms) for p in await store.all_patients()]
