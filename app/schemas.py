"""Pydantic models of the REST API: what requests may carry, and what responses look like.

Requests forbid unknown fields, so a typo is a 422 with its reason rather than a silently
ignored value. Response models document the dicts of `app.live.views` (times in UTC, `Z`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from app.store.rows import Arm, Role
from core.errors import UnitError
from core.params import VASOPRESSOR_CODES
from core.units import to_canonical
from core.vocabulary import EVENTS, event_fields_problem
from monitors.trial.enrolment import GasUnit, check_pao2, gas_to_mmhg


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC)


UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A timezone-aware time, normalised to UTC (rendered with a `Z`)."""

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


class In(BaseModel):
    """A request body: unknown fields, NaN and ±inf are refused (422 with the reason)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _vocab(event: str, name: str) -> Any:
    """A `Field` holding an event field's physical range from the vocabulary (one copy)."""
    f = EVENTS[event].fields[name]
    return Field(ge=f.low, le=f.high)


WeightKg = Annotated[float, _vocab("infusion_start", "weight_kg")]
VolumeMl = Annotated[float, _vocab("infusion_start", "volume_ml")]
PlannedMin = Annotated[float, _vocab("infusion_start", "planned_min")]
Ph = Annotated[float, _vocab("blood_gas", "ph")]

MIN_SPAN_HOURS = 0.25
MAX_SPAN_HOURS = 72.0
SpanHours = Annotated[
    float,
    Query(ge=MIN_SPAN_HOURS, le=MAX_SPAN_HOURS, description="the span, 15 min to 72 h"),
]
"""How far back a trend or index query looks (finite, 15 min to 72 h)."""


# -- auth and users ---------------------------------------------------------------------------
class LoginIn(In):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    username: str
    role: Role
    expires_at: UtcTime


class UserIn(In):
    username: Name
    role: Role
    password: Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]


class UnlockIn(In):
    """Whose login lockout to lift: an account, a client address, or both."""

    username: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    address: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _one(self) -> UnlockIn:
        if self.username is None and self.address is None:
            raise ValueError("give a username or an address")
        return self


class UnlockOut(BaseModel):
    was_locked: bool


class UserOut(BaseModel):
    username: str
    role: Role
    disabled: bool = False


class AuditOut(BaseModel):
    id: int
    t: UtcTime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


# -- patients and infusions -------------------------------------------------------------------
class PatientIn(In):
    study_id: Name
    bed: Annotated[str, Field(min_length=1, max_length=64)]
    weight_kg: WeightKg
    arm: Arm
    ards_onset: UtcTime | None = None
    age_years: Annotated[int, Field(ge=0, le=129)] | None = None


class PatientOut(BaseModel):
    study_id: str
    bed: str | None
    weight_kg: float
    arm: Arm
    ards_onset: UtcTime | None
    age_years: int | None = None


class InfusionStartIn(In):
    weight_kg: WeightKg | None = Field(
        default=None, description="Defaults to the enrolled patient's weight."
    )
    volume_ml: VolumeMl
    planned_min: PlannedMin
    t: UtcTime | None = Field(default=None, description="Start time; now when omitted.")
    override_reason: Annotated[str, Field(min_length=5, max_length=500)] | None = Field(
        default=None,
        description="Start although the record is ineligible or incomplete (audited).",
    )


class InfusionStopIn(In):
    t: UtcTime | None = Field(default=None, description="End time; now when omitted.")


class InfusionOut(BaseModel):
    state: Literal["running", "paused", "stopped", "complete"] | None = Field(
        default=None, description="what the infusion is doing (stopped: a pump alarm is open)"
    )
    state_reason: str | None = Field(default=None, description="stopped: the pump alarm's kind")
    started_at: UtcTime
    ended_at: UtcTime | None
    planned_min: float | None
    volume_ml: float | None
    weight_kg: float | None = None
    volume_infused_ml: float | None
    rate_ml_h: float | None
    planned_rate_ml_h: float | None = None
    progress: float | None = Field(description="0–1, from the pump's volume, else elapsed time")
    progress_source: Literal["pump", "time"] | None
    window_end: UtcTime = Field(description="started_at + 24 h: the end of the IAE window")
    window_6h_end: UtcTime | None = Field(
        default=None, description="started_at + 6 h: where most protocol IAEs stop counting"
    )
    source: str | None = None
    start_time_source: Literal["pump", "seen_at_reconnect"] | None = Field(
        default=None, description="whose time started_at is: the pump's own, or seen at reconnect"
    )
    start_uncertainty_s: float | None = Field(
        default=None, description="seen at reconnect: the start lies up to this much earlier"
    )


# -- clinician entries ------------------------------------------------------------------------
class _EventIn(In):
    t: UtcTime | None = Field(default=None, description="When it happened; now when omitted.")
    note: Annotated[str, Field(max_length=500)] | None = None


class ClinicalSignIn(_EventIn):
    event: Literal["clinical_sign"]
    # the vocabulary's signs (core.vocabulary.SIGNS), so every sign a rule reads can be entered
    sign: Literal[
        "urticaria",
        "wheeze",
        "bronchospasm",
        "rigors",
        "rash",
        "angioedema",
        "flushing",
        "pruritus",
    ]


class PlainEventIn(_EventIn):
    event: Literal["cardioversion", "cardiac_arrest", "death", "extubation"]


class VasopressorStatusIn(_EventIn):
    """A nurse's confirmed pre-infusion vasopressors: `none`, or one running drug with its
    dose and unit (one entry per drug). Without it, a drug first seen after infusion start
    cannot tell an increase (issue 13)."""

    event: Literal["vasopressor_status"]
    status: Literal["none", "running"]
    drug: str | None = None
    dose: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    unit: str | None = None

    @model_validator(mode="after")
    def _drug_and_dose(self) -> VasopressorStatusIn:
        if self.status == "none":
            return self
        code = VASOPRESSOR_CODES.get((self.drug or "").lower())
        if code is None:
            raise ValueError(f"drug must be one of: {', '.join(VASOPRESSOR_CODES)}")
        if self.dose is None or self.unit is None:
            raise ValueError("a running vasopressor needs its dose and unit")
        try:
            to_canonical(code, self.dose, self.unit, weight_kg=1.0)
        except UnitError as exc:
            raise ValueError(f"unit {self.unit!r}: {exc}") from None
        return self


class BloodGasIn(_EventIn):
    """A gas as the analyser prints it: PaO2 and PaCO2 in `unit` (mmHg or kPa), converted
    exactly to mmHg (`core.units`) for the rules; the typed values stay in the event."""

    event: Literal["blood_gas"]
    unit: GasUnit | None = Field(default=None, description="mmHg or kPa: needed with a pressure")
    pao2: Annotated[float, Field(gt=0)] | None = None
    paco2: Annotated[float, Field(gt=0)] | None = None
    ph: Ph | None = None

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        if isinstance(data, dict) and {"pao2_mmhg", "paco2_mmhg"} & data.keys():
            raise ValueError("give pao2 and paco2 with their unit (mmHg or kPa), not *_mmhg")
        return data

    @model_validator(mode="after")
    def _checked(self) -> BloodGasIn:
        if self.pao2 is None and self.paco2 is None and self.ph is None:
            raise ValueError("a blood gas needs at least one of pao2, paco2, ph")
        if (self.pao2 is not None or self.paco2 is not None) and self.unit is None:
            raise ValueError("pao2 and paco2 need their unit: mmHg or kPa")
        converted = self.converted()
        problem = event_fields_problem("blood_gas", converted)
        if problem is not None:
            raise ValueError(f"{problem} (converted from {self.unit})")
        if "pao2_mmhg" in converted:
            check_pao2(converted["pao2_mmhg"])
        return self

    def converted(self) -> dict[str, float]:
        """The values in the vocabulary's units (PaO2 and PaCO2 in mmHg)."""
        out = {}
        for name, value in (("pao2_mmhg", self.pao2), ("paco2_mmhg", self.paco2)):
            if value is not None and self.unit is not None:
                out[name] = gas_to_mmhg(value, self.unit)
        if self.ph is not None:
            out["ph"] = self.ph
        return out

    def event_fields(self) -> dict[str, Any]:
        """The `blood_gas` event's fields: the converted values, and what was typed
        (`pao2_entered`, `paco2_entered` in `entered_unit`)."""
        out: dict[str, Any] = dict(self.converted())
        typed = (("pao2_entered", self.pao2), ("paco2_entered", self.paco2))
        out |= {k: v for k, v in typed if v is not None}
        if self.unit is not None and (self.pao2 is not None or self.paco2 is not None):
            out["entered_unit"] = self.unit.value
        return out


class DoseIn(In):
    """A vasopressor dose read off a pump that is not networked, entered by a nurse: it stands
    in the rules for the dose such a pump would report (issue 13)."""

    drug: str = Field(description="norepinephrine, epinephrine, vasopressin, ... (the vocabulary)")
    dose: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
    unit: str = Field(description="e.g. ug/min, ug/kg/min, U/min, mg/h")
    t: UtcTime | None = Field(default=None, description="When it was read; now when omitted.")
    note: Annotated[str, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _known_drug(self) -> DoseIn:
        if (self.drug or "").lower() not in VASOPRESSOR_CODES:
            raise ValueError(f"drug must be one of: {', '.join(VASOPRESSOR_CODES)}")
        return self


EventIn = Annotated[
    ClinicalSignIn | PlainEventIn | BloodGasIn | VasopressorStatusIn, Field(discriminator="event")
]


class EventOut(BaseModel):
    bed: str
    event: str
    t: UtcTime
    fields: dict[str, Any]
    source: str


# -- views ------------------------------------------------------------------------------------
class ValueOut(BaseModel):
    value: float | None
    unit: str
    t: UtcTime
    status: str = "valid"


class AlertOut(BaseModel):
    id: str
    seq: int | None
    bed: str
    category: str
    iae: bool
    rule: str
    priority: Literal["high", "medium", "low"]
    phase: str
    state: Literal["active", "acknowledged", "resolved"]
    onset: UtcTime
    t: UtcTime
    message: str
    evidence: dict[str, Any]
    acked_by: str | None
    acked_at: UtcTime | None
    ended_at: UtcTime | None


class DeviceOut(BaseModel):
    bed: str
    device_id: str
    kind: str
    protocol: str
    address: str
    state: str
    since: UtcTime | None
    last_frame: UtcTime | None
    frames: int
    bad_frames: int
    reconnects: int
    last_error: str | None
    identification: dict[str, str]
    stale: bool = False
    stale_after_s: float | None = None
    presence: str | None = None
    """connected, stale (connected but quiet), offline or connecting (app.live.views.presence)"""
    presence_since: UtcTime | None = None


class BedPatientOut(BaseModel):
    """A bed's patient as every station sees it: blinded, no trial arm."""

    study_id: str
    weight_kg: float
    ards_onset: UtcTime | None = None
    age_years: int | None = None


class AlertSummaryOut(BaseModel):
    count: int
    highest_priority: Literal["high", "medium", "low"] | None


class BedOut(BaseModel):
    bed: str
    label: str | None
    patient: BedPatientOut | None
    infusion: InfusionOut | None
    latest: dict[str, ValueOut]
    alert: AlertSummaryOut
    devices: list[DeviceOut]


class SeriesOut(BaseModel):
    unit: str | None
    points: list[tuple[UtcTime, float]]


class TrendsOut(BaseModel):
    bed: str
    since: UtcTime
    until: UtcTime
    series: dict[str, SeriesOut]


class HealthOut(BaseModel):
    status: str
    detail: str | None = None
