"""The state of one simulated infusion pump, shared by the Modbus server and scenarios.

Scenarios change it (start, stop, occlusion, air in line, titration); `advance` moves the
volume infused forward on the simulator's clock; the pump simulator serves it as registers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.vocabulary import PUMP_ALARM_KINDS, STOPPING_PUMP_ALARMS

PumpRole = Literal["study", "vasopressor"]


@dataclass
class PumpState:
    """One pump: programme, progress, alarms."""

    role: PumpRole = "study"
    drug: str | None = None  # lower-case INN for vasopressors ("norepinephrine"), None = saline
    concentration_ug_ml: float | None = None
    rate_ml_h: float = 0.0
    vtbi_ml: float = 0.0
    volume_infused_ml: float = 0.0
    running: bool = False
    alarms: set[str] = field(default_factory=set)

    def start(self, *, rate_ml_h: float, vtbi_ml: float | None = None) -> None:
        """Programme and start; refused (nothing changes) while a stopping alarm stands, as a
        real pump refuses to start occluded, with air in its line or its door open."""
        if self.alarms & STOPPING_PUMP_ALARMS:
            return
        self.rate_ml_h = rate_ml_h
        if vtbi_ml is not None:
            self.vtbi_ml = vtbi_ml
        self.alarms.discard("end_of_infusion")
        self.running = True

    def stop(self) -> None:
        self.running = False

    def raise_alarm(self, kind: str) -> None:
        """An alarm stops the pump, as a real pump's occlusion or air-in-line alarm does."""
        if kind not in PUMP_ALARM_KINDS:
            raise ValueError(f"unknown pump alarm {kind!r}")
        self.alarms.add(kind)
        if kind in STOPPING_PUMP_ALARMS:
            self.running = False

    def clear_alarm(self, kind: str) -> None:
        self.alarms.discard(kind)

    @property
    def delivering(self) -> bool:
        return self.running and not self.alarms & STOPPING_PUMP_ALARMS

    def advance(self, seconds: float) -> None:
        """Move the infusion forward; reaching the VTBI ends it with an end-of-infusion alarm."""
        if not self.delivering or seconds <= 0:
            return
        self.volume_infused_ml += self.rate_ml_h * seconds / 3600.0
        if self.vtbi_ml > 0 and self.volume_infused_ml >= self.vtbi_ml:
            self.volume_infused_ml = self.vtbi_ml
            self.running = False
            self.alarms.add("end_of_infusion")

    def dose(self, weight_kg: float | None) -> tuple[float, str] | None:
        """The vasopressor dose this pump delivers, in ug/min (None for a non-drug pump)."""
        if self.drug is None or self.concentration_ug_ml is None:
            return None
        rate = self.rate_ml_h if self.delivering else 0.0
        return rate * self.concentration_ug_ml / 60.0, "ug/min"
