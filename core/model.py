"""Value types every part shares: `Observation`, `DeviceEvent`, `Alert`.

Frozen, slotted, keyword-only dataclasses that validate on construction, so an invalid one
cannot exist. Times are timezone-aware. "No value" is `None` with a status, never 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


def _require_aware(t: datetime, what: str) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {t!r}")


class ValueStatus(StrEnum):
    """Whether a numeric value can be used."""

    VALID = "valid"
    QUESTIONABLE = "questionable"  # measured but flagged by the device; rules ignore it
    UNAVAILABLE = "unavailable"  # no value (sensor off, NaN, not measured)


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One measured value of one parameter at one bed, in the parameter's canonical unit."""

    t: datetime
    bed: str
    code: str
    value: float | None
    unit: str
    device: str | None = None
    status: ValueStatus = ValueStatus.VALID

    def __post_init__(self) -> None:
        _require_aware(self.t, "Observation.t")
        if not self.bed:
            raise ValueError("Observation.bed is empty")
        if not self.code:
            raise ValueError("Observation.code is empty")
        if self.value is None:
            if self.status is ValueStatus.VALID:
                raise ValueError("an Observation without a value cannot be valid")
        elif not math.isfinite(self.value):
            raise ValueError(f"Observation.value is not finite: {self.value!r}")

    @property
    def usable(self) -> bool:
        """True when rules may use the value."""
        return self.value is not None and self.status is ValueStatus.VALID


class EventSource(StrEnum):
    DEVICE = "device"
    CLINICIAN = "clinician"
    DRIVER = "driver"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceEvent:
    """Something that happened, rather than a value: from a device, a driver or a clinician."""

    t: datetime
    bed: str
    event: str
    fields: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    source: EventSource = EventSource.DEVICE

    def __post_init__(self) -> None:
        _require_aware(self.t, "DeviceEvent.t")
        if not self.bed:
            raise ValueError("DeviceEvent.bed is empty")
        if not self.event:
            raise ValueError("DeviceEvent.event is empty")


class Priority(StrEnum):
    """Alarm priority as IEC 60601-1-8 grades alarm conditions."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return {"high": 3, "medium": 2, "low": 1}[self.value]


class AlertState(StrEnum):
    """active → acknowledged → resolved; a resolved, unacknowledged alert latches."""

    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Phase(StrEnum):
    """Which transition of an alert episode a message carries."""

    START = "start"
    UPDATE = "update"
    END = "end"
    ESCALATE = "escalate"
    ACK = "ack"


class Category(StrEnum):
    """Alert categories (DESIGN.md). `iae` tells the protocol's IAEs from early warnings."""

    VASOPRESSOR_ESCALATION = "vasopressor_escalation"
    ARRHYTHMIA = "arrhythmia"
    VENTILATORY_ESCALATION = "ventilatory_escalation"
    TRANSFUSION_REACTION = "transfusion_reaction"
    CARDIAC_ARREST = "cardiac_arrest"
    DEATH = "death"
    FEVER = "fever"
    HYPOTENSION = "hypotension"
    HYPERTENSION = "hypertension"
    HYPOXEMIA = "hypoxemia"
    TACHYCARDIA = "tachycardia"
    BRADYCARDIA = "bradycardia"
    AIRWAY_PRESSURE_RISE = "airway_pressure_rise"
    INFUSION_PROBLEM = "infusion_problem"
    EMBOLISM_PATTERN = "embolism_pattern"
    TECHNICAL = "technical"

    @property
    def iae(self) -> bool:
        return self in _IAE_CATEGORIES


_IAE_CATEGORIES = frozenset(
    {
        Category.VASOPRESSOR_ESCALATION,
        Category.ARRHYTHMIA,
        Category.VENTILATORY_ESCALATION,
        Category.TRANSFUSION_REACTION,
        Category.CARDIAC_ARREST,
        Category.DEATH,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One transition of one alert episode.

    `id` is stable across the episode; `seq` is the server's monotonically increasing number
    for this transition, assigned when it is committed (None before).
    """

    id: str
    bed: str
    category: Category
    rule: str
    priority: Priority
    phase: Phase
    state: AlertState
    onset: datetime
    t: datetime
    message: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    iae: bool | None = None
    seq: int | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    ended_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.onset, "Alert.onset")
        _require_aware(self.t, "Alert.t")
        if self.iae is None:
            object.__setattr__(self, "iae", self.category.iae)
        if self.t < self.onset:
            raise ValueError("Alert.t is before its onset")


Message = Observation | DeviceEvent
"""What travels on the bus: what devices and clinicians say. Alerts do not: they are committed
and pushed by the service that raises them, and acknowledgements reach the engine there."""
