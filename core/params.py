"""The parameter vocabulary: IEEE 11073-10101 reference ids as codes, UCUM units.

Codes the standard lacks carry the prefix `IAEW_`. `mdc` is the numeric MDC code
(partition × 65536 + term) only where two public sources agree (../shared/PROTOCOLS.md §3);
it is `None` where they disagree, and the HL7 export then leaves the number out.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Parameter:
    """One measured quantity: its code, canonical UCUM unit, label and plausible range."""

    code: str
    unit: str
    label: str
    low: float
    high: float
    mdc: int | None = None

    def plausible(self, value: float) -> bool:
        """True when `value` (in the canonical unit) is physically possible for a patient."""
        return self.low <= value <= self.high


_PARAMS: tuple[Parameter, ...] = (
    Parameter(code="MDC_PULS_OXIM_SAT_O2", unit="%", label="SpO2", low=0, high=100, mdc=150456),
    Parameter(
        code="MDC_PULS_OXIM_PULS_RATE", unit="/min", label="Pulse", low=0, high=350, mdc=149530
    ),
    Parameter(code="MDC_ECG_HEART_RATE", unit="/min", label="HR", low=0, high=350, mdc=147842),
    Parameter(code="MDC_PRESS_BLD_ART_SYS", unit="mm[Hg]", label="ART sys", low=0, high=350),
    Parameter(code="MDC_PRESS_BLD_ART_DIA", unit="mm[Hg]", label="ART dia", low=0, high=300),
    Parameter(code="MDC_PRESS_BLD_ART_MEAN", unit="mm[Hg]", label="ART mean", low=0, high=300),
    Parameter(
        code="MDC_PRESS_BLD_NONINV_SYS", unit="mm[Hg]", label="NBP sys", low=0, high=350, mdc=150021
    ),
    Parameter(
        code="MDC_PRESS_BLD_NONINV_DIA", unit="mm[Hg]", label="NBP dia", low=0, high=300, mdc=150022
    ),
    Parameter(
        code="MDC_PRESS_BLD_NONINV_MEAN",
        unit="mm[Hg]",
        label="NBP mean",
        low=0,
        high=300,
        mdc=150023,
    ),
    Parameter(code="MDC_TEMP_BLD", unit="Cel", label="T blood", low=20, high=45),
    Parameter(code="MDC_TEMP", unit="Cel", label="Temp", low=20, high=45, mdc=150344),
    Parameter(code="MDC_RESP_RATE", unit="/min", label="RR", low=0, high=150),
    Parameter(code="MDC_VENT_RESP_RATE", unit="/min", label="RR vent", low=0, high=150),
    Parameter(code="MDC_AWAY_CO2_ET", unit="mm[Hg]", label="EtCO2", low=0, high=150),
    Parameter(code="MDC_VENT_CONC_AWAY_O2_INSP", unit="%", label="FiO2", low=15, high=100),
    Parameter(code="MDC_PRESS_AWAY_END_EXP_POS", unit="cm[H2O]", label="PEEP", low=0, high=50),
    Parameter(code="MDC_PRESS_AWAY_INSP_PEAK", unit="cm[H2O]", label="Ppeak", low=0, high=120),
    Parameter(code="MDC_PRESS_RESP_PLAT", unit="cm[H2O]", label="Pplat", low=0, high=100),
    Parameter(code="MDC_PRESS_AWAY_MEAN", unit="cm[H2O]", label="Pmean", low=0, high=80),
    Parameter(code="MDC_VOL_AWAY_TIDAL_EXP", unit="mL", label="VTe", low=0, high=3000),
    Parameter(code="MDC_VOL_MINUTE_AWAY_EXP", unit="L/min", label="MVe", low=0, high=60),
    Parameter(code="MDC_FLOW_FLUID_PUMP", unit="mL/h", label="Rate", low=0, high=2000),
    Parameter(code="MDC_VOL_FLUID_DELIV", unit="mL", label="Infused", low=0, high=10000),
    Parameter(code="MDC_VOL_FLUID_TBI", unit="mL", label="VTBI", low=0, high=10000),
    Parameter(code="MDC_CONC_PO2_ART", unit="mm[Hg]", label="PaO2", low=0, high=800),
    Parameter(code="IAEW_DOSE_NOREPINEPHRINE", unit="ug/min", label="Norepi", low=0, high=500),
    Parameter(code="IAEW_DOSE_PHENYLEPHRINE", unit="ug/min", label="Phenyl", low=0, high=2000),
    Parameter(code="IAEW_DOSE_DOPAMINE", unit="ug/kg/min", label="Dopa", low=0, high=50),
    Parameter(code="IAEW_DOSE_EPINEPHRINE", unit="ug/kg/min", label="Epi", low=0, high=5),
    Parameter(code="IAEW_DOSE_VASOPRESSIN", unit="U/min", label="Vaso", low=0, high=1),
    Parameter(code="IAEW_DOSE_METARAMINOL", unit="ug/min", label="Metaram", low=0, high=2000),
    Parameter(code="IAEW_DOSE_TERLIPRESSIN", unit="ug/min", label="Terli", low=0, high=50),
    Parameter(code="IAEW_DOSE_PITUITRIN", unit="U/min", label="Pituitrin", low=0, high=1),
)

PARAMETERS: dict[str, Parameter] = {p.code: p for p in _PARAMS}

VASOPRESSOR_CODES: dict[str, str] = {
    "norepinephrine": "IAEW_DOSE_NOREPINEPHRINE",
    "phenylephrine": "IAEW_DOSE_PHENYLEPHRINE",
    "dopamine": "IAEW_DOSE_DOPAMINE",
    "epinephrine": "IAEW_DOSE_EPINEPHRINE",
    "vasopressin": "IAEW_DOSE_VASOPRESSIN",
    # common in Chinese ICUs; they count toward "a third vasopressor"
    "metaraminol": "IAEW_DOSE_METARAMINOL",
    "terlipressin": "IAEW_DOSE_TERLIPRESSIN",
    "pituitrin": "IAEW_DOSE_PITUITRIN",  # 垂体后叶素, posterior pituitary extract
}
"""Drug name (lower case, INN) → the dose code it is reported under."""


def parameter(code: str) -> Parameter | None:
    """The parameter for `code`, or None for a code outside the vocabulary (kept, not ruled on)."""
    return PARAMETERS.get(code)
