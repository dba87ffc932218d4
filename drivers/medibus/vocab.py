"""MEDIBUS measured-data codes → iaewatch's vocabulary (core.params), as data. No I/O.

Each entry names the codepage and data code, the parameter it reports, the unit the ventilator
sends it in, and a `rank`: when several codes report the same parameter (end-tidal CO2 in
mmHg / kPa / %, tidal volume in codepage 1 and expired tidal volume in codepage 2), the lowest
rank the device has sent wins and the others are dropped.

Airway pressures arrive in mbar and are converted to cm[H2O] exactly (`core.units.convert`,
1 mbar = 1.01972 cm[H2O]) rather than taken as equal. End-tidal CO2 in % of ambient pressure
(`DB`) becomes a partial pressure only when the same response carries the ambient pressure
(`6B`, mbar); without it the % value is not used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.params import parameter
from core.units import convert
from drivers.medibus.layouts import DataItem


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasuredCode:
    """One measured-data code of one codepage and the parameter it reports."""

    codepage: int
    code: int
    param: str  # core.params code
    unit: str  # the unit on the wire (UCUM)
    decimals: int  # resolution the simulator sends
    label: str  # the name public sources give the code
    rank: int = 0
    pattern: str = ""  # the value's Dräger format (XEN medibusParams.json), "" if unknown

    def __post_init__(self) -> None:
        p = parameter(self.param)
        if p is None:
            raise ValueError(f"{self.param} is not in core.params")

    @property
    def canonical_unit(self) -> str:
        p = parameter(self.param)
        assert p is not None
        return p.unit


# Sources: OICE types/measured-data-cp1.map and -cp2.map (codes, units); XEN medibusParams.json
# and PROTOCOLS.md §1 (formats); VSC MedibusXMeasurementCP1/CP2 enums (names).
MEASURED: tuple[MeasuredCode, ...] = (
    MeasuredCode(
        codepage=1, code=0xF0, param="MDC_VENT_CONC_AWAY_O2_INSP", unit="%", decimals=0,
        label="inspiratory O2", pattern="XXX_",
    ),
    MeasuredCode(
        codepage=1, code=0x78, param="MDC_PRESS_AWAY_END_EXP_POS", unit="mbar", decimals=0,
        label="PEEP", pattern="*_XX_",
    ),
    MeasuredCode(
        codepage=1, code=0x7D, param="MDC_PRESS_AWAY_INSP_PEAK", unit="mbar", decimals=0,
        label="peak airway pressure", pattern="*_XX_",
    ),
    MeasuredCode(
        codepage=1, code=0x74, param="MDC_PRESS_RESP_PLAT", unit="mbar", decimals=0,
        label="plateau pressure", pattern="*_XX_",
    ),
    MeasuredCode(
        codepage=1, code=0x73, param="MDC_PRESS_AWAY_MEAN", unit="mbar", decimals=0,
        label="mean airway pressure", pattern="*_XX_",
    ),
    MeasuredCode(
        codepage=1, code=0x88, param="MDC_VOL_AWAY_TIDAL_EXP", unit="mL", decimals=0,
        label="tidal volume", rank=1, pattern="XXXX",
    ),
    MeasuredCode(
        codepage=1, code=0xB9, param="MDC_VOL_MINUTE_AWAY_EXP", unit="L/min", decimals=1,
        label="minute volume", pattern="XX.X",
    ),
    MeasuredCode(
        codepage=1, code=0xD6, param="MDC_VENT_RESP_RATE", unit="/min", decimals=0,
        label="respiratory rate", pattern="XX__",
    ),
    # An Evita reports the rate three ways; D6 is read first, D9 (derived) and D5 (from the
    # CO2 curve) stand in when it is absent (XEN medibusParams.json: format XX__)
    MeasuredCode(
        codepage=1, code=0xD9, param="MDC_VENT_RESP_RATE", unit="/min", decimals=0,
        label="respiratory rate (derived)", rank=1, pattern="XX__",
    ),
    MeasuredCode(
        codepage=1, code=0xD5, param="MDC_VENT_RESP_RATE", unit="/min", decimals=0,
        label="respiratory rate (CO2)", rank=2, pattern="XX__",
    ),
    MeasuredCode(
        codepage=1, code=0xE6, param="MDC_AWAY_CO2_ET", unit="mm[Hg]", decimals=0,
        label="end-tidal CO2 (mmHg)", pattern="XX__",
    ),
    MeasuredCode(
        codepage=1, code=0xE3, param="MDC_AWAY_CO2_ET", unit="kPa", decimals=1,
        label="end-tidal CO2 (kPa)", rank=1, pattern="XX.X",
    ),
    MeasuredCode(
        codepage=1, code=0xDB, param="MDC_AWAY_CO2_ET", unit="%", decimals=1,
        label="end-tidal CO2 (%)", rank=2, pattern="XX.X",
    ),
    MeasuredCode(
        codepage=2, code=0x21, param="MDC_VOL_AWAY_TIDAL_EXP", unit="mL", decimals=0,
        label="expired tidal volume",
    ),
)  # fmt: skip

PATTERNS: Mapping[int, Mapping[int, str]] = {
    page: {m.code: m.pattern for m in MEASURED if m.codepage == page and m.pattern}
    for page in {m.codepage for m in MEASURED}
}
"""Per codepage, each code's Dräger value format (for writing)."""

BY_CODE: Mapping[tuple[int, int], MeasuredCode] = {(m.codepage, m.code): m for m in MEASURED}

AMBIENT_PRESSURE = (1, 0x6B)  # codepage 1 "ambient pressure", mbar (OICE measured-data-cp1.map)
_CO2_PERCENT = (1, 0xDB)


@dataclass(frozen=True, slots=True)
class Reading:
    """One value for our vocabulary: parameter, value in its canonical unit (None: no value)."""

    param: str
    value: float | None
    unit: str
    rank: int
    source: MeasuredCode


def readings(codepage: int, items: Iterable[DataItem]) -> list[Reading]:
    """The vocabulary values in one measured-data response; unknown codes are left out."""
    items = list(items)
    ambient_mbar = next((i.value for i in items if (codepage, i.code) == AMBIENT_PRESSURE), None)
    out = []
    for item in items:
        entry = BY_CODE.get((codepage, item.code))
        if entry is None:
            continue
        value = item.value
        if value is not None:
            if (entry.codepage, entry.code) == _CO2_PERCENT:
                if ambient_mbar is None:
                    continue
                # partial pressure = fraction × ambient pressure; mbar → kPa is ÷ 10 exactly
                value = convert(value / 100.0 * ambient_mbar / 10.0, "kPa", entry.canonical_unit)
            else:
                value = convert(value, entry.unit, entry.canonical_unit)
        out.append(Reading(entry.param, value, entry.canonical_unit, entry.rank, entry))
    return out
