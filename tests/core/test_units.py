"""Unit conversion to the vocabulary's canonical units, with exact factors."""

from __future__ import annotations

import math

import pytest

from core.errors import UnitError
from core.params import PARAMETERS
from core.units import convert, normalise_unit, to_canonical


@pytest.mark.parametrize(
    ("value", "src", "dst", "expected"),
    [
        (10.0, "mbar", "cm[H2O]", 10.197162),  # 1 mbar = 100 Pa; 1 cmH2O = 98.0665 Pa
        (5.0, "kPa", "mm[Hg]", 37.503084),  # 1 mmHg = 133.322387415 Pa
        (100.4, "[degF]", "Cel", 38.0),
        (0.6, "1", "%", 60.0),
        (0.45, "L", "mL", 450.0),
        (12000.0, "mL/min", "L/min", 12.0),
        (0.6, "mg/h", "ug/min", 10.0),
        (600.0, "ug/h", "ug/min", 10.0),
        (94.0, "%", "%", 94.0),
    ],
)
def test_exact_conversions(value: float, src: str, dst: str, expected: float) -> None:
    assert math.isclose(convert(value, src, dst), expected, rel_tol=1e-6)


def test_weight_based_doses() -> None:
    # norepinephrine 0.1 ug/kg/min at 70 kg = 7 ug/min; dopamine 700 ug/min at 70 kg = 10
    assert convert(0.1, "ug/kg/min", "ug/min", weight_kg=70) == pytest.approx(7.0)
    assert convert(700, "ug/min", "ug/kg/min", weight_kg=70) == pytest.approx(10.0)
    assert convert(6, "ug/kg/h", "ug/kg/min") == pytest.approx(0.1)
    with pytest.raises(UnitError, match="weight"):
        convert(0.1, "ug/kg/min", "ug/min")


def test_aliases_and_unknown_units() -> None:
    assert normalise_unit("mmHg") == "mm[Hg]" and normalise_unit("cmH2O") == "cm[H2O]"
    assert normalise_unit("mcg/kg/min") == "ug/kg/min" and normalise_unit("°C") == "Cel"
    with pytest.raises(UnitError, match="cannot convert"):
        convert(1.0, "furlong", "mL")


def test_to_canonical_uses_the_vocabulary() -> None:
    assert PARAMETERS["MDC_PRESS_AWAY_END_EXP_POS"].unit == "cm[H2O]"
    assert to_canonical("MDC_PRESS_AWAY_END_EXP_POS", 10, "mbar") == pytest.approx(10.197162)
    assert to_canonical("IAEW_DOSE_NOREPINEPHRINE", 0.1, "ug/kg/min", weight_kg=80) == (
        pytest.approx(8.0)
    )
    assert to_canonical("SOMETHING_NEW", 3.0, "furlong") == 3.0  # kept, never ruled on
