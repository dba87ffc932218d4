"""The trial's eligibility checklist, computed from facts: pure, no I/O, no clock.

Each item is `met`, `not_met` or `unknown`, with its value and where the value came from.
Missing data is `unknown`, never `met`. The record is `eligible` only when every item is met,
`ineligible` as soon as one is not met, and `incomplete` otherwise. `now` is the planned
infusion start.

Items (shared/CLINICAL.md, "The trial"; issue 15):
- age ≥ 18 (enrolment); informed consent (who consented, when, who took it);
- invasive airway (endotracheal tube or tracheostomy), confirmed by a clinician — never
  inferred from ventilator data;
- bilateral infiltrates on X-ray or CT (modality, time, reader);
- P/F < 200 and PEEP ≥ 8 cmH2O at the qualifying gas: the latest gas, drawn at most
  `qualifying_gas_max_h` (6 h) before `now`, its FiO2 the last ventilator value at or
  before the draw (or typed in with the gas);
- ≤ 96 h since ARDS onset (the protocol also says within one week: 96 h is the tighter bound);
- P/F persistent: anchored on the diagnostic gas (the first gas at or after ARDS onset with
  P/F < 200), a gas 8–24 h later still has P/F < 200 and has not improved by more than 20 %;
- protective ventilation over that interval: the median VT ≤ 8 mL/kg predicted body weight
  (height and sex) and the median plateau ≤ 30 cmH2O, or a clinician's confirmation;
- each exclusion criterion confirmed absent, in the seed protocol's words.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.records import format_time, format_time_or_none
from monitors.trial.enrolment import (
    PAO2_FLOOR_MMHG,
    Airway,
    Body,
    Confirmation,
    Consent,
    Imaging,
    VentSample,
    gas_warnings,
)
from monitors.trial.indices import pf_ratio


class Status(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"


class Verdict(StrEnum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    INCOMPLETE = "incomplete"


EXCLUSIONS: tuple[tuple[str, str], ...] = (
    ("malignancy", "Malignancy"),
    ("cardiogenic_oedema", "Cardiogenic pulmonary oedema"),
    ("atelectasis_over_50pct", "over 50 % atelectasis of either lung lobe"),
    ("pregnancy_perinatal_lactation", "pregnancy or perinatal or lactation"),
    ("end_stage_respiratory_disease", "End-stage respiratory disease"),
    ("over_3_organ_failures", "More than 3 organ failures"),
    ("meld_over_40", "MELD score above 40"),
    ("pulmonary_hypertension_stage_3_4", "Pulmonary hypertension, stage III–IV"),
    ("no_arterial_line", "No arterial line"),
    ("no_central_venous_line", "No central venous line"),
    ("dvt_or_pe_within_3_months", "Deep-vein thrombosis or pulmonary embolism within 3 months"),
    ("cerebral_herniation", "Cerebral herniation"),
)
"""Exclusion criteria of the protocol: (id, label). Each must be confirmed absent."""

EXCLUSION_IDS = frozenset(i for i, _ in EXCLUSIONS)


@dataclass(frozen=True, slots=True, kw_only=True)
class Criteria:
    """The protocol's numbers (settings, with the protocol's values as defaults)."""

    min_age_years: int = 18
    pf_below: float = 200.0
    peep_min_cmh2o: float = 8.0
    max_h_from_onset: float = 96.0
    qualifying_gas_max_h: float = 6.0
    second_gas_min_h: float = 8.0
    second_gas_max_h: float = 24.0
    max_improvement_pct: float = 20.0
    vt_max_ml_per_kg_pbw: float = 8.0
    pplat_max_cmh2o: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class GasFacts:
    """One arterial blood gas (PaO2 in mmHg, converted) with the ventilator settings in force
    when it was drawn."""

    t: datetime
    pao2_mmhg: float | None
    fio2_pct: float | None
    fio2_source: str  # "ventilator at 09:12:00Z", "entered", "none"
    peep_cmh2o: float | None
    peep_source: str

    @property
    def pf(self) -> float | None:
        if self.pao2_mmhg is not None and self.pao2_mmhg < PAO2_FLOOR_MMHG:
            return None  # implausible: never a qualifying value
        return pf_ratio(self.pao2_mmhg, self.fio2_pct)

    @property
    def warnings(self) -> list[str]:
        return gas_warnings(self.pao2_mmhg, self.pf)


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """A clinician's confirmation of one exclusion criterion."""

    present: bool
    by: str
    t: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """Everything the checklist is computed from, as of `now` (the planned start)."""

    now: datetime
    age_years: int | None
    ards_onset: datetime | None
    gases: Sequence[GasFacts] = ()
    answers: Mapping[str, Answer] = field(default_factory=dict)
    consent: Consent | None = None
    imaging: Imaging | None = None
    airway: Airway | None = None
    body: Body | None = None
    ventilation: Sequence[VentSample] = ()
    protective_confirmed: Confirmation | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """One line of the checklist."""

    id: str
    label: str
    kind: str  # "computed" or "confirmed"
    status: Status
    value: Any
    source: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "kind": self.kind,
            "status": self.status.value,
            "value": self.value,
            "source": self.source,
            "detail": self.detail,
        }


def _item(
    item_id: str,
    label: str,
    ok: bool | None,
    *,
    value: Any = None,
    source: str,
    detail: str = "",
    kind: str = "computed",
) -> Item:
    """An item: `ok` None is unknown (missing data is never met)."""
    st = Status.UNKNOWN if ok is None else Status.MET if ok else Status.NOT_MET
    return Item(
        id=item_id, label=label, kind=kind, status=st, value=value, source=source, detail=detail
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Checklist:
    now: datetime
    items: tuple[Item, ...]

    @property
    def verdict(self) -> Verdict:
        if any(i.status is Status.NOT_MET for i in self.items):
            return Verdict.INELIGIBLE
        if any(i.status is Status.UNKNOWN for i in self.items):
            return Verdict.INCOMPLETE
        return Verdict.ELIGIBLE

    @property
    def eligible(self) -> bool:
        return self.verdict is Verdict.ELIGIBLE

    def failing(self) -> list[Item]:
        """The items that are not met or unknown."""
        return [i for i in self.items if i.status is not Status.MET]


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def evaluate(facts: Facts, criteria: Criteria | None = None) -> Checklist:
    """The checklist for `facts` (see the module docstring)."""
    c = criteria or Criteria()
    gases = sorted((g for g in facts.gases if g.t <= facts.now), key=lambda g: g.t)
    latest = gases[-1] if gases else None
    if latest is not None and facts.now - latest.t > timedelta(hours=c.qualifying_gas_max_h):
        latest = None  # too old to qualify
    anchor = _anchor(facts, gases, c)
    items = [
        _age(facts, c),
        _consent(facts.consent),
        _airway(facts.airway),
        _imaging(facts.imaging),
        _pf(latest, gases, c),
        _peep(latest, c),
        _onset(facts, c),
        _persistent(facts, anchor, gases, c),
        _protective(facts, anchor, c),
    ]
    items += [_exclusion(i, label, facts.answers.get(i)) for i, label in EXCLUSIONS]
    return Checklist(now=facts.now, items=tuple(items))


def _age(f: Facts, c: Criteria) -> Item:
    label = f"Age ≥ {c.min_age_years} years"
    if f.age_years is None:
        return _item("age", label, None, source="enrolment", detail="age not entered")
    return _item(
        "age", label, f.age_years >= c.min_age_years, value=f.age_years, source="enrolment"
    )


def _consent(consent: Consent | None) -> Item:
    label = "Informed consent (patient or legal representative)"
    if consent is None:
        return _item(
            "informed_consent",
            label,
            None,
            source="coordinator",
            detail="not recorded",
            kind="confirmed",
        )
    return _item(
        "informed_consent",
        label,
        True,
        value=consent.consenter.value,
        source=f"taken by {consent.taken_by} at {format_time(consent.t)}",
        detail=f"consented by {consent.consenter_name} ({consent.consenter.value})",
        kind="confirmed",
    )


def _airway(airway: Airway | None) -> Item:
    label = "Invasive ventilation through an endotracheal tube or tracheostomy (confirmed)"
    if airway is None:
        return _item(
            "invasive_airway",
            label,
            None,
            source="clinician",
            detail="confirm the airway: ventilator data alone does not show it",
            kind="confirmed",
        )
    return _item(
        "invasive_airway",
        label,
        True,
        value=airway.kind.value,
        source=f"confirmed by {airway.confirmed_by} at {format_time(airway.t)}",
        kind="confirmed",
    )


def _imaging(imaging: Imaging | None) -> Item:
    label = "Bilateral infiltrates on chest X-ray or CT"
    if imaging is None:
        return _item(
            "bilateral_infiltrates",
            label,
            None,
            source="imaging",
            detail="no reading recorded",
            kind="confirmed",
        )
    return _item(
        "bilateral_infiltrates",
        label,
        imaging.bilateral,
        value="bilateral" if imaging.bilateral else "not bilateral",
        source=f"{imaging.modality.value} at {format_time(imaging.t)}, read by {imaging.reader}",
        kind="confirmed",
    )


def _gas_source(g: GasFacts) -> str:
    return f"blood gas {format_time_or_none(g.t)}; FiO2: {g.fio2_source}"


def _pf(g: GasFacts | None, gases: list[GasFacts], c: Criteria) -> Item:
    label = f"PaO2/FiO2 < {c.pf_below:g} mmHg (gas within {c.qualifying_gas_max_h:g} h)"
    if g is None:
        why = (
            "no blood gas entered"
            if not gases
            else (
                f"the latest gas ({format_time(gases[-1].t)}) is more than "
                f"{c.qualifying_gas_max_h:g} h old: draw a new one"
            )
        )
        return _item("pf_below_200", label, None, source="blood gas", detail=why)
    pf = g.pf
    if pf is None:
        if g.pao2_mmhg is None:
            why = "no PaO2"
        elif g.pao2_mmhg < PAO2_FLOOR_MMHG:
            why = f"PaO2 {g.pao2_mmhg:.1f} mmHg is implausible"
        else:
            why = "no FiO2 from the ventilator at or before the draw"
        return _item("pf_below_200", label, None, source=_gas_source(g), detail=why)
    detail = f"PaO2 {g.pao2_mmhg:.1f} mmHg, FiO2 {g.fio2_pct:g} %"
    if g.warnings:
        detail += "; " + "; ".join(g.warnings)
    return _item(
        "pf_below_200", label, pf < c.pf_below, value=_r(pf), source=_gas_source(g), detail=detail
    )


def _peep(g: GasFacts | None, c: Criteria) -> Item:
    label = f"PEEP ≥ {c.peep_min_cmh2o:g} cmH2O"
    if g is None or g.peep_cmh2o is None:
        return _item(
            "peep_at_least_8",
            label,
            None,
            source="ventilator" if g is None else f"ventilator at {format_time_or_none(g.t)}",
            detail="no qualifying blood gas" if g is None else "no PEEP from the ventilator then",
        )
    return _item(
        "peep_at_least_8",
        label,
        g.peep_cmh2o >= c.peep_min_cmh2o,
        value=_r(g.peep_cmh2o),
        source=f"{g.peep_source} (blood gas {format_time_or_none(g.t)})",
    )


def _onset(f: Facts, c: Criteria) -> Item:
    label = f"Within {c.max_h_from_onset:g} h (and one week) of ARDS onset"
    if f.ards_onset is None:
        return _item(
            "onset_within_96h", label, None, source="enrolment", detail="ARDS onset not entered"
        )
    hours = (f.now - f.ards_onset).total_seconds() / 3600.0
    if hours < 0:
        return _item(
            "onset_within_96h",
            label,
            None,
            value=_r(hours),
            source="enrolment",
            detail=f"ARDS onset {format_time(f.ards_onset)} is in the future: check the entry",
        )
    return _item(
        "onset_within_96h",
        label,
        hours <= c.max_h_from_onset and hours <= 7 * 24,
        value=_r(hours),
        source=f"ARDS onset {format_time(f.ards_onset)} (enrolment)",
        detail=f"{hours:.1f} h since onset",
    )


def _anchor(f: Facts, gases: list[GasFacts], c: Criteria) -> GasFacts | None:
    """The diagnostic gas: the first at or after ARDS onset with P/F < the threshold."""
    if f.ards_onset is None:
        return None
    onset = f.ards_onset
    return next((g for g in gases if g.t >= onset and g.pf is not None and g.pf < c.pf_below), None)


def _persistent(f: Facts, first: GasFacts | None, gases: list[GasFacts], c: Criteria) -> Item:
    label = (
        f"P/F still < {c.pf_below:g} after {c.second_gas_min_h:g}–{c.second_gas_max_h:g} h "
        f"of protective ventilation, improved ≤ {c.max_improvement_pct:g} %"
    )
    if first is None:
        why = (
            "ARDS onset not entered"
            if f.ards_onset is None
            else ("no diagnostic blood gas (P/F < 200 with FiO2 known) at or after ARDS onset")
        )
        return _item("pf_persistent", label, None, source="blood gases", detail=why)
    pf1 = first.pf
    assert pf1 is not None
    lo = first.t + timedelta(hours=c.second_gas_min_h)
    hi = first.t + timedelta(hours=c.second_gas_max_h)
    later = [g for g in gases if lo <= g.t <= hi]
    if not later:
        return _item(
            "pf_persistent",
            label,
            None,
            source="blood gases",
            detail=(
                f"needs a second blood gas between {format_time(lo)} and {format_time(hi)} "
                f"({c.second_gas_min_h:g}–{c.second_gas_max_h:g} h after the diagnostic gas "
                f"at {format_time(first.t)})"
            ),
        )
    second = later[-1]
    pf2 = second.pf
    source = f"blood gases {format_time(first.t)} (diagnostic) and {format_time(second.t)}"
    if pf2 is None:
        return _item(
            "pf_persistent",
            label,
            None,
            source=source,
            detail="the second blood gas has no P/F (PaO2 or FiO2 missing)",
        )
    change = (pf2 - pf1) / pf1 * 100.0
    return _item(
        "pf_persistent",
        label,
        pf2 < c.pf_below and change <= c.max_improvement_pct,
        value={"first_pf": _r(pf1), "second_pf": _r(pf2), "change_pct": _r(change)},
        source=source,
        detail=f"P/F {pf1:.0f} → {pf2:.0f} ({change:+.1f} %)",
    )


def _protective(f: Facts, first: GasFacts | None, c: Criteria) -> Item:
    label = (
        f"Protective ventilation: VT ≤ {c.vt_max_ml_per_kg_pbw:g} mL/kg PBW, "
        f"plateau ≤ {c.pplat_max_cmh2o:g} cmH2O"
    )
    if f.body is None:
        return _item(
            "protective_ventilation",
            label,
            None,
            source="enrolment",
            detail="height and sex not entered (predicted body weight)",
        )
    pbw = f.body.pbw_kg
    if f.protective_confirmed is not None:
        conf = f.protective_confirmed
        return _item(
            "protective_ventilation",
            label,
            True,
            value={"pbw_kg": _r(pbw)},
            source=f"confirmed by {conf.by} at {format_time(conf.t)}",
            detail=conf.note or "",
            kind="confirmed",
        )
    since = first.t if first is not None else f.now - timedelta(hours=c.second_gas_max_h)
    window = [s for s in f.ventilation if since <= s.t <= f.now]
    vts = [s.vt_ml for s in window if s.vt_ml is not None]
    pplats = [s.pplat_cmh2o for s in window if s.pplat_cmh2o is not None]
    source = f"ventilator {format_time(since)} – {format_time(f.now)}"
    if not vts or not pplats:
        return _item(
            "protective_ventilation",
            label,
            None,
            value={"pbw_kg": _r(pbw)},
            source=source,
            detail="no tidal volume or plateau data over the interval: confirm it",
        )
    vt_per_kg = statistics.median(vts) / pbw
    pplat = statistics.median(pplats)
    return _item(
        "protective_ventilation",
        label,
        vt_per_kg <= c.vt_max_ml_per_kg_pbw and pplat <= c.pplat_max_cmh2o,
        value={"pbw_kg": _r(pbw), "vt_ml_per_kg_pbw": _r(vt_per_kg, 2), "pplat_cmh2o": _r(pplat)},
        source=source,
        detail=f"median VT {vt_per_kg:.1f} mL/kg PBW ({pbw:.1f} kg), median plateau {pplat:.0f}",
    )


def _exclusion(item_id: str, label: str, answer: Answer | None) -> Item:
    text = f"Exclusion absent: {label}"
    if answer is None:
        return _item(
            item_id, text, None, source="clinician", detail="not confirmed yet", kind="confirmed"
        )
    return _item(
        item_id,
        text,
        not answer.present,
        value="present" if answer.present else "absent",
        source=f"confirmed by {answer.by} at {format_time(answer.t)}",
        detail=answer.note or "",
        kind="confirmed",
    )
