"""Parameters the engine computes from others (codes prefixed `IAEW_`, like our other codes).

A derived sample is made when one of its trigger parameters arrives and every other input has
a usable sample no older than that input's freshness; it is unusable when an input is. The
formulas are the trial's indices (`monitors.trial.indices`, one copy of each).

Driving pressure and static compliance are mechanics of one inspiratory hold: a plateau is
paired only with the PEEP measured within `pair_s` of it, and a later PEEP change of
`pair_change` or more makes that plateau (and what was computed from it) stale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.params import Parameter
from monitors.trial import indices as ix


@dataclass(frozen=True, slots=True, kw_only=True)
class Derived:
    """`code` = fn(*inputs); computed when one of `triggers` arrives."""

    param: Parameter
    inputs: tuple[str, ...]
    fn: Callable[..., float | None]
    triggers: tuple[str, ...]
    pair_s: float | None = None  # the first two inputs: measured within this of each other
    pair_change: float = 2.0  # a change of the second input this large ends the pairing

    @property
    def code(self) -> str:
        return self.param.code


SPO2, FIO2, PAO2 = ix.SPO2, ix.FIO2, ix.PAO2
PPLAT, PEEP, PMEAN, VTE = ix.PPLAT, ix.PEEP, ix.PMEAN, ix.VTE
HOLD_PAIR_S = 30.0
"""A plateau and the PEEP of the same hold are reported within this many seconds."""


def _sf(spo2: float, fio2: float) -> float | None:
    # S/F over the whole SpO2 range: its rule watches a fall from the patient's own value
    return spo2 / (fio2 / 100.0) if fio2 > 0 else None


DERIVED: dict[str, Derived] = {
    d.code: d
    for d in (
        # SpO2/FiO2 (FiO2 as a fraction): the bedside stand-in for P/F (Vlaar 2019 uses both).
        Derived(
            param=Parameter(code=ix.SF, unit="1", label="S/F", low=0, high=700),
            inputs=(SPO2, FIO2),
            fn=_sf,
            triggers=(SPO2, FIO2),
        ),
        # P/F only when a blood gas arrives: a FiO2 change alone makes no new PaO2.
        Derived(
            param=Parameter(code=ix.PF, unit="mm[Hg]", label="P/F", low=0, high=800),
            inputs=(PAO2, FIO2),
            fn=ix.pf_ratio,
            triggers=(PAO2,),
        ),
        # OI (Western: FiO2 × Paw × 100 / PaO2) at each blood gas.
        Derived(
            param=Parameter(code=ix.OI, unit="1", label="OI", low=0, high=200),
            inputs=(PAO2, FIO2, PMEAN),
            fn=lambda pao2, fio2, paw: ix.oxygenation_index(fio2, paw, pao2),
            triggers=(PAO2,),
        ),
        # OSI (FiO2 % × Paw / SpO2): OI's continuous stand-in.
        Derived(
            param=Parameter(code=ix.OSI, unit="1", label="OSI", low=0, high=200),
            inputs=(SPO2, FIO2, PMEAN),
            fn=lambda spo2, fio2, paw: ix.oxygen_saturation_index(fio2, paw, spo2),
            triggers=(SPO2, FIO2, PMEAN),
        ),
        # Driving pressure = plateau - PEEP of the same hold (Amato 2015).
        Derived(
            param=Parameter(code=ix.DP, unit="cm[H2O]", label="ΔP", low=-20, high=100),
            inputs=(PPLAT, PEEP),
            fn=ix.driving_pressure,
            triggers=(PPLAT, PEEP),
            pair_s=HOLD_PAIR_S,
        ),
        # Static compliance = tidal volume / driving pressure of the same hold.
        Derived(
            param=Parameter(code=ix.CSTAT, unit="mL/cm[H2O]", label="Cstat", low=0, high=500),
            inputs=(PPLAT, PEEP, VTE),
            fn=lambda pplat, peep, vt: ix.static_compliance(vt, pplat, peep),
            triggers=(PPLAT, PEEP),
            pair_s=HOLD_PAIR_S,
        ),
    )
}
