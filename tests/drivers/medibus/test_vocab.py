"""Measured-data codes → our vocabulary, in our units."""

from __future__ import annotations

import pytest

from core.params import parameter
from drivers.medibus.layouts import parse_measured
from drivers.medibus.vocab import BY_CODE, MEASURED, readings

_MBAR = 100.0 / 98.0665  # cm[H2O] per mbar, exact


def _by_param(codepage: int, payload: bytes) -> dict[str, float | None]:
    return {r.param: r.value for r in readings(codepage, parse_measured(payload))}


def test_every_entry_names_a_vocabulary_code() -> None:
    for m in MEASURED:
        assert parameter(m.param) is not None
    assert len(BY_CODE) == len(MEASURED)


@pytest.mark.parametrize(
    ("code", "param"),
    [
        (0xF0, "MDC_VENT_CONC_AWAY_O2_INSP"),
        (0x78, "MDC_PRESS_AWAY_END_EXP_POS"),
        (0x7D, "MDC_PRESS_AWAY_INSP_PEAK"),
        (0x74, "MDC_PRESS_RESP_PLAT"),
        (0x73, "MDC_PRESS_AWAY_MEAN"),
        (0x88, "MDC_VOL_AWAY_TIDAL_EXP"),
        (0xB9, "MDC_VOL_MINUTE_AWAY_EXP"),
        (0xD6, "MDC_VENT_RESP_RATE"),
        (0xE6, "MDC_AWAY_CO2_ET"),
    ],
)
def test_codepage_1_codes(code: int, param: str) -> None:
    assert BY_CODE[(1, code)].param == param


def test_codepage_2_expired_tidal_volume_outranks_codepage_1() -> None:
    assert BY_CODE[(2, 0x21)].param == "MDC_VOL_AWAY_TIDAL_EXP"
    assert BY_CODE[(2, 0x21)].rank < BY_CODE[(1, 0x88)].rank


def test_pressures_are_converted_exactly_from_mbar() -> None:
    values = _by_param(1, b"78 5.07D  30F0  60B910.1D6  24")
    assert values["MDC_PRESS_AWAY_END_EXP_POS"] == pytest.approx(5.0 * _MBAR, rel=1e-12)
    assert values["MDC_PRESS_AWAY_INSP_PEAK"] == pytest.approx(30 * 1.0197162, rel=1e-6)
    assert values["MDC_VENT_CONC_AWAY_O2_INSP"] == 60
    assert values["MDC_VOL_MINUTE_AWAY_EXP"] == 10.1
    assert values["MDC_VENT_RESP_RATE"] == 24


def test_end_tidal_co2_in_kpa_and_percent() -> None:
    kpa = readings(1, parse_measured(b"E3 5.3"))
    assert kpa[0].value == pytest.approx(5.3 * 7.500616827, rel=1e-6) and kpa[0].rank == 1
    # 5 % of 1013 mbar = 50.65 mbar = 5.065 kPa = 37.99 mmHg
    pct = readings(1, parse_measured(b"DB 5.06B1013"))
    assert pct[0].value == pytest.approx(5.065 * 7.500616827, rel=1e-6) and pct[0].rank == 2
    assert readings(1, parse_measured(b"DB 5.0")) == []  # no ambient pressure: not used


def test_unknown_codes_are_left_out_and_blank_values_are_none() -> None:
    assert _by_param(1, b"011234F0    ") == {"MDC_VENT_CONC_AWAY_O2_INSP": None}
    assert readings(2, parse_measured(b"F0  60")) == []  # F0 is a codepage-1 code
