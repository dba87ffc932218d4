"""The exported tables: `patients` (one row per patient) and the long tables, each a list of
columns with how to read them from `PatientData` (docs/dataset.md describes every field).

With `include_arm` False (the default) the arm is withheld: `arm` is empty and `group`
says only `infused` or `not_infused`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from app.dataset.apache import ChronicHealth
from app.dataset.assemble import OXYGENATION_DAYS, PatientData
from app.dataset.fields import Column, text
from app.dataset.forms import CovariatesForm
from app.dataset.schedule import Schedule

Get = Callable[[PatientData], Any]


@dataclass(frozen=True, slots=True)
class Table:
    """A table: its name, what one row is, and its columns."""

    name: str
    description: str
    columns: tuple[Column, ...]
    rows: Callable[[Sequence[PatientData]], Iterator[dict[str, Any]]]

    def text_rows(self, data: Sequence[PatientData]) -> list[list[str]]:
        return [[text(r.get(c.name)) for c in self.columns] for r in self.rows(data)]


def _choices(model_field: str) -> tuple[str, ...]:
    """The codes of a `Literal[...] | None` field of the covariates form."""
    ann: Any = CovariatesForm.model_fields[model_field].annotation
    return tuple(str(a) for arg in get_args(ann) for a in get_args(arg))


def _days(p: PatientData, t: datetime | None) -> float | None:
    return None if t is None else round((t - p.t0).total_seconds() / 86400, 2)


def _first(p: PatientData, event: str) -> datetime | None:
    """The first time of a ventilation or ICU event."""
    o = p.outcomes
    times = [e.t for e in o.ventilation if e.event == event]
    times += [e.t for e in o.icu if e.event == event]
    return min(times, default=None)


def _group(p: PatientData, include_arm: bool) -> str:
    if include_arm:
        return p.group
    return "infused" if p.infusion is not None else "not_infused"


def patient_columns(schedule: Schedule, include_arm: bool) -> list[tuple[Column, Get]]:
    """The `patients` table's columns, in order, each with its getter."""
    c = Column
    cols: list[tuple[Column, Get]] = [
        (c("study_id", "Study id", note="pseudonymous"), lambda p: p.study_id),
        (
            c(
                "group",
                "Group",
                "choice",
                choices=("cells", "control", "unknown", "infused", "not_infused"),
                note="cells: cell arm infused; control: saline arm or no infusion; "
                "unknown: blinded arm; infused/not_infused when the arm is withheld",
            ),
            lambda p: _group(p, include_arm),
        ),
        (
            c(
                "arm",
                "Arm",
                "choice",
                choices=("cells", "saline", "unknown"),
                note="empty when withheld",
            ),
            lambda p: p.patient.arm.value if include_arm else None,
        ),
        (c("enrolled_at", "Enrolment (day 0)", "datetime"), lambda p: p.t0),
        (
            c("infusion_start", "Infusion start", "datetime"),
            lambda p: p.infusion.started_at if p.infusion else None,
        ),
        (
            c("infusion_end", "Infusion end", "datetime"),
            lambda p: p.infusion.ended_at if p.infusion else None,
        ),
        (c("age_years", "Age", "integer", "a"), lambda p: p.patient.age_years),
        (c("sex", "Sex", "choice", choices=("M", "F")), lambda p: p.covariates.sex),
        (c("weight_kg", "Weight", "float", "kg"), lambda p: p.patient.weight_kg),
        (c("height_cm", "Height", "float", "cm"), lambda p: p.covariates.height_cm),
        (c("bmi", "Body-mass index", "float", "kg/m2", note="weight / height²"), lambda p: p.bmi),
        (
            c("aetiology_site", "ARDS origin", "choice", choices=_choices("aetiology_site")),
            lambda p: p.covariates.aetiology_site,
        ),
        (
            c("aetiology", "ARDS aetiology", "choice", choices=_choices("aetiology")),
            lambda p: p.covariates.aetiology,
        ),
        (c("ards_onset", "ARDS onset", "datetime"), lambda p: p.patient.ards_onset),
        (
            c("hours_from_onset", "Hours from ARDS onset to day 0", "float", "h"),
            lambda p: p.hours_from_onset,
        ),
    ]
    for key, label, unit in (
        ("pf", "P/F at enrolment (PaO2/FiO2)", "mm[Hg]"),
        ("peep", "PEEP at enrolment", "cm[H2O]"),
        ("driving_pressure", "Driving pressure at enrolment (plateau − PEEP)", "cm[H2O]"),
    ):
        cols.append((c(f"{key}_enrol", label, "float", unit), _enrol(key, "value")))
        cols.append(
            (
                c(
                    f"{key}_enrol_src",
                    f"Source of {key}_enrol",
                    "choice",
                    choices=("entered", "stored", "missing"),
                ),
                _enrol(key, "source"),
            )
        )
    cols += [
        (c("lactate_mmol_l", "Lactate", "float", "mmol/L"), lambda p: p.covariates.lactate_mmol_l),
        (
            c("vasopressor_use", "Vasopressor at day 0", "boolean"),
            lambda p: _bool(p.vasopressor_use.value),
        ),
        (
            c(
                "vasopressor_use_src",
                "Source of vasopressor_use",
                "choice",
                choices=("entered", "stored"),
            ),
            lambda p: p.vasopressor_use.source,
        ),
        (c("prone", "Prone position", "boolean"), lambda p: p.covariates.prone),
        (
            c("nmb", "Neuromuscular blockade", "boolean"),
            lambda p: p.covariates.neuromuscular_blockade,
        ),
        (c("ecmo", "ECMO", "boolean"), lambda p: p.covariates.ecmo),
        (c("steroids", "Corticosteroids", "boolean"), lambda p: p.covariates.steroids),
        (
            c("fluid_strategy", "Fluid strategy", "choice", choices=_choices("fluid_strategy")),
            lambda p: p.covariates.fluid_strategy,
        ),
        (
            c("chronic_health", "APACHE II chronic health", "choice", choices=tuple(ChronicHealth)),
            lambda p: p.covariates.chronic_health,
        ),
        (
            c(
                "apache_ii",
                "APACHE II (Knaus 1985)",
                "integer",
                note="sum of the items with inputs",
            ),
            lambda p: p.apache_ii.total,
        ),
        (
            c("apache_ii_complete", "APACHE II has every input", "boolean"),
            lambda p: p.apache_ii.complete,
        ),
        (
            c("apache_ii_missing", "APACHE II missing inputs", note="space-separated"),
            lambda p: " ".join(p.apache_ii.missing),
        ),
        (
            c("sofa", "SOFA (Vincent 1996)", "integer", note="sum of the organs with inputs"),
            lambda p: p.sofa.total,
        ),
        (c("sofa_complete", "SOFA has every input", "boolean"), lambda p: p.sofa.complete),
        (
            c("sofa_missing", "SOFA missing inputs", note="space-separated"),
            lambda p: " ".join(p.sofa.missing),
        ),
        (
            c(
                "vital_status_d28",
                "Vital status at day 28",
                "choice",
                choices=("alive", "dead", "unknown"),
            ),
            lambda p: p.outcomes.vital_status_d28,
        ),
        (c("death_at", "Death", "datetime"), lambda p: p.outcomes.death_at),
        (
            c("death_day", "Days from day 0 to death", "float", "d"),
            lambda p: _days(p, p.outcomes.death_at),
        ),
        (c("death_cause", "Cause of death"), lambda p: p.outcomes.death_cause),
        (
            c("extubation_at", "First extubation", "datetime"),
            lambda p: _first(p, "extubation"),
        ),
        (
            c("reintubations", "Re-intubations to day 28", "integer"),
            lambda p: sum(1 for e in p.outcomes.ventilation if e.event == "reintubation"),
        ),
        (
            c("icu_discharge_at", "First ICU discharge", "datetime"),
            lambda p: _first(p, "icu_discharge"),
        ),
        (
            c("hospital_discharge_at", "Hospital discharge", "datetime"),
            lambda p: p.outcomes.hospital_discharge_at,
        ),
        (
            c(
                "vfd_d28",
                "Ventilator-free days to day 28",
                "float",
                "d",
                note="0 if dead by day 28",
            ),
            lambda p: p.free_days["ventilator"],
        ),
        (
            c("icu_free_d28", "ICU-free days to day 28", "float", "d", note="0 if dead by day 28"),
            lambda p: p.free_days["icu"],
        ),
        (
            c(
                "vaso_free_d28",
                "Vasopressor-free days to day 28",
                "float",
                "d",
                note="0 if dead by day 28",
            ),
            lambda p: p.free_days["vasopressor"],
        ),
    ]
    for i, d in enumerate(OXYGENATION_DAYS):
        cols += [
            (
                c(f"pf_d{d}", f"P/F day {d} (PaO2/FiO2; the protocol's 'OI')", "float", "mm[Hg]"),
                _oxy(i, "pf"),
            ),
            (
                c(f"oi_d{d}", f"Oxygenation index day {d} (FiO2 × mean Paw × 100 / PaO2)", "float"),
                _oxy(i, "oi"),
            ),
            (
                c(
                    f"oxy_src_d{d}",
                    f"Source of day {d} gas",
                    "choice",
                    choices=("entered", "stored", "missing"),
                ),
                _oxy(i, "source"),
            ),
        ]
    for m in schedule.markers:
        for tp in schedule.timepoints:
            cols.append(
                (
                    c(f"{m.name}_{tp.name}", f"{m.label}, {tp.label}", "float", m.unit),
                    _sample(m.name, tp.name, "value"),
                )
            )
            cols.append(
                (
                    c(f"{m.name}_{tp.name}_t", f"{m.label}, {tp.label}: sampled", "datetime"),
                    _sample(m.name, tp.name, "t"),
                )
            )
    cols += [
        (c("record_locked", "Record locked", "boolean"), lambda p: bool(p.lock and p.lock.locked)),
        (c("locked_by", "Locked by"), lambda p: p.lock.by if p.lock and p.lock.locked else None),
        (
            c("locked_at", "Locked at", "datetime"),
            lambda p: p.lock.t if p.lock and p.lock.locked else None,
        ),
        (
            c("outcomes_version", "Outcomes form version", "integer"),
            lambda p: p.versions.get("outcomes"),
        ),
        (
            c("covariates_version", "Covariates form version", "integer"),
            lambda p: p.versions.get("covariates"),
        ),
        (
            c("biomarkers_version", "Biomarkers form version", "integer"),
            lambda p: p.versions.get("biomarkers"),
        ),
    ]
    return cols


def _bool(v: float | None) -> bool | None:
    return None if v is None else bool(v)


def _sample(marker: str, timepoint: str, what: str) -> Get:
    def get(p: PatientData) -> Any:
        samples = p.biomarkers.samples
        s = next((s for s in samples if s.marker == marker and s.timepoint == timepoint), None)
        return None if s is None else getattr(s, what)

    return get


def _enrol(key: str, what: str) -> Get:
    return lambda p: getattr(p.enrolment[key], what)


def _oxy(i: int, what: str) -> Get:
    return lambda p: getattr(p.oxygenation[i], what)


def patients_table(schedule: Schedule, include_arm: bool) -> Table:
    cols = patient_columns(schedule, include_arm)

    def rows(data: Sequence[PatientData]) -> Iterator[dict[str, Any]]:
        for p in data:
            yield {col.name: get(p) for col, get in cols}

    return Table("patients", "one row per patient", tuple(col for col, _ in cols), rows)


def _long(
    name: str,
    description: str,
    cols: Sequence[Column],
    rows: Callable[[PatientData], Iterator[dict[str, Any]]],
) -> Table:
    def all_rows(data: Sequence[PatientData]) -> Iterator[dict[str, Any]]:
        for p in data:
            for r in rows(p):
                yield {"study_id": p.study_id, **r}

    return Table(name, description, (Column("study_id", "Study id"), *cols), all_rows)


def _observation_rows(p: PatientData) -> Iterator[dict[str, Any]]:
    for s in p.observation_summary:
        yield {
            "code": s.code,
            "unit": s.unit,
            "n": s.n,
            "mean": s.mean,
            "min": s.min,
            "max": s.max,
            "first_t": s.first_t,
            "last_t": s.last_t,
        }


def _alert_rows(p: PatientData) -> Iterator[dict[str, Any]]:
    for a in p.alerts:
        yield {
            "alert_id": a.id,
            "category": a.category.value,
            "iae": a.iae,
            "rule": a.rule,
            "priority": a.priority.value,
            "state": a.state.value,
            "onset": a.onset,
            "onset_h": round((a.onset - p.t0).total_seconds() / 3600, 2),
            "ended_at": a.ended_at,
            "acked_by": a.acked_by,
            "acked_at": a.acked_at,
            "message": a.message,
        }


def _ae_rows(p: PatientData) -> Iterator[dict[str, Any]]:
    for e in p.adverse_events:
        yield {
            "ae_ref": e.ref,
            "term": e.term,
            "onset": e.onset,
            "end": e.end,
            "grade": e.grade,
            "serious": e.serious,
            "causality": e.causality,
            "outcome": e.outcome,
            "source": e.source,
        }


def _gas_rows(p: PatientData) -> Iterator[dict[str, Any]]:
    for g in p.gases:
        yield {
            "t": g.t,
            "hours_from_day0": round((g.t - p.t0).total_seconds() / 3600, 2),
            "pao2_mmhg": g.pao2_mmhg,
            "paco2_mmhg": g.paco2_mmhg,
            "ph": g.ph,
            "fio2_pct": g.fio2_pct,
            "fio2_source": g.fio2_source,
            "peep_cmh2o": g.peep_cmh2o,
            "mean_paw_cmh2o": g.mean_paw_cmh2o,
            "pf": g.pf,
            "oi": g.oi,
            "origin": g.origin,
        }


def _biomarker_rows(schedule: Schedule) -> Callable[[PatientData], Iterator[dict[str, Any]]]:
    def rows(p: PatientData) -> Iterator[dict[str, Any]]:
        for s in sorted(p.biomarkers.samples, key=lambda s: (s.marker, s.t)):
            m, tp = schedule.marker(s.marker), schedule.timepoint(s.timepoint)
            yield {
                "marker": s.marker,
                "label": m.label if m else None,
                "unit": m.unit if m else None,
                "timepoint": s.timepoint,
                "planned_hours": tp.hours if tp else None,
                "t": s.t,
                "hours_from_day0": round((s.t - p.t0).total_seconds() / 3600, 2),
                "value": s.value,
                "below_lod": s.below_lod,
            }

    return rows


def _outcome_rows(p: PatientData) -> Iterator[dict[str, Any]]:
    o = p.outcomes
    events: list[tuple[datetime, str, str]] = [
        *((e.t, "ventilation", e.event) for e in o.ventilation),
        *((e.t, "icu", e.event) for e in o.icu),
        *((e.t, "vasopressor", e.event) for e in o.vasopressors),
    ]
    if o.death_at is not None:
        events.append((o.death_at, "vital_status", "death"))
    if o.hospital_discharge_at is not None:
        events.append((o.hospital_discharge_at, "hospital", "hospital_discharge"))
    for t, kind, event in sorted(events):
        yield {"kind": kind, "event": event, "t": t, "day": _days(p, t), "value": None}
    for d in p.oxygenation:
        yield {
            "kind": "oxygenation",
            "event": f"pf_d{d.day}",
            "t": d.t,
            "day": d.day,
            "value": d.pf,
        }
        yield {
            "kind": "oxygenation",
            "event": f"oi_d{d.day}",
            "t": d.t,
            "day": d.day,
            "value": d.oi,
        }


def long_tables(schedule: Schedule) -> list[Table]:
    """The long tables, one row per observation code, alert, AE, gas, sample or event."""
    c = Column
    when = ("entered", "stored", "missing")
    return [
        _long(
            "observations",
            "per patient and parameter code: the bed's observations from 24 h "
            "before day 0 to discharge or day 28",
            (
                c("code", "Parameter code (IEEE 11073 / IAEW_)"),
                c("unit", "UCUM unit"),
                c("n", "Observations with a value", "integer"),
                c("mean", "Mean", "float"),
                c("min", "Minimum", "float"),
                c("max", "Maximum", "float"),
                c("first_t", "First", "datetime"),
                c("last_t", "Last", "datetime"),
            ),
            _observation_rows,
        ),
        _long(
            "alerts",
            "per alert at the patient's bed from day 0 to discharge or day 28",
            (
                c("alert_id", "Alert id"),
                c("category", "Category"),
                c("iae", "Protocol IAE", "boolean"),
                c("rule", "Rule"),
                c("priority", "Priority", "choice", choices=("high", "medium", "low")),
                c("state", "State"),
                c("onset", "Onset", "datetime"),
                c("onset_h", "Hours from day 0 to onset", "float", "h"),
                c("ended_at", "Ended", "datetime"),
                c("acked_by", "Acknowledged by"),
                c("acked_at", "Acknowledged", "datetime"),
                c("message", "Message"),
            ),
            _alert_rows,
        ),
        _long(
            "adverse_events",
            "per adverse event (the AE/SAE record; IAE alerts when there is no AE record)",
            (
                c("ae_ref", "AE reference"),
                c("term", "Term"),
                c("onset", "Onset", "datetime"),
                c("end", "Resolved", "datetime"),
                c("grade", "CTCAE grade", "integer"),
                c("serious", "Serious", "boolean"),
                c("causality", "Causality (product)"),
                c("outcome", "Outcome"),
                c("source", "Source", "choice", choices=("ae_record", "iae_alert")),
            ),
            _ae_rows,
        ),
        _long(
            "gases",
            "per arterial blood gas from 24 h before day 0 to day 28",
            (
                c("t", "Drawn", "datetime"),
                c("hours_from_day0", "Hours from day 0", "float", "h"),
                c("pao2_mmhg", "PaO2", "float", "mm[Hg]"),
                c("paco2_mmhg", "PaCO2", "float", "mm[Hg]"),
                c("ph", "pH", "float"),
                c("fio2_pct", "FiO2", "float", "%"),
                c("fio2_source", "Where FiO2 came from"),
                c("peep_cmh2o", "PEEP", "float", "cm[H2O]"),
                c("mean_paw_cmh2o", "Mean airway pressure", "float", "cm[H2O]"),
                c("pf", "P/F (PaO2/FiO2)", "float", "mm[Hg]"),
                c("oi", "Oxygenation index (FiO2 × mean Paw × 100 / PaO2)", "float"),
                c("origin", "Origin", "choice", choices=("trial record", "bed event")),
            ),
            _gas_rows,
        ),
        _long(
            "biomarkers",
            "per biomarker sample",
            (
                c("marker", "Marker"),
                c("label", "Marker name"),
                c("unit", "UCUM unit"),
                c("timepoint", "Timepoint"),
                c("planned_hours", "Planned hours from day 0", "float", "h"),
                c("t", "Sampled", "datetime"),
                c("hours_from_day0", "Hours from day 0", "float", "h"),
                c("value", "Value", "float"),
                c("below_lod", "Below the limit of detection", "boolean"),
            ),
            _biomarker_rows(schedule),
        ),
        _long(
            "outcomes",
            "per timed outcome event, and P/F and OI on days 1, 2, 3, 7",
            (
                c(
                    "kind",
                    "Kind",
                    "choice",
                    choices=(
                        "ventilation",
                        "icu",
                        "vasopressor",
                        "vital_status",
                        "hospital",
                        "oxygenation",
                    ),
                ),
                c("event", "Event"),
                c("t", "Time", "datetime"),
                c("day", "Days from day 0", "float", "d"),
                c("value", "Value (oxygenation rows)", "float", note=f"sources: {', '.join(when)}"),
            ),
            _outcome_rows,
        ),
        _long(
            "versions",
            "per saved version of a form (edits after a lock carry their reason)",
            (
                c("form", "Form", "choice", choices=("outcomes", "covariates", "biomarkers")),
                c("version", "Version", "integer"),
                c("entered_by", "Entered by"),
                c("entered_at", "Entered", "datetime"),
                c("reason", "Reason for the change"),
            ),
            lambda p: iter(p.history),
        ),
    ]
