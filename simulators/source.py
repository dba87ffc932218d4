"""What a device simulator reads from the simulated patient.

Every protocol server (pump, ventilator, monitor, HL7 sender) reads the same `VitalsSource`,
so a scenario changes all devices of a bed coherently. `simulators.patient.PatientModel`
is the physiological implementation; `FixedVitals` is a settable one for tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class VitalsSource(Protocol):
    """The simulated patient as the devices see it, now."""

    def vitals(self) -> Mapping[str, float]:
        """Current values by vocabulary code (core.params), in the canonical unit.

        A code that is absent is not measured (sensor off / not present).
        """
        ...

    def rhythm_alarms(self) -> Sequence[str]:
        """Active rhythm alarms as DESIGN.md names them: "VT", "VF", "asystole", "AF", ..."""
        ...


@dataclass
class FixedVitals:
    """A `VitalsSource` whose values tests set directly."""

    values: dict[str, float] = field(default_factory=dict)
    rhythms: list[str] = field(default_factory=list)

    def vitals(self) -> Mapping[str, float]:
        return dict(self.values)

    def rhythm_alarms(self) -> Sequence[str]:
        return list(self.rhythms)


DEFAULT_ADULT_ARDS: dict[str, float] = {
    "MDC_PULS_OXIM_SAT_O2": 93.0,
    "MDC_PULS_OXIM_PULS_RATE": 96.0,
    "MDC_ECG_HEART_RATE": 96.0,
    "MDC_PRESS_BLD_ART_SYS": 118.0,
    "MDC_PRESS_BLD_ART_DIA": 62.0,
    "MDC_PRESS_BLD_ART_MEAN": 80.0,
    "MDC_PRESS_BLD_NONINV_SYS": 116.0,
    "MDC_PRESS_BLD_NONINV_DIA": 60.0,
    "MDC_PRESS_BLD_NONINV_MEAN": 78.0,
    "MDC_TEMP_BLD": 37.2,
    "MDC_RESP_RATE": 24.0,
    "MDC_VENT_RESP_RATE": 24.0,
    "MDC_AWAY_CO2_ET": 42.0,
    "MDC_VENT_CONC_AWAY_O2_INSP": 60.0,
    "MDC_PRESS_AWAY_END_EXP_POS": 12.0,
    "MDC_PRESS_AWAY_INSP_PEAK": 30.0,
    "MDC_PRESS_RESP_PLAT": 25.0,
    "MDC_PRESS_AWAY_MEAN": 17.0,
    "MDC_VOL_AWAY_TIDAL_EXP": 420.0,
    "MDC_VOL_MINUTE_AWAY_EXP": 10.1,
}
"""A plausible moderate-ARDS adult on protective ventilation (P/F ≈ 130 at FiO2 0.6)."""
