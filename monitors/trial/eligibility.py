"""The trial's eligibility checklist, computed from facts: pure, no I/O, no clock.

Each item is `met`, `not_met` or `unknown`, with its value and where the value came from.
Missing data is `unknown`, never `met`. The record is `eligible` only when every item is met,
`ineligible` as soon as one is not met, and `incomplete` otherwise.

Computed items (shared/CLINICAL.md, "The trial"):
- age ≥ 18 (enrolment);
- invasive ventilation: ventilator data at this bed in the last 10 min;
- P/F < 200 at the latest blood gas (FiO2 from the ventilator nearest the gas's time);
- PEEP ≥ 8 cmH2O at the latest blood gas (from the ventilator);
- ≤ 96 h since ARDS onset (the protocol also says within one week: 96 h is the tighter bound);
- P/F persistent: a later gas 8–24 h after the first qualifying gas (P/F < 200) still has
  P/F < 200 and has not improved by more than 20 % over it.
Exclusion criteria are confirmed by a clinician, one by one (absent → met, present → not met).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.records import format_time, format_time_or_none
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
    ("atelectasis_over_50pct", "Atelectasis of more than 50 % of the lungs"),
    ("pregnancy_or_lactation", "Pregnancy or lactation"),
    ("end_stage_respiratory_disease", "End-stage respiratory disease"),
    ("over_3_organ_failures", "More than 3 organ failures"),
    ("meld_over_40", "MELD score above 40"),
    ("pulmonary_hypertension_stage_3_4", "Pulmonary hypertension, stage III–IV"),
    ("no_arterial_or_central_line", "No arterial or central venous line"),
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
    second_gas_min_h: float = 8.0
    second_gas_max_h: float = 24.0
    max_improvement_pct: float = 20.0
    ventilator_recent_s: float = 600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class GasFacts:
    """One arterial blood gas with the ventilator settings in force when it was drawn."""

    t: datetime
    pao2_mmhg: float | None
    fio2_pct: float | None
    fio2_source: str  # "ventilator 09:12:00Z", "entered", "none"
    peep_cmh2o: float | None
    peep_source: str

    @property
    def pf(self) -> float | None:
        return pf_ratio(self.pao2_mmhg, self.fio2_pct)


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """A clinician's confirmation of one exclusion criterion."""

    present: bool
    by: str
    t: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """Everything the checklist is computed from, as of `now`."""

    now: datetime
    age_years: int | None
    ards_onset: datetime | None
    ventilator_last_t: datetime | None
    gases: Sequence[GasFacts] = ()
    answers: Mapping[str, Answer] = field(default_factory=dict)


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


def _unknown(
    item_id: str,
    label: str,
    source: str,
    detail: str,
    *,
    value: Any = None,
    kind: str = "computed",
) -> Item:
    """An item that cannot be judged yet: missing data is unknown, never met."""
    return Item(
        id=item_id,
        label=label,
        kind=kind,
        status=Status.UNKNOWN,
        value=value,
        source=source,
        detail=detail,
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
    gases = sorted(facts.gases, key=lambda g: g.t)
    gases = [g for g in gases if g.t <= facts.now]
    latest = gases[-1] if gases else None
    items = [
        _age(facts, c),
        _ventilation(facts, c),
        _pf(latest, c),
        _peep(latest, c),
        _onset(facts, c),
        _persistent(gases, c),
    ]
    items += [_exclusion(i, label, facts.answers.get(i)) for i, label in EXCLUSIONS]
    return Checklist(now=facts.now, items=tuple(items))


def _age(f: Facts, c: Criteria) -> Item:
    label = f"Age ≥ {c.min_age_years} years"
    if f.age_years is None:
        return _unknown(
            "age",
            label,
            "enrolment",
            "age not entered",
        )
    ok = f.age_years >= c.min_age_years
    return Item(
        id="age",
        label=label,
        kind="computed",
        status=Status.MET if ok else Status.NOT_MET,
        value=f.age_years,
        source="enrolment",
    )


def _ventilation(f: Facts, c: Criteria) -> Item:
    label = "Invasive mechanical ventilation"
    last = f.ventilator_last_t
    if last is None or (f.now - last).total_seconds() > c.ventilator_recent_s:
        seen = "never" if last is None else f"last at {format_time_or_none(last)}"
        return _unknown(
            "invasive_ventilation",
            label,
            "ventilator",
            (
                f"no ventilator data in the last {c.ventilator_recent_s / 60:g} min ({seen}): "
                "connect the ventilator to iaewatch"
            ),
        )
    return Item(
        id="invasive_ventilation",
        label=label,
        kind="computed",
        status=Status.MET,
        value=True,
        source=f"ventilator data at {format_time_or_none(last)}",
    )


def _gas_source(g: GasFacts) -> str:
    return f"blood gas {format_time_or_none(g.t)}; FiO2: {g.fio2_source}"


def _pf(g: GasFacts | None, c: Criteria) -> Item:
    label = f"PaO2/FiO2 < {c.pf_below:g} mmHg"
    if g is None:
        return _unknown(
            "pf_below_200",
            label,
            "blood gas",
            "no blood gas entered",
        )
    pf = g.pf
    if pf is None:
        why = "no PaO2" if g.pao2_mmhg is None else "no FiO2 from the ventilator at that time"
        return _unknown(
            "pf_below_200",
            label,
            _gas_source(g),
            why,
        )
    return Item(
        id="pf_below_200",
        label=label,
        kind="computed",
        status=Status.MET if pf < c.pf_below else Status.NOT_MET,
        value=_r(pf),
        source=_gas_source(g),
        detail=f"PaO2 {g.pao2_mmhg:g} mmHg, FiO2 {g.fio2_pct:g} %",
    )


def _peep(g: GasFacts | None, c: Criteria) -> Item:
    label = f"PEEP ≥ {c.peep_min_cmh2o:g} cmH2O"
    if g is None or g.peep_cmh2o is None:
        return _unknown(
            "peep_at_least_8",
            label,
            "ventilator" if g is None else f"ventilator at {format_time_or_none(g.t)}",
            "no blood gas entered" if g is None else "no PEEP from the ventilator then",
        )
    ok = g.peep_cmh2o >= c.peep_min_cmh2o
    return Item(
        id="peep_at_least_8",
        label=label,
        kind="computed",
        status=Status.MET if ok else Status.NOT_MET,
        value=_r(g.peep_cmh2o),
        source=f"{g.peep_source} (blood gas {format_time_or_none(g.t)})",
    )


def _onset(f: Facts, c: Criteria) -> Item:
    label = f"Within {c.max_h_from_onset:g} h (and one week) of ARDS onset"
    if f.ards_onset is None:
        return _unknown(
            "onset_within_96h",
            label,
            "enrolment",
            "ARDS onset not entered",
        )
    hours = (f.now - f.ards_onset).total_seconds() / 3600.0
    if hours < 0:
        return _unknown(
            "onset_within_96h",
            label,
            "enrolment",
            f"ARDS onset {format_time_or_none(f.ards_onset)} is in the future: check the entry",
            value=_r(hours),
        )
    ok = hours <= c.max_h_from_onset and hours <= 7 * 24
    return Item(
        id="onset_within_96h",
        label=label,
        kind="computed",
        status=Status.MET if ok else Status.NOT_MET,
        value=_r(hours),
        source=f"ARDS onset {format_time_or_none(f.ards_onset)} (enrolment)",
        detail=f"{hours:.1f} h since onset",
    )


def _persistent(gases: list[GasFacts], c: Criteria) -> Item:
    label = (
        f"P/F still < {c.pf_below:g} after {c.second_gas_min_h:g}–{c.second_gas_max_h:g} h "
        f"of protective ventilation, improved ≤ {c.max_improvement_pct:g} %"
    )

    def unknown(detail: str, source: str = "blood gases") -> Item:
        return _unknown(
            "pf_persistent",
            label,
            source,
            detail,
        )

    first = next((g for g in gases if (g.pf is not None and g.pf < c.pf_below)), None)
    if first is None:
        return unknown("no qualifying first blood gas (P/F < 200 with FiO2 known)")
    pf1 = first.pf
    assert pf1 is not None
    lo = first.t + timedelta(hours=c.second_gas_min_h)
    hi = first.t + timedelta(hours=c.second_gas_max_h)
    later = [g for g in gases if lo <= g.t <= hi]
    if not later:
        return unknown(
            f"needs a second blood gas between {format_time(lo)} and {format_time(hi)} "
            f"({c.second_gas_min_h:g}–{c.second_gas_max_h:g} h after the first at "
            f"{format_time(first.t)})"
        )
    second = later[-1]
    pf2 = second.pf
    source = f"blood gases {format_time_or_none(first.t)} and {format_time_or_none(second.t)}"
    if pf2 is None:
        return unknown("the second blood gas has no P/F (PaO2 or FiO2 missing)", source)
    change = (pf2 - pf1) / pf1 * 100.0
    ok = pf2 < c.pf_below and change <= c.max_improvement_pct
    return Item(
        id="pf_persistent",
        label=label,
        kind="computed",
        status=Status.MET if ok else Status.NOT_MET,
        value={"first_pf": _r(pf1), "second_pf": _r(pf2), "change_pct": _r(change)},
        source=source,
        detail=f"P/F {pf1:.0f} → {pf2:.0f} ({change:+.1f} %)",
    )


def _exclusion(item_id: str, label: str, answer: Answer | None) -> Item:
    text = f"Exclusion absent: {label}"
    if answer is None:
        return _unknown(
            item_id,
            text,
            "clinician",
            "not confirmed yet",
            kind="confirmed",
        )
    return Item(
        id=item_id,
        label=text,
        kind="confirmed",
        status=Status.NOT_MET if answer.present else Status.MET,
        value="present" if answer.present else "absent",
        source=f"confirmed by {answer.by} at {format_time_or_none(answer.t)}",
        detail=answer.note or "",
    )
