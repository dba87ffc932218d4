"""APACHE II (Knaus WA, Draper EA, Wagner DP, Zimmerman JE. APACHE II: a severity of disease
classification system. Crit Care Med 1985;13:818–829), from the worst value of each variable
in the 24 h before day 0.

APACHE II = acute physiology score (12 variables, Table 1 of the paper) + age points +
chronic health points. Oxygenation: FiO2 ≥ 0.5 scores the alveolar–arterial gradient
A–aDO2 = FiO2 × (760 − 47) − PaCO2 / 0.8 − PaO2 (mmHg, sea level, R = 0.8); FiO2 < 0.5 scores
PaO2. Serum HCO3 is used only when there is no arterial pH. Creatinine points double in acute
renal failure. GCS scores 15 − GCS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum

from app.dataset.bands import Bands, Score, points

# (lower bound, points), highest first; the last argument of `points` is the lowest band
TEMPERATURE_C: Bands = ((41, 4), (39, 3), (38.5, 1), (36, 0), (34, 1), (32, 2), (30, 3))
MAP_MMHG: Bands = ((160, 4), (130, 3), (110, 2), (70, 0), (50, 2))
HEART_RATE: Bands = ((180, 4), (140, 3), (110, 2), (70, 0), (55, 2), (40, 3))
RESP_RATE: Bands = ((50, 4), (35, 3), (25, 1), (12, 0), (10, 1), (6, 2))
AADO2_MMHG: Bands = ((500, 4), (350, 3), (200, 2))
PAO2_MMHG: Bands = ((math.nextafter(70, math.inf), 0), (61, 1), (55, 3))  # > 70: 0
PH: Bands = ((7.7, 4), (7.6, 3), (7.5, 1), (7.33, 0), (7.25, 2), (7.15, 3))
SODIUM: Bands = ((180, 4), (160, 3), (155, 2), (150, 1), (130, 0), (120, 2), (111, 3))
POTASSIUM: Bands = ((7, 4), (6, 3), (5.5, 1), (3.5, 0), (3, 1), (2.5, 2))
CREATININE_MG_DL: Bands = ((3.5, 4), (2, 3), (1.5, 2), (0.6, 0))
HEMATOCRIT_PCT: Bands = ((60, 4), (50, 2), (46, 1), (30, 0), (20, 2))
WBC_K_UL: Bands = ((40, 4), (20, 2), (15, 1), (3, 0), (1, 2))
HCO3_MMOL_L: Bands = ((52, 4), (41, 3), (32, 1), (22, 0), (18, 2), (15, 3))
AGE_YEARS: Bands = ((75, 6), (65, 5), (55, 3), (45, 2))

SIMPLE: dict[str, tuple[Bands, int]] = {
    "temperature_c": (TEMPERATURE_C, 4),
    "map_mmhg": (MAP_MMHG, 4),
    "heart_rate": (HEART_RATE, 4),
    "resp_rate": (RESP_RATE, 4),
    "sodium_mmol_l": (SODIUM, 4),
    "potassium_mmol_l": (POTASSIUM, 4),
    "hematocrit_pct": (HEMATOCRIT_PCT, 4),
    "wbc_k_ul": (WBC_K_UL, 4),
}
"""The variables scored from one value each: input name → (bands, points below the last)."""


class ChronicHealth(StrEnum):
    """History of severe organ insufficiency or immunocompromise, and the admission type."""

    NONE = "none"
    NONOPERATIVE_OR_EMERGENCY = "nonoperative_or_emergency_postop"  # 5 points
    ELECTIVE_POSTOP = "elective_postop"  # 2 points


CHRONIC_POINTS = {
    ChronicHealth.NONE: 0,
    ChronicHealth.NONOPERATIVE_OR_EMERGENCY: 5,
    ChronicHealth.ELECTIVE_POSTOP: 2,
}


def aado2(fio2_fraction: float, paco2_mmhg: float, pao2_mmhg: float) -> float:
    """Alveolar–arterial O2 gradient at sea level (mmHg), respiratory quotient 0.8."""
    return fio2_fraction * (760.0 - 47.0) - paco2_mmhg / 0.8 - pao2_mmhg


def oxygenation_points(
    fio2_pct: float | None, pao2_mmhg: float | None, paco2_mmhg: float | None
) -> tuple[int | None, list[str]]:
    """Points for oxygenation and the inputs missing for it."""
    if fio2_pct is None or pao2_mmhg is None:
        return None, [n for n, v in (("fio2_pct", fio2_pct), ("pao2_mmhg", pao2_mmhg)) if v is None]
    if fio2_pct >= 50:
        if paco2_mmhg is None:
            return None, ["paco2_mmhg"]
        return points(aado2(fio2_pct / 100, paco2_mmhg, pao2_mmhg), AADO2_MMHG, 0), []
    return points(pao2_mmhg, PAO2_MMHG, 4), []


def item_points(name: str, v: Mapping[str, float | None]) -> int | None:
    """The points of one single-value item (`SIMPLE`, creatinine, GCS), None when missing."""
    value = v.get(name)
    if value is None:
        return None
    if name == "creatinine_mg_dl":
        return points(value, CREATININE_MG_DL, 2) * (2 if v.get("acute_renal_failure") else 1)
    if name == "gcs":
        return 15 - int(value)
    bands, below = SIMPLE[name]
    return points(value, bands, below)


def apache_ii(
    values: Mapping[str, float | None],
    *,
    age_years: float | None,
    chronic_health: ChronicHealth | None,
) -> Score:
    """APACHE II from the worst values (`values`: the names of `SIMPLE`, `creatinine_mg_dl`,
    `acute_renal_failure` (1/0), `gcs`, `fio2_pct`, `pao2_mmhg`, `paco2_mmhg`, `ph`,
    `hco3_mmol_l`)."""
    items: dict[str, int] = {}
    missing: list[str] = []
    for name in (*SIMPLE, "creatinine_mg_dl", "gcs"):
        p = item_points(name, values)
        if p is None:
            missing.append(name)
        else:
            items[name] = p
    oxy, oxy_missing = oxygenation_points(
        values.get("fio2_pct"), values.get("pao2_mmhg"), values.get("paco2_mmhg")
    )
    if oxy is None:
        missing += oxy_missing
    else:
        items["oxygenation"] = oxy
    ph, hco3 = values.get("ph"), values.get("hco3_mmol_l")
    if ph is not None:
        items["acid_base"] = points(ph, PH, 4)
    elif hco3 is not None:
        items["acid_base"] = points(hco3, HCO3_MMOL_L, 4)
    else:
        missing.append("ph")
    if age_years is None:
        missing.append("age_years")
    else:
        items["age"] = points(age_years, AGE_YEARS, 0)
    if chronic_health is None:
        missing.append("chronic_health")
    else:
        items["chronic_health"] = CHRONIC_POINTS[chronic_health]
    return Score(sum(items.values()), items, tuple(missing))
