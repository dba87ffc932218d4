"""Parameters the engine computes from others (codes prefixed `IAEW_`, like our other codes).

A derived sample is made when its trigger parameter arrives and its partner has a usable
sample no older than the partner's freshness; it is unusable when either input is.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.params import Parameter


@dataclass(frozen=True, slots=True, kw_only=True)
class Derived:
    """`code` = f(`a`, `b`); computed when one of `triggers` arrives."""

    param: Parameter
    a: str
    b: str
    op: str  # "ratio_pct": a / (b / 100); "diff": a - b
    triggers: tuple[str, ...]

    @property
    def code(self) -> str:
        return self.param.code

    def compute(self, a: float, b: float) -> float | None:
        if self.op == "ratio_pct":
            return a / (b / 100.0) if b > 0 else None
        return a - b


SPO2, FIO2, PAO2 = "MDC_PULS_OXIM_SAT_O2", "MDC_VENT_CONC_AWAY_O2_INSP", "MDC_CONC_PO2_ART"
PPLAT, PEEP = "MDC_PRESS_RESP_PLAT", "MDC_PRESS_AWAY_END_EXP_POS"

DERIVED: dict[str, Derived] = {
    d.code: d
    for d in (
        # SpO2/FiO2 (FiO2 as a fraction): the bedside stand-in for P/F (Vlaar 2019 uses both).
        Derived(
            param=Parameter(code="IAEW_SF_RATIO", unit="1", label="S/F", low=0, high=700),
            a=SPO2,
            b=FIO2,
            op="ratio_pct",
            triggers=(SPO2, FIO2),
        ),
        # P/F only when a blood gas arrives: a FiO2 change alone makes no new PaO2.
        Derived(
            param=Parameter(code="IAEW_PF_RATIO", unit="mm[Hg]", label="P/F", low=0, high=800),
            a=PAO2,
            b=FIO2,
            op="ratio_pct",
            triggers=(PAO2,),
        ),
        # Driving pressure = plateau - PEEP (Amato 2015).
        Derived(
            param=Parameter(
                code="IAEW_DRIVING_PRESSURE", unit="cm[H2O]", label="ΔP", low=-20, high=100
            ),
            a=PPLAT,
            b=PEEP,
            op="diff",
            triggers=(PPLAT, PEEP),
        ),
    )
}
