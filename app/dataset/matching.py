"""The covariates `iaewatch trial balance` compares between the cell arm and the controls
(patients of the blinded `unknown` group are left out), read from `PatientData`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.dataset.assemble import PatientData
from app.dataset.balance import Balance, balance


def _flag(v: bool | None) -> float | None:
    return None if v is None else float(v)


COVARIATES: tuple[tuple[str, bool, Callable[[PatientData], float | None]], ...] = (
    ("age_years", False, lambda p: p.patient.age_years),
    ("male", True, lambda p: None if p.covariates.sex is None else float(p.covariates.sex == "M")),
    ("bmi", False, lambda p: p.bmi),
    ("apache_ii", False, lambda p: p.apache_ii.total if p.apache_ii.complete else None),
    ("sofa", False, lambda p: p.sofa.total if p.sofa.complete else None),
    ("hours_from_onset", False, lambda p: p.hours_from_onset),
    (
        "pulmonary_aetiology",
        True,
        lambda p: (
            None
            if p.covariates.aetiology_site is None
            else float(p.covariates.aetiology_site == "pulmonary")
        ),
    ),
    ("pf_enrol", False, lambda p: p.enrolment["pf"].value),
    ("peep_enrol", False, lambda p: p.enrolment["peep"].value),
    ("driving_pressure_enrol", False, lambda p: p.enrolment["driving_pressure"].value),
    ("lactate_mmol_l", False, lambda p: p.covariates.lactate_mmol_l),
    ("vasopressor_use", True, lambda p: p.vasopressor_use.value),
    ("prone", True, lambda p: _flag(p.covariates.prone)),
    ("nmb", True, lambda p: _flag(p.covariates.neuromuscular_blockade)),
    ("ecmo", True, lambda p: _flag(p.covariates.ecmo)),
    ("steroids", True, lambda p: _flag(p.covariates.steroids)),
)
"""(name, binary, getter); APACHE II and SOFA only when complete."""


def trial_balance(data: Sequence[PatientData]) -> Balance:
    """SMD of each covariate, cell arm against controls, before and after matching."""
    arms = [p for p in data if p.group in ("cells", "control")]
    columns = {name: [get(p) for p in arms] for name, _, get in COVARIATES}
    binary = {name: is_bin for name, is_bin, _ in COVARIATES}
    return balance(columns, [p.group == "cells" for p in arms], binary)
