"""Physiology and measurement apart: the true state knows no clock, the devices add noise,
resolution, the cuff's cadence and artifacts to whatever true values they are given."""

from __future__ import annotations

import pytest

from simulators.measurement import NIBP_INTERVAL_S, NOISE_BOUND, Measurement, nibp_cycle_start
from simulators.physiology import Physiology
from simulators.source import DEFAULT_ADULT_ARDS

SYS, DIA = "MDC_PRESS_BLD_NONINV_SYS", "MDC_PRESS_BLD_NONINV_DIA"
TRUE: dict[str, float | None] = {
    "MDC_PULS_OXIM_SAT_O2": 92.4,
    "MDC_TEMP_BLD": 37.234,
    "MDC_PRESS_BLD_ART_SYS": 118.2,
    "MDC_PRESS_BLD_ART_DIA": 61.7,
    SYS: 116.0,
    DIA: 60.0,
    "_pao2": 70.0,  # inner values are never shown
}


def _body() -> Physiology:
    return Physiology(DEFAULT_ADULT_ARDS, seed=3, weight_kg=70.0, pumps={})


def test_physiology_integrates_on_its_grid_however_it_is_advanced() -> None:
    one, many = _body(), _body()
    one.advance(3600.0)
    for k in range(1, 721):
        many.advance(k * 5.0 - 2.5)  # off the grid, every 5 s
    many.advance(3600.0)
    assert one.true() == many.true()
    many.advance(1800.0)  # the past is a no-op
    assert many.t == 3600.0


def test_readings_are_noisy_within_their_bound_at_display_resolution() -> None:
    m = Measurement(seed=1)
    seen = set()
    for t in range(0, 600):
        out = m.readings(TRUE, float(t), "sinus")
        assert abs(out["MDC_PULS_OXIM_SAT_O2"] - 92.4) <= NOISE_BOUND["MDC_PULS_OXIM_SAT_O2"] + 0.5
        assert out["MDC_PULS_OXIM_SAT_O2"] == round(out["MDC_PULS_OXIM_SAT_O2"])
        assert out["MDC_TEMP_BLD"] == round(out["MDC_TEMP_BLD"], 2)
        assert "_pao2" not in out
        mean = (out["MDC_PRESS_BLD_ART_SYS"] + 2 * out["MDC_PRESS_BLD_ART_DIA"]) / 3
        assert out["MDC_PRESS_BLD_ART_MEAN"] == round(mean)
        seen.add(out["MDC_PULS_OXIM_SAT_O2"])
    assert len(seen) >= 2  # noise, not a constant
    assert Measurement(seed=1).readings(TRUE, 42.0, "sinus") == Measurement(seed=1).readings(
        TRUE, 42.0, "sinus"
    )


def test_the_cuff_reads_once_per_cycle_and_not_without_a_pulse() -> None:
    m = Measurement(seed=1)
    first = m.readings(TRUE, 10.0, "sinus")
    held = m.readings({**TRUE, SYS: 80.0, DIA: 40.0}, NIBP_INTERVAL_S - 1, "sinus")
    assert held[SYS] == first[SYS]  # between cycles it holds
    fresh = m.readings({**TRUE, SYS: 80.0, DIA: 40.0}, NIBP_INTERVAL_S, "sinus")
    assert fresh[SYS] == pytest.approx(80.0, abs=NOISE_BOUND[SYS] + 0.5)
    pulseless = m.readings({**TRUE, SYS: None, DIA: None}, 2 * NIBP_INTERVAL_S, "VF")
    assert SYS not in pulseless
    assert nibp_cycle_start(2 * NIBP_INTERVAL_S + 5) == 2 * NIBP_INTERVAL_S


def test_an_artifact_shows_for_its_time_only() -> None:
    m = Measurement(seed=1)
    m.spike("MDC_PULS_OXIM_SAT_O2", 50.0, 100.0, 10.0)
    assert m.readings(TRUE, 99.0, "sinus")["MDC_PULS_OXIM_SAT_O2"] != 50.0
    assert m.readings(TRUE, 100.0, "sinus")["MDC_PULS_OXIM_SAT_O2"] == 50.0
    assert m.readings(TRUE, 109.0, "sinus")["MDC_PULS_OXIM_SAT_O2"] == 50.0
    assert m.readings(TRUE, 110.0, "sinus")["MDC_PULS_OXIM_SAT_O2"] != 50.0
