"""Conversion of the units we accept into each parameter's canonical UCUM unit.

Pressures: 1 mbar = 1.01972 cm[H2O] exactly by definition of the units. Dräger ventilators
report airway pressures in mbar; we convert them exactly rather than treat them as equal, so
that a value read from the device and the same value entered in cmH2O agree to 2 %.
Weight-based doses (ug/kg/min ↔ ug/min) need the patient's weight; without one they raise.
"""

from __future__ import annotations

from collections.abc import Callable

from core.errors import UnitError
from core.params import parameter

_MBAR_TO_CMH2O = 100.0 / 98.0665  # 1 mbar = 100 Pa; 1 cmH2O = 98.0665 Pa
_KPA_TO_MMHG = 1000.0 / 133.322387415  # 1 mmHg = 133.322387415 Pa

# Aliases people and devices write, mapped to the UCUM spelling we use.
_ALIASES: dict[str, str] = {
    "mmhg": "mm[Hg]",
    "mm hg": "mm[Hg]",
    "mm[hg]": "mm[Hg]",
    "cmh2o": "cm[H2O]",
    "cm h2o": "cm[H2O]",
    "cm[h2o]": "cm[H2O]",
    "mbar": "mbar",
    "hpa": "mbar",
    "kpa": "kPa",
    "degc": "Cel",
    "°c": "Cel",
    "cel": "Cel",
    "c": "Cel",
    "degf": "[degF]",
    "°f": "[degF]",
    "[degf]": "[degF]",
    "f": "[degF]",
    "bpm": "/min",
    "/min": "/min",
    "1/min": "/min",
    "{beats}/min": "/min",
    "{breaths}/min": "/min",
    "min-1": "/min",
    "%": "%",
    "1": "1",
    "fraction": "1",
    "ml": "mL",
    "l": "L",
    "ml/h": "mL/h",
    "ml/hr": "mL/h",
    "l/min": "L/min",
    "ml/min": "mL/min",
    "ug/min": "ug/min",
    "mcg/min": "ug/min",
    "µg/min": "ug/min",
    "mg/min": "mg/min",
    "mg/h": "mg/h",
    "ug/h": "ug/h",
    "mcg/h": "ug/h",
    "ug/kg/min": "ug/kg/min",
    "mcg/kg/min": "ug/kg/min",
    "µg/kg/min": "ug/kg/min",
    "ug/(kg.min)": "ug/kg/min",
    "ug/kg/h": "ug/kg/h",
    "u/min": "U/min",
    "u/h": "U/h",
    "[iu]/min": "U/min",
}

_Conv = Callable[[float], float]

_LINEAR: dict[tuple[str, str], _Conv] = {
    ("mbar", "cm[H2O]"): lambda v: v * _MBAR_TO_CMH2O,
    ("cm[H2O]", "mbar"): lambda v: v / _MBAR_TO_CMH2O,
    ("kPa", "mm[Hg]"): lambda v: v * _KPA_TO_MMHG,
    ("[degF]", "Cel"): lambda v: (v - 32.0) * 5.0 / 9.0,
    ("1", "%"): lambda v: v * 100.0,
    ("L", "mL"): lambda v: v * 1000.0,
    ("mL/min", "L/min"): lambda v: v / 1000.0,
    ("mg/min", "ug/min"): lambda v: v * 1000.0,
    ("ug/h", "ug/min"): lambda v: v / 60.0,
    ("mg/h", "ug/min"): lambda v: v * 1000.0 / 60.0,
    ("ug/kg/h", "ug/kg/min"): lambda v: v / 60.0,
    ("U/h", "U/min"): lambda v: v / 60.0,
}


def normalise_unit(unit: str) -> str:
    """The UCUM spelling of `unit` (accepting common aliases), or `unit` unchanged."""
    key = unit.strip().lower()
    return _ALIASES.get(key, unit.strip())


def convert(value: float, from_unit: str, to_unit: str, *, weight_kg: float | None = None) -> float:
    """Convert `value` from `from_unit` to `to_unit`; raise UnitError when that is impossible."""
    src, dst = normalise_unit(from_unit), normalise_unit(to_unit)
    if src == dst:
        return value
    direct = _LINEAR.get((src, dst))
    if direct is not None:
        return direct(value)
    if {src, dst} <= {"ug/kg/min", "ug/min", "ug/kg/h", "ug/h", "mg/min", "mg/h"}:
        return _convert_dose(value, src, dst, weight_kg)
    raise UnitError(f"cannot convert {from_unit!r} to {to_unit!r}")


def _convert_dose(value: float, src: str, dst: str, weight_kg: float | None) -> float:
    per_kg_src, per_kg_dst = "/kg/" in src, "/kg/" in dst
    if per_kg_src != per_kg_dst and (weight_kg is None or weight_kg <= 0):
        raise UnitError(f"converting {src} to {dst} needs the patient's weight")
    # Bring to ug/min first, then to the target.
    ug_min = {
        "ug/min": value,
        "ug/h": value / 60.0,
        "mg/min": value * 1000.0,
        "mg/h": value * 1000.0 / 60.0,
        "ug/kg/min": value * (weight_kg or 0.0),
        "ug/kg/h": value * (weight_kg or 0.0) / 60.0,
    }[src]
    if dst == "ug/min":
        return ug_min
    if dst == "ug/h":
        return ug_min * 60.0
    if dst == "mg/min":
        return ug_min / 1000.0
    if dst == "mg/h":
        return ug_min * 60.0 / 1000.0
    assert weight_kg is not None
    if dst == "ug/kg/min":
        return ug_min / weight_kg
    return ug_min * 60.0 / weight_kg  # ug/kg/h


def to_canonical(code: str, value: float, unit: str, *, weight_kg: float | None = None) -> float:
    """`value` in `unit` converted to the canonical unit of parameter `code`.

    Codes outside the vocabulary are returned unchanged (they are kept, never ruled on).
    """
    param = parameter(code)
    if param is None:
        return value
    return convert(value, unit, param.unit, weight_kg=weight_kg)
