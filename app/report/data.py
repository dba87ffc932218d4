"""Everything the 24 h IAE report says about one patient, gathered from the store.

`build_report` returns a `Report`: plain data (dicts, lists, datetimes) that every renderer
(HTML, PDF, CSV, JSON) reads the same way. The window is the 24 h from the infusion start
(until now while it runs); without an infusion it is the 24 h from enrolment.

Baselines use the rule set's documented statistic (`BaselineSpec`: the median of the usable
samples in the 30 min before infusion start, per-code lookback and minimum sample count), so
the report shows the numbers the engine compared against.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.report.gather import checklist, gases, index_trends
from app.report.safety import safety
from app.store import InfusionRow, PatientRow, Store
from core.model import Alert
from core.params import PARAMETERS, VASOPRESSOR_CODES
from monitors.rules.ruleset import RuleSet
from monitors.trial.eligibility import Checklist, Criteria
from monitors.trial.indices import INDEX_BY_CODE
from monitors.trial.order_check import StudyOrder

WINDOW = timedelta(hours=24)
RATE, DELIVERED, VTBI = "MDC_FLOW_FLUID_PUMP", "MDC_VOL_FLUID_DELIV", "MDC_VOL_FLUID_TBI"


@dataclass(frozen=True, slots=True, kw_only=True)
class Panel:
    """One trend chart: the first of `codes` with data is drawn (arterial before cuff)."""

    title: str
    unit: str
    codes: tuple[str, ...]
    points_only: bool = False  # sparse values (blood gases): dots, no line


PANELS: tuple[Panel, ...] = (
    Panel(title="SpO2", unit="%", codes=("MDC_PULS_OXIM_SAT_O2",)),
    Panel(title="Heart rate", unit="/min", codes=("MDC_ECG_HEART_RATE", "MDC_PULS_OXIM_PULS_RATE")),
    Panel(
        title="Mean arterial pressure",
        unit="mmHg",
        codes=("MDC_PRESS_BLD_ART_MEAN", "MDC_PRESS_BLD_NONINV_MEAN"),
    ),
    Panel(
        title="Systolic pressure",
        unit="mmHg",
        codes=("MDC_PRESS_BLD_ART_SYS", "MDC_PRESS_BLD_NONINV_SYS"),
    ),
    Panel(title="Temperature", unit="°C", codes=("MDC_TEMP_BLD", "MDC_TEMP")),
    Panel(title="Respiratory rate", unit="/min", codes=("MDC_RESP_RATE", "MDC_VENT_RESP_RATE")),
    Panel(title="End-tidal CO2", unit="mmHg", codes=("MDC_AWAY_CO2_ET",)),
    Panel(title="FiO2", unit="%", codes=("MDC_VENT_CONC_AWAY_O2_INSP",)),
    Panel(title="PEEP", unit="cmH2O", codes=("MDC_PRESS_AWAY_END_EXP_POS",)),
    Panel(title="Peak airway pressure", unit="cmH2O", codes=("MDC_PRESS_AWAY_INSP_PEAK",)),
    Panel(title="Plateau pressure", unit="cmH2O", codes=("MDC_PRESS_RESP_PLAT",)),
    # every vasopressor on the same time axis, one panel per drug that has data
    Panel(title="Norepinephrine", unit="µg/min", codes=("IAEW_DOSE_NOREPINEPHRINE",)),
    Panel(title="Phenylephrine", unit="µg/min", codes=("IAEW_DOSE_PHENYLEPHRINE",)),
    Panel(title="Dopamine", unit="µg/kg/min", codes=("IAEW_DOSE_DOPAMINE",)),
    Panel(title="Epinephrine", unit="µg/kg/min", codes=("IAEW_DOSE_EPINEPHRINE",)),
    Panel(title="Vasopressin", unit="U/min", codes=("IAEW_DOSE_VASOPRESSIN",)),
    Panel(title="SpO2/FiO2 (SpO2 ≤ 97 %)", unit="", codes=("IAEW_SF_RATIO",)),
    Panel(
        title='PaO2/FiO2 = the protocol\'s "OI(PaO2/FiO2)"',
        unit="mmHg",
        codes=("IAEW_PF_RATIO",),
        points_only=True,
    ),
    Panel(
        title="OI = FiO2 × Paw × 100 / PaO2 (oxygenation index)",
        unit="",
        codes=("IAEW_OXYGENATION_INDEX",),
        points_only=True,
    ),
    Panel(title="Driving pressure", unit="cmH2O", codes=("IAEW_DRIVING_PRESSURE",)),
    Panel(title="Static compliance", unit="mL/cmH2O", codes=("IAEW_STATIC_COMPLIANCE",)),
)

BASELINE_CODES: tuple[str, ...] = (
    "MDC_PULS_OXIM_SAT_O2",
    "MDC_ECG_HEART_RATE",
    "MDC_PULS_OXIM_PULS_RATE",
    "MDC_PRESS_BLD_ART_SYS",
    "MDC_PRESS_BLD_ART_MEAN",
    "MDC_PRESS_BLD_NONINV_SYS",
    "MDC_PRESS_BLD_NONINV_MEAN",
    "MDC_TEMP_BLD",
    "MDC_TEMP",
    "MDC_RESP_RATE",
    "MDC_AWAY_CO2_ET",
    "MDC_VENT_CONC_AWAY_O2_INSP",
    "MDC_PRESS_AWAY_END_EXP_POS",
    "MDC_PRESS_AWAY_INSP_PEAK",
    "MDC_PRESS_RESP_PLAT",
    "MDC_VOL_AWAY_TIDAL_EXP",
    *VASOPRESSOR_CODES.values(),
)

_EVENT_NAMES = [
    "infusion_start",
    "infusion_end",
    "pump_alarm",
    "pump_program",
    "arrhythmia",
    "cardioversion",
    "clinical_sign",
    "cardiac_arrest",
    "death",
    "blood_gas",
    "device_connected",
    "device_disconnected",
    "device_stale",
]


@dataclass(slots=True, kw_only=True)
class Report:
    """The report's content; see the module docstring."""

    generated_at: datetime
    since: datetime
    until: datetime
    complete: bool  # the 24 h window is over
    patient: dict[str, Any]
    order: dict[str, Any]
    infusion: dict[str, Any] | None
    eligibility: Checklist | None
    eligibility_at: datetime | None
    overrides: list[dict[str, Any]]
    baseline: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    events: list[dict[str, Any]]
    gases: list[dict[str, Any]]
    trends: dict[str, dict[str, Any]]
    coverage: list[dict[str, Any]]
    gap_s: float
    notes: list[str] = field(default_factory=list)
    safety: dict[str, Any] = field(default_factory=dict)  # app.report.safety
    audit_rows: int = 0
    audit_head: str = ""
    """The hash-chained audit log when the report was made: its rows and newest hash."""

    @property
    def iae_count(self) -> int:
        return sum(1 for a in self.alerts if a["iae"])


async def build_report(
    store: Store,
    study_id: str,
    now: datetime,
    *,
    ruleset: RuleSet,
    order: StudyOrder | None = None,
    include_arm: bool = False,
    gap_s: float = 60.0,
    points: int = 288,
    criteria: Criteria | None = None,
) -> Report:
    """The report for `study_id` as of `now` (unknown study id → KeyError); eligibility is
    judged by `criteria` (the site's settings; the protocol's defaults without)."""
    patient = await store.patient(study_id)
    if patient is None:
        raise KeyError(study_id)
    order = order or StudyOrder()
    infusion = _first(await store.infusions(study_id=study_id))
    since = infusion.started_at if infusion else patient.enrolled_at
    end = since + WINDOW
    until = min(end, now) if now > since else end
    complete = now >= end
    bed = patient.bed if infusion is None else infusion.bed
    notes: list[str] = []
    if infusion is None:
        notes.append("No infusion is recorded: the window is the 24 h from enrolment.")
    if not complete:
        notes.append(f"The 24 h window is still running (ends {end.isoformat()}): interim report.")
    gas_list = await gases(store, bed=bed, study_id=study_id)
    check_at = infusion.started_at if infusion else now
    check, _ = await checklist(store, patient, check_at, criteria)
    trends: dict[str, dict[str, Any]] = {}
    alerts: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    coverage: list[dict[str, Any]] = []
    baseline: list[dict[str, Any]] = []
    if bed is not None and until > since:
        trends = await _trends(store, bed, since, until, points, gas_list)
        alerts = await _alerts(store, bed, since, until)
        events = [
            {"t": e.t, "event": e.event, "fields": e.fields, "device": e.device, "source": e.source}
            for e in await store.events(bed, since=since, until=until, names=_EVENT_NAMES)
            if e.event != "pump_program"
        ]
        coverage = [
            {
                "device": c.device,
                "samples": c.samples,
                "first": c.first,
                "last": c.last,
                "coverage_pct": round(c.coverage_pct, 2),
                "missing_s": round(c.missing_s, 1),
                "gaps": [{"from": a, "to": b, "s": (b - a).total_seconds()} for a, b in c.gaps],
            }
            for c in await store.device_coverage(bed, since, until, min_gap_s=gap_s)
        ]
        if not coverage:
            notes.append("No device data was stored for this bed in the window.")
    if bed is not None and infusion is not None:
        baseline = await _baseline(store, bed, infusion.started_at, ruleset)
    overrides = await store.audit_for(study_id, prefix="trial.override")
    safety_part = await safety(store, study_id, alerts, events, now)
    audit_rows, audit_head = await store.audit_head()
    return Report(
        generated_at=now,
        since=since,
        until=until,
        complete=complete,
        patient=_patient(patient, include_arm),
        order=order.as_dict(await _dose_weight(store, patient, infusion)),
        infusion=None if infusion is None else await _infusion(store, infusion, order, now),
        eligibility=check,
        eligibility_at=check_at,
        overrides=overrides,
        baseline=baseline,
        alerts=alerts,
        events=events,
        gases=[g.as_dict() | {"t": g.t} for g in gas_list],
        trends=trends,
        coverage=coverage,
        gap_s=gap_s,
        notes=notes,
        safety=safety_part,
        audit_rows=audit_rows,
        audit_head=audit_head,
    )


async def _dose_weight(store: Store, patient: PatientRow, infusion: InfusionRow | None) -> float:
    """The weight the dose was computed from: the product record's weight basis, else the
    infusion's weight, else the patient's."""
    product = await store.product(patient.study_id)
    if product is not None:
        return product.dose_weight_kg
    return infusion.weight_kg if infusion and infusion.weight_kg else patient.weight_kg


def _first(rows: Sequence[InfusionRow]) -> InfusionRow | None:
    """The study infusion: the first one recorded for the patient (the protocol gives one)."""
    return rows[0] if rows else None


def _patient(p: PatientRow, include_arm: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "study_id": p.study_id,
        "bed": p.bed,
        "weight_kg": p.weight_kg,
        "age_years": p.age_years,
        "ards_onset": p.ards_onset,
        "enrolled_at": p.enrolled_at,
        "discharged_at": p.discharged_at,
    }
    if include_arm:
        out["arm"] = p.arm.value
    return out


async def _infusion(
    store: Store, inf: InfusionRow, order: StudyOrder, now: datetime
) -> dict[str, Any]:
    end = inf.ended_at
    lo = inf.started_at - timedelta(minutes=5)
    hi = (end or now) + timedelta(minutes=5)
    obs = await store.observations(inf.bed, codes=[RATE, DELIVERED, VTBI], since=lo, until=hi)
    tbi_devices = {o.device for o in obs if o.code == VTBI}
    device = inf.source if any(o.device == inf.source for o in obs) else None
    if device is None and len(tbi_devices) == 1:
        device = next(iter(tbi_devices))
    mine = [o for o in obs if o.usable and (device is None or o.device == device)]
    running_until = end or now
    rates = [
        o.value
        for o in mine
        if o.code == RATE and o.value and inf.started_at <= o.t <= running_until
    ]
    delivered = [o.value for o in mine if o.code == DELIVERED and o.t <= running_until]
    vtbis = [o.value for o in mine if o.code == VTBI]
    duration = None if end is None else (end - inf.started_at).total_seconds() / 60.0
    planned_rate = (
        inf.volume_ml / inf.planned_min * 60.0 if inf.volume_ml and inf.planned_min else None
    )
    checks = []
    if duration is not None:
        ok = order.min_minutes <= duration <= order.max_minutes
        checks.append(
            {
                "item": "duration",
                "ok": ok,
                "text": f"{duration:.0f} min (order {order.min_minutes:g}–{order.max_minutes:g})",
            }
        )
    mean_rate = statistics.fmean(rates) if rates else None
    if mean_rate is not None:
        checks.append(
            {
                "item": "rate",
                "ok": order.rate_ok(mean_rate),
                "text": (
                    f"mean {mean_rate:.0f} mL/h while running (order "
                    f"{order.rate_min_ml_h:g}–{order.rate_max_ml_h:g})"
                ),
            }
        )
    vol = delivered[-1] if delivered else None
    if vol is not None:
        off = abs(vol - order.volume_ml) / order.volume_ml * 100.0
        checks.append(
            {
                "item": "volume",
                "ok": off <= 10.0,
                "text": f"{vol:g} mL delivered (order {order.volume_ml:g} mL)",
            }
        )
    vtbi = vtbis[-1] if vtbis else None
    if vtbi is not None:
        checks.append(
            {
                "item": "vtbi",
                "ok": order.vtbi_ok(vtbi),
                "text": (
                    f"VTBI {vtbi:g} mL (order {order.volume_ml:g} ± {order.vtbi_tolerance_ml:g})"
                ),
            }
        )
    cells = order.cells(inf.weight_kg)
    return {
        "started_at": inf.started_at,
        "ended_at": end,
        "duration_min": None if duration is None else round(duration, 1),
        "weight_kg": inf.weight_kg,
        "dose_cells": cells,
        "volume_ml": inf.volume_ml,
        "planned_min": inf.planned_min,
        "planned_rate_ml_h": None if planned_rate is None else round(planned_rate, 1),
        "mean_rate_ml_h": None if mean_rate is None else round(mean_rate, 1),
        "volume_delivered_ml": vol,
        "vtbi_ml": vtbi,
        "pump": device,
        "source": inf.source,
        "start_time_source": inf.start_time_source,
        "start_uncertainty_s": inf.start_uncertainty_s,
        "start_note": start_note(inf.start_time_source, inf.start_uncertainty_s),
        "checks": checks,
    }


def start_note(time_source: str | None, uncertainty_s: float | None) -> str | None:
    """How sure the recorded start time is, in words (None: seen live or entered)."""
    if time_source == "pump":
        return "pump's own time"
    if time_source == "seen_at_reconnect":
        if uncertainty_s is None:
            return "seen at reconnect, the outage length unknown"
        return f"seen at reconnect, up to {uncertainty_s:g} s earlier"
    return None


async def _baseline(
    store: Store, bed: str, start: datetime, ruleset: RuleSet
) -> list[dict[str, Any]]:
    spec = ruleset.baseline
    longest = max(spec.for_code(c)[0] for c in BASELINE_CODES)
    obs = await store.observations(
        bed, codes=list(BASELINE_CODES), since=start - timedelta(seconds=longest), until=start
    )
    out = []
    for code in BASELINE_CODES:
        lookback, need = spec.for_code(code)
        lo = start - timedelta(seconds=lookback)
        vals = [o.value for o in obs if o.code == code and o.usable and lo <= o.t < start]
        values = [v for v in vals if v is not None]
        if not values:
            continue  # a parameter this bed does not measure
        p = PARAMETERS.get(code)
        out.append(
            {
                "code": code,
                "label": p.label if p else code,
                "unit": p.unit if p else "",
                "value": round(statistics.median(values), 2) if len(values) >= need else None,
                "samples": len(values),
                "needed": need,
                "lookback_min": lookback / 60.0,
                "statistic": spec.statistic,
            }
        )
    return out


async def _alerts(store: Store, bed: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    found: list[Alert] = await store.alerts(bed=bed, since=since, until=until, limit=5000)
    out = []
    for a in sorted(found, key=lambda a: (a.onset, a.seq or 0)):
        history = await store.alert_history(a.id)
        out.append(
            {
                "id": a.id,
                "category": a.category.value,
                "iae": bool(a.iae),
                "rule": a.rule,
                "priority": a.priority.value,
                "message": a.message,
                "onset": a.onset,
                "state": a.state.value,
                "acked_by": a.acked_by,
                "acked_at": a.acked_at,
                "ended_at": a.ended_at,
                "evidence": _first_evidence(history) or a.evidence,
                "final_evidence": a.evidence,
                "transitions": [
                    {"seq": h.seq, "phase": h.phase.value, "t": h.t, "state": h.state.value}
                    for h in history
                ],
            }
        )
    return out


def _first_evidence(history: Sequence[Alert]) -> dict[str, Any] | None:
    """The evidence of the start transition: what the alert was raised on."""
    for h in history:
        if h.phase.value == "start":
            return h.evidence
    return None


async def _trends(
    store: Store,
    bed: str,
    since: datetime,
    until: datetime,
    points: int,
    gas_list: Sequence[Any],
) -> dict[str, dict[str, Any]]:
    raw_codes = sorted({c for p in PANELS for c in p.codes if not c.startswith("IAEW_SF")})
    raw_codes = [c for c in raw_codes if c not in INDEX_BY_CODE]
    series = await store.trends(bed, raw_codes, since, until, points=points)
    series.update(await index_trends(store, bed, since, until, points=points, gas_list=gas_list))
    out: dict[str, dict[str, Any]] = {}
    for panel in PANELS:
        for code in panel.codes:
            pts = series.get(code) or []
            if pts:
                out[panel.title] = {
                    "code": code,
                    "unit": panel.unit,
                    "points": pts,
                    "points_only": panel.points_only,
                }
                break
    return out
