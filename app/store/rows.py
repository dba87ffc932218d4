"""What the store hands out: frozen rows, never ORM objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """What a user may do (`app.auth`): nurses acknowledge and enter signs, coordinators
    enter trial data, investigators adjudicate and sign, engineers wire devices, admins
    manage users."""

    NURSE = "nurse"
    COORDINATOR = "coordinator"
    INVESTIGATOR = "investigator"
    ENGINEER = "engineer"
    ADMIN = "admin"


class Arm(StrEnum):
    """The trial arm (kept blinded as `unknown` when the site does not know it)."""

    CELLS = "cells"
    SALINE = "saline"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientRow:
    """A pseudonymous trial patient; `bed` is where they are, or were until `discharged_at`."""

    study_id: str
    bed: str | None
    weight_kg: float
    arm: Arm
    ards_onset: datetime | None
    age_years: int | None
    enrolled_at: datetime
    discharged_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InfusionRow:
    """One infusion: its order (weight, volume, planned minutes) and its record (start, end)."""

    id: int
    bed: str
    study_id: str | None
    started_at: datetime
    ended_at: datetime | None
    weight_kg: float | None
    volume_ml: float | None
    planned_min: float | None
    source: str
    # how sure the start time is: "pump" (the pump's own time) or "seen_at_reconnect" (the
    # true start lies within [started_at - start_uncertainty_s, started_at]); None: seen live
    start_uncertainty_s: float | None = None
    start_time_source: str | None = None

    @property
    def running(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True, slots=True, kw_only=True)
class BedRow:
    """A configured bed with its current patient and infusion (either may be None)."""

    bed: str
    label: str | None
    patient: PatientRow | None
    infusion: InfusionRow | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceRow:
    """A device wired to a bed and its last known connection state."""

    bed: str
    device_id: str
    kind: str
    protocol: str
    address: str
    state: str | None
    state_since: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceConnectionRow:
    """One change of a device's connection (connected, disconnected, stale, ...)."""

    bed: str
    device_id: str
    state: str
    t: datetime
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRow:
    """An account. The hash is argon2 (`app.security`)."""

    username: str
    role: Role
    password_hash: str
    created_at: datetime
    disabled: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRow:
    """One audited action: who did what to what, when."""

    id: int
    t: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any] = field(default_factory=dict)
