"""Every index formula against values worked by hand, and every invalid input → None."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitors.trial.indices import (
    CSTAT,
    DP,
    FIO2,
    OI,
    PAO2,
    PEEP,
    PF,
    PMEAN,
    PPLAT,
    SF,
    SPO2,
    VTE,
    compute,
    driving_pressure,
    fio2_fraction,
    oxygenation_index,
    pf_ratio,
    sf_ratio,
    static_compliance,
)


def test_pf_ratio_by_hand() -> None:
    assert pf_ratio(80, 50) == pytest.approx(160.0)  # 80 / 0.50
    assert pf_ratio(60, 100) == pytest.approx(60.0)  # 60 / 1.00
    assert pf_ratio(95, 21) == pytest.approx(452.38, abs=0.01)  # 95 / 0.21


def test_oxygenation_index_by_hand() -> None:
    # 0.60 × 20 cmH2O × 100 / 80 mmHg = 15
    assert oxygenation_index(60, 20, 80) == pytest.approx(15.0)
    # 1.00 × 25 × 100 / 50 = 50
    assert oxygenation_index(100, 25, 50) == pytest.approx(50.0)


def test_sf_ratio_by_hand_and_only_up_to_97_percent() -> None:
    assert sf_ratio(92, 40) == pytest.approx(230.0)  # 92 / 0.40
    assert sf_ratio(97, 50) == pytest.approx(194.0)
    assert sf_ratio(98, 50) is None  # flat part of the curve: meaningless
    assert sf_ratio(100, 21) is None


def test_driving_pressure_and_compliance_by_hand() -> None:
    assert driving_pressure(28, 12) == pytest.approx(16.0)
    assert static_compliance(420, 28, 12) == pytest.approx(26.25)  # 420 / 16
    assert static_compliance(350, 30, 18) == pytest.approx(29.1667, abs=1e-4)  # 350 / 12


@pytest.mark.parametrize(
    ("call", "why"),
    [
        (lambda: pf_ratio(80, 0), "FiO2 0"),
        (lambda: pf_ratio(80, 15), "FiO2 below room air"),
        (lambda: pf_ratio(80, 120), "FiO2 above 100 %"),
        (lambda: pf_ratio(0, 50), "PaO2 0"),
        (lambda: pf_ratio(None, 50), "PaO2 missing"),
        (lambda: pf_ratio(80, None), "FiO2 missing"),
        (lambda: pf_ratio(math.nan, 50), "PaO2 NaN"),
        (lambda: oxygenation_index(60, 20, 0), "PaO2 0: no division by zero"),
        (lambda: oxygenation_index(60, 0, 80), "mean airway pressure 0"),
        (lambda: oxygenation_index(0, 20, 80), "FiO2 0"),
        (lambda: oxygenation_index(60, None, 80), "mean airway pressure missing"),
        (lambda: sf_ratio(92, 0), "FiO2 0"),
        (lambda: sf_ratio(0, 40), "SpO2 0"),
        (lambda: sf_ratio(None, 40), "SpO2 missing"),
        (lambda: driving_pressure(12, 12), "driving pressure 0"),
        (lambda: driving_pressure(10, 12), "plateau below PEEP"),
        (lambda: driving_pressure(None, 12), "plateau missing"),
        (lambda: driving_pressure(25, math.inf), "PEEP infinite"),
        (lambda: static_compliance(420, 12, 12), "driving pressure 0: no division by zero"),
        (lambda: static_compliance(420, 10, 12), "driving pressure negative"),
        (lambda: static_compliance(0, 28, 12), "tidal volume 0"),
        (lambda: static_compliance(None, 28, 12), "tidal volume missing"),
    ],
)
def test_invalid_inputs_give_none(call: object, why: str) -> None:
    assert callable(call)
    assert call() is None, why


def test_fio2_fraction() -> None:
    assert fio2_fraction(21) == pytest.approx(0.21)
    assert fio2_fraction(100) == pytest.approx(1.0)
    assert fio2_fraction(20.9) is None
    assert fio2_fraction(True) is None  # type: ignore[arg-type]


def test_compute_by_code() -> None:
    values = {PAO2: 80.0, FIO2: 60.0, PMEAN: 20.0, SPO2: 92.0, PPLAT: 28.0, PEEP: 12.0, VTE: 420.0}
    assert compute(PF, values) == pytest.approx(133.33, abs=0.01)
    assert compute(OI, values) == pytest.approx(15.0)
    assert compute(SF, values) == pytest.approx(153.33, abs=0.01)
    assert compute(DP, values) == pytest.approx(16.0)
    assert compute(CSTAT, values) == pytest.approx(26.25)
    assert compute(CSTAT, {PPLAT: 28.0, PEEP: 12.0}) is None
    with pytest.raises(KeyError):
        compute("IAEW_NOPE", values)


finite = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**6), max_value=10**6),
)


@given(finite, finite, finite)
def test_never_raises_and_never_returns_non_finite(
    a: float | None, b: float | None, c: float | None
) -> None:
    for v in (
        pf_ratio(a, b),
        oxygenation_index(a, b, c),
        sf_ratio(a, b),
        driving_pressure(a, b),
        static_compliance(a, b, c),
    ):
        assert v is None or math.isfinite(v)
