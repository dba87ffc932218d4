"""Enrolment facts a clinician confirms, and the blood-gas arithmetic they need: pure, no I/O.

- Blood gases are entered with their unit (mmHg or kPa, PaCO2 too) and converted exactly
  (`core.units`: 1 kPa = 1000 / 133.322387415 mmHg ≈ 7.50062 mmHg).
- Plausibility: a PaO2 below 20 mmHg is refused (no arterial sample reads that); below
  40 mmHg, or a P/F below 50, is kept with a warning to check the sample and the unit.
- Predicted body weight (ARDSNet, NEJM 2000): male 50 + 0.91 × (height cm − 152.4),
  female 45.5 + 0.91 × (height cm − 152.4) kg.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.units import convert

PAO2_FLOOR_MMHG = 20.0
PAO2_WARN_MMHG = 40.0
PF_WARN = 50.0


class GasUnit(StrEnum):
    MMHG = "mmHg"
    KPA = "kPa"


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


class Consenter(StrEnum):
    PATIENT = "patient"
    LEGAL_REPRESENTATIVE = "legal_representative"


class Modality(StrEnum):
    XRAY = "xray"
    CT = "ct"


class AirwayKind(StrEnum):
    ENDOTRACHEAL_TUBE = "endotracheal_tube"
    TRACHEOSTOMY = "tracheostomy"


class ImplausibleGas(ValueError):
    """A blood gas value no arterial sample can have."""


def gas_to_mmhg(value: float, unit: GasUnit) -> float:
    """A partial pressure in mmHg, converted exactly from `unit`."""
    return convert(value, "kPa" if unit is GasUnit.KPA else "mm[Hg]", "mm[Hg]")


def check_pao2(pao2_mmhg: float) -> None:
    """Refuse a PaO2 below the plausibility floor (`ImplausibleGas`)."""
    if pao2_mmhg < PAO2_FLOOR_MMHG:
        raise ImplausibleGas(
            f"PaO2 {pao2_mmhg:.1f} mmHg is below {PAO2_FLOOR_MMHG:g} mmHg: not an arterial "
            "value — check the sample and the unit (mmHg or kPa)"
        )


def gas_warnings(pao2_mmhg: float | None, pf: float | None) -> list[str]:
    """Warnings for a plausible but unusual gas (check the sample and the unit)."""
    out: list[str] = []
    if pao2_mmhg is not None and pao2_mmhg < PAO2_WARN_MMHG:
        out.append(f"PaO2 {pao2_mmhg:.1f} mmHg < {PAO2_WARN_MMHG:g}: check sample and unit")
    if pf is not None and pf < PF_WARN:
        out.append(f"P/F {pf:.0f} < {PF_WARN:g}: check sample, unit and FiO2")
    return out


def predicted_body_weight(height_cm: float, sex: Sex) -> float:
    """ARDSNet predicted body weight in kg."""
    base = 50.0 if sex is Sex.MALE else 45.5
    return base + 0.91 * (height_cm - 152.4)


@dataclass(frozen=True, slots=True, kw_only=True)
class Consent:
    """Informed consent: who consented, when, and who took it."""

    consenter: Consenter
    consenter_name: str
    t: datetime
    taken_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Imaging:
    """The chest image read for bilateral infiltrates."""

    modality: Modality
    t: datetime
    reader: str
    bilateral: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Airway:
    """The invasive airway, confirmed by a clinician."""

    kind: AirwayKind
    confirmed_by: str
    t: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Body:
    """Height and sex (for predicted body weight)."""

    height_cm: float
    sex: Sex

    @property
    def pbw_kg(self) -> float:
        return predicted_body_weight(self.height_cm, self.sex)


@dataclass(frozen=True, slots=True, kw_only=True)
class VentSample:
    """Expired tidal volume and plateau pressure at one time (either may be missing)."""

    t: datetime
    vt_ml: float | None
    pplat_cmh2o: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Confirmation:
    """A clinician's confirmation of a fact the data cannot show."""

    by: str
    t: datetime
    note: str | None = None
