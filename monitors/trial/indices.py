"""Oxygenation and respiratory-mechanics indices: pure formulas (docs/indices.md).

Every function takes values in the vocabulary's canonical units (FiO2 in %, pressures in
cmH2O, PaO2 in mmHg, volumes in mL) and returns None, never raises, when an input is missing,
not finite or outside what the formula can mean (FiO2 below room air, a non-positive driving
pressure, a zero PaO2): an index is either right or absent.

    P/F   = PaO2 / FiO2                                   mmHg     (FiO2 as a fraction)
    OI    = FiO2 × mean airway pressure × 100 / PaO2      —        (FiO2 as a fraction)
    OSI   = FiO2 × mean airway pressure × 100 / SpO2      —        (FiO2 as a fraction)
    S/F   = SpO2 / FiO2, only for SpO2 ≤ 97 %             —        (FiO2 as a fraction)
    ΔP    = plateau pressure − PEEP                       cmH2O
    Cstat = tidal volume / (plateau pressure − PEEP)      mL/cmH2O
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FIO2_MIN_PCT = 21.0
"""Room air: an FiO2 below it is a reading error, not a ventilator setting."""
FIO2_MAX_PCT = 100.0
SF_SPO2_MAX_PCT = 97.0
"""Above this the oxyhaemoglobin curve is flat: S/F no longer tracks P/F (Rice 2007)."""

PF, OI, SF, DP, CSTAT, OSI = (
    "IAEW_PF_RATIO",
    "IAEW_OXYGENATION_INDEX",
    "IAEW_SF_RATIO",
    "IAEW_DRIVING_PRESSURE",
    "IAEW_STATIC_COMPLIANCE",
    "IAEW_OSI",
)

PAO2 = "MDC_CONC_PO2_ART"
FIO2 = "MDC_VENT_CONC_AWAY_O2_INSP"
SPO2 = "MDC_PULS_OXIM_SAT_O2"
PEEP = "MDC_PRESS_AWAY_END_EXP_POS"
PPLAT = "MDC_PRESS_RESP_PLAT"
PMEAN = "MDC_PRESS_AWAY_MEAN"
VTE = "MDC_VOL_AWAY_TIDAL_EXP"


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexSpec:
    """One index: its code, label, unit, formula and the parameters it is computed from."""

    code: str
    label: str
    unit: str
    formula: str
    inputs: tuple[str, ...]
    note: str = ""


INDICES: tuple[IndexSpec, ...] = (
    IndexSpec(
        code=PF,
        label="P/F",
        unit="mm[Hg]",
        formula="PaO2 / FiO2 (fraction)",
        inputs=(PAO2, FIO2),
        note="from entered blood gases; FiO2 from the ventilator at the gas's time",
    ),
    IndexSpec(
        code=OI,
        label="OI",
        unit="1",
        formula="FiO2 (fraction) × mean airway pressure × 100 / PaO2",
        inputs=(FIO2, PMEAN, PAO2),
        note="from entered blood gases; FiO2 and mean airway pressure at the gas's time",
    ),
    IndexSpec(
        code=OSI,
        label="OSI",
        unit="1",
        formula="FiO2 (fraction) × mean airway pressure × 100 / SpO2",
        inputs=(FIO2, PMEAN, SPO2),
        note="OI's continuous surrogate, SpO2 for PaO2",
    ),
    IndexSpec(
        code=SF,
        label="S/F",
        unit="1",
        formula="SpO2 / FiO2 (fraction), only when SpO2 ≤ 97 %",
        inputs=(SPO2, FIO2),
        note="a continuous surrogate of P/F; meaningless above SpO2 97 % (flat curve)",
    ),
    IndexSpec(
        code=DP,
        label="ΔP",
        unit="cm[H2O]",
        formula="plateau pressure − PEEP",
        inputs=(PPLAT, PEEP),
    ),
    IndexSpec(
        code=CSTAT,
        label="Cstat",
        unit="mL/cm[H2O]",
        formula="tidal volume / (plateau pressure − PEEP)",
        inputs=(VTE, PPLAT, PEEP),
    ),
)

INDEX_BY_CODE: dict[str, IndexSpec] = {i.code: i for i in INDICES}


def _num(x: float | None) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fio2_fraction(fio2_pct: float | None) -> float | None:
    """FiO2 in % (21–100) as a fraction (0.21–1.0); None outside that range."""
    v = _num(fio2_pct)
    if v is None or not FIO2_MIN_PCT <= v <= FIO2_MAX_PCT:
        return None
    return v / 100.0


def pf_ratio(pao2_mmhg: float | None, fio2_pct: float | None) -> float | None:
    """PaO2/FiO2 in mmHg: PaO2 (mmHg) over FiO2 as a fraction."""
    pao2, f = _num(pao2_mmhg), fio2_fraction(fio2_pct)
    if pao2 is None or f is None or pao2 <= 0:
        return None
    return pao2 / f


def oxygenation_index(
    fio2_pct: float | None, mean_paw_cmh2o: float | None, pao2_mmhg: float | None
) -> float | None:
    """Oxygenation index: FiO2 (fraction) × mean airway pressure (cmH2O) × 100 / PaO2 (mmHg)."""
    f, paw, pao2 = fio2_fraction(fio2_pct), _num(mean_paw_cmh2o), _num(pao2_mmhg)
    if f is None or paw is None or pao2 is None or paw <= 0 or pao2 <= 0:
        return None
    return f * paw * 100.0 / pao2


def oxygen_saturation_index(
    fio2_pct: float | None, mean_paw_cmh2o: float | None, spo2_pct: float | None
) -> float | None:
    """Oxygen saturation index: FiO2 (fraction) × mean airway pressure × 100 / SpO2 (%)."""
    f, paw, spo2 = fio2_fraction(fio2_pct), _num(mean_paw_cmh2o), _num(spo2_pct)
    if f is None or paw is None or spo2 is None or paw <= 0 or not 0 < spo2 <= 100:
        return None
    return f * paw * 100.0 / spo2


def sf_ratio(spo2_pct: float | None, fio2_pct: float | None) -> float | None:
    """SpO2/FiO2 (FiO2 as a fraction); None when SpO2 is above 97 % (where it means nothing)."""
    spo2, f = _num(spo2_pct), fio2_fraction(fio2_pct)
    if spo2 is None or f is None or not 0 < spo2 <= SF_SPO2_MAX_PCT:
        return None
    return spo2 / f


def driving_pressure(plateau_cmh2o: float | None, peep_cmh2o: float | None) -> float | None:
    """Plateau pressure − PEEP (cmH2O); None unless positive (a plateau at or below PEEP is
    not a measured inspiratory hold: a spontaneous breath or a missing manoeuvre)."""
    pplat, peep = _num(plateau_cmh2o), _num(peep_cmh2o)
    if pplat is None or peep is None or peep < 0:
        return None
    dp = pplat - peep
    return dp if dp > 0 else None


def static_compliance(
    tidal_volume_ml: float | None, plateau_cmh2o: float | None, peep_cmh2o: float | None
) -> float | None:
    """Static compliance of the respiratory system, mL/cmH2O: tidal volume / driving pressure."""
    vt, dp = _num(tidal_volume_ml), driving_pressure(plateau_cmh2o, peep_cmh2o)
    if vt is None or dp is None or vt <= 0:
        return None
    return vt / dp


def compute(code: str, values: dict[str, float | None]) -> float | None:
    """The index `code` from a dict of input values by parameter code (missing → None)."""
    g = values.get
    if code == PF:
        return pf_ratio(g(PAO2), g(FIO2))
    if code == OI:
        return oxygenation_index(g(FIO2), g(PMEAN), g(PAO2))
    if code == OSI:
        return oxygen_saturation_index(g(FIO2), g(PMEAN), g(SPO2))
    if code == SF:
        return sf_ratio(g(SPO2), g(FIO2))
    if code == DP:
        return driving_pressure(g(PPLAT), g(PEEP))
    if code == CSTAT:
        return static_compliance(g(VTE), g(PPLAT), g(PEEP))
    raise KeyError(code)
