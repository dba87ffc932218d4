"""The vocabulary as code: every event name with its fields, every alert category, every
protocol and every role (DESIGN.md "Vocabulary").

Loaders (rule sets, scenarios, the ICU config) validate against this registry, so a typo such
as `pump_alrm` is an error naming file, line and field instead of a rule that never fires.
Records on the wire stay open: an event may carry fields not declared here (a device's
identification, say); they are kept and ignored by the rules.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from core.errors import ConfigError
from core.model import Category, EventSource

FieldType = Literal["number", "text", "bool", "list", "any"]
DeviceKind = Literal["pump", "ventilator", "monitor"]

_D, _C, _R = EventSource.DEVICE, EventSource.CLINICIAN, EventSource.DRIVER


@dataclass(frozen=True, slots=True)
class EventField:
    """One field of an event: its JSON type and, for closed vocabularies, its values."""

    name: str
    type: FieldType
    doc: str = ""
    values: tuple[str, ...] = ()  # non-empty: the known values (others are kept, not judged)
    low: float | None = None  # numbers: the physically possible range (inclusive)
    high: float | None = None

    def problem(self, value: object) -> str | None:
        """Why `value` cannot be this field's value (wrong JSON type, NaN, ±inf, out of its
        range), or None. `any` takes any JSON value; None is always allowed."""
        if value is None or self.type == "any":
            return None
        if self.type == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"{self.name} must be a number"
            try:
                number = float(value)
            except OverflowError:
                return f"{self.name} is out of range"
            if not math.isfinite(number):
                return f"{self.name} must be a finite number"
            if self.low is not None and number < self.low:
                return f"{self.name} must be ≥ {self.low:g}, got {number:g}"
            if self.high is not None and number > self.high:
                return f"{self.name} must be ≤ {self.high:g}, got {number:g}"
            return None
        expected: dict[str, type | tuple[type, ...]] = {
            "text": str,
            "bool": bool,
            "list": list,
        }
        if not isinstance(value, expected[self.type]):
            return f"{self.name} must be {_TYPE_TEXT[self.type]}"
        return None


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event name: what it means, who sends it and the fields it carries."""

    name: str
    doc: str
    sources: frozenset[EventSource]
    fields: Mapping[str, EventField] = field(default_factory=dict)


def _event(name: str, doc: str, sources: Iterable[EventSource], *fields: EventField) -> EventSpec:
    return EventSpec(name, doc, frozenset(sources), MappingProxyType({f.name: f for f in fields}))


_TYPE_TEXT = {
    "text": "text",
    "bool": "true or false",
    "list": "a list",
}

_DEVICE = EventField("device", "text", "the device the event is about")
_REASON = EventField("reason", "text", "why (an error text, a status alarm)")
PUMP_ALARM_KINDS = ("occlusion", "air_in_line", "door_open", "end_of_infusion", "low_battery")
STOPPING_PUMP_ALARMS = frozenset({"occlusion", "air_in_line", "door_open"})
"""The pump alarms that stop delivery: a pump will not run (or start) while one stands."""
RHYTHMS = ("VT", "VF", "asystole", "AF", "SVT", "brady")
SIGNS = (
    "urticaria",
    "wheeze",
    "bronchospasm",
    "rigors",
    "rash",
    "angioedema",
    "flushing",
    "pruritus",
)

EVENTS: Mapping[str, EventSpec] = MappingProxyType(
    {
        e.name: e
        for e in (
            _event(
                "infusion_start",
                "the study infusion started (study pump or entered)",
                (_D, _C),
                EventField(
                    "weight_kg", "number", "patient weight for per-kg doses", low=0.5, high=400
                ),
                EventField("volume_ml", "number", "volume to be infused", low=1, high=5000),
                EventField("planned_min", "number", "planned duration", low=1, high=24 * 60),
                EventField("rate_ml_h", "number", "the pump's programmed rate", low=0, high=2000),
                EventField("arm", "text", "trial arm"),
                EventField("time_source", "text", "whose time `t` is", ("pump",)),
                EventField("seen_at_reconnect", "bool", "started while the pump link was down"),
                EventField("gap_s", "number", "that link outage: the start lies within it", low=0),
            ),
            _event(
                "infusion_end",
                "the study infusion ended; the engine adds duration and volume checks",
                (_D, _C),
                EventField(
                    "volume_infused_ml", "number", "the pump's volume counter", low=0, high=10000
                ),
                EventField("duration_min", "number", "added by the engine: start to end"),
                EventField("volume_delivered_ml", "number", "added by the engine"),
                EventField("volume_off_pct", "number", "added by the engine: off the order"),
            ),
            _event(
                "pump_alarm",
                "a pump's alarm began",
                (_D,),
                EventField("kind", "text", "the alarm", PUMP_ALARM_KINDS),
            ),
            _event(
                "pump_alarm_cleared",
                "a pump's alarm ended",
                (_D,),
                EventField("kind", "text", "the alarm", PUMP_ALARM_KINDS),
            ),
            _event(
                "pump_program",
                "the study pump's programme or run state changed",
                (_D,),
                EventField("state", "text", "running, paused, stopped, alarm, completed"),
                EventField("rate_ml_h", "number"),
                EventField("vtbi_ml", "number"),
                EventField("volume_infused_ml", "number"),
            ),
            _event(
                "vasopressor_added",
                "a vasopressor was started (entered, or a pump's drug)",
                (_D, _C),
                EventField("drug", "text", "norepinephrine, epinephrine, ..."),
                EventField("code", "text", "the dose parameter code"),
            ),
            _event(
                "arrhythmia",
                "a monitor's arrhythmia alarm, or an entered rhythm",
                (_D, _C),
                EventField("rhythm", "text", "the rhythm", RHYTHMS),
                EventField("sustained", "bool", "false for a non-sustained run"),
                EventField(
                    "present_before_infusion",
                    "bool",
                    "added by the engine: this rhythm was reported before infusion start",
                ),
                EventField("alarm", "text", "the central station's alarm name (HL7)"),
                EventField("code", "number", "the monitor's alarm code (IntelliVue)"),
                EventField("priority", "any", "the monitor's alarm priority"),
                EventField("text", "text", "the monitor's alarm text"),
                EventField("source", "any", "where the alarm came from"),
            ),
            _event(
                "arrhythmia_watch_off",
                "the monitor stopped (active) or resumed watching lethal arrhythmias",
                (_D,),
                EventField("active", "bool"),
                _REASON,
            ),
            _event("cardioversion", "a cardioversion or defibrillation", (_C, _D)),
            _event("extubation", "the patient was extubated: no ventilator data expected", (_C,)),
            _event(
                "vasopressor_status",
                "a nurse's confirmed pre-infusion vasopressors: none, or a drug and its dose",
                (_C,),
                EventField("status", "text", "none or running", ("none", "running")),
                EventField("drug", "text", "norepinephrine, metaraminol, ..."),
                EventField("dose", "number", "the dose running at infusion start"),
                EventField("unit", "text", "the dose's unit (ug/min, ug/kg/min, U/min, ...)"),
            ),
            _event(
                "clinical_sign",
                "a sign a clinician saw",
                (_C,),
                EventField("sign", "text", "the sign", SIGNS),
                EventField("note", "text"),
            ),
            _event("cardiac_arrest", "cardiac arrest", (_C,)),
            _event("death", "death", (_C,)),
            _event(
                "blood_gas",
                "an arterial blood gas (entered or from the lab)",
                (_C, _D),
                EventField("pao2_mmhg", "number", low=0, high=800),
                EventField("paco2_mmhg", "number", low=0, high=250),
                EventField("ph", "number", low=6.3, high=8.0),
                EventField("fio2_pct", "number", low=15, high=100),
            ),
            _event(
                "device_connected",
                "a driver's link came up (identification fields follow)",
                (_R,),
                _DEVICE,
                EventField("protocol", "text"),
                _REASON,
            ),
            _event(
                "device_disconnected",
                "a driver's link went down",
                (_R,),
                _DEVICE,
                _REASON,
            ),
            _event(
                "device_stale",
                "a connected device sent no valid data for its stale time",
                (_R,),
                _DEVICE,
                _REASON,
                EventField("seconds", "number"),
                EventField("silent_s", "number"),
            ),
            _event(
                "device_identified",
                "a new sender appeared on a shared link (HL7)",
                (_R,),
                _DEVICE,
                EventField("peer", "text"),
            ),
            _event(
                "device_sender_rejected",
                "an HL7 sender this bed does not take data from was answered AR",
                (_R,),
                _DEVICE,
                _REASON,
                EventField("peer", "text"),
                EventField("sending_application", "text"),
                EventField("sending_facility", "text"),
            ),
            _event(
                "device_demo_mode",
                "a device sends demo or test data (HL7 MSH-11 T/D, OBX-8 DEMO): none of it is used",
                (_D,),
                _DEVICE,
                _REASON,
                EventField("active", "bool", "true while its data are demo or test data"),
            ),
            _event(
                "device_code_conflict",
                "a device's code and name for a value disagree: the value is kept apart, unused",
                (_D,),
                _DEVICE,
                _REASON,
                EventField("obx3", "text", "the HL7 observation identifier as sent"),
            ),
            _event(
                "device_alarm",
                "a device alarm that is not an arrhythmia (start or end)",
                (_D,),
                EventField("phase", "text", "start, update or end"),
                EventField("state", "text", "the alarm's state as the device reports it"),
                EventField("alarm", "text", "the central station's alarm name (HL7)"),
                EventField("mdc", "any", "the MDC event code (HL7)"),
                EventField("code", "any", "the device's alarm code"),
                EventField("source", "any", "the alarm's source object or system"),
                EventField("kind", "text", "patient or technical"),
                EventField("priority", "any"),
                EventField("text", "text"),
                EventField("name", "text", "our short name for a known alarm code"),
            ),
            _event(
                "ventilator_settings",
                "the ventilator's set values changed",
                (_D,),
                EventField("settings", "any"),
            ),
            _event(
                "ventilator_text",
                "the ventilator's text messages changed",
                (_D,),
                EventField("messages", "list"),
            ),
        )
    }
)
"""Every event name with a meaning to iaewatch. Others are kept and ignored by rules."""

CATEGORIES: tuple[Category, ...] = tuple(Category)
"""Every alert category; `Category.iae` tells the protocol's IAEs from early warnings."""


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """A device protocol iaewatch speaks."""

    name: str
    kind: DeviceKind
    serial: bool  # the address is a serial URL (else host:port)
    doc: str


PROTOCOLS: Mapping[str, ProtocolSpec] = MappingProxyType(
    {
        p.name: p
        for p in (
            ProtocolSpec("modbus-tcp", "pump", False, "pump gateway, Modbus TCP"),
            ProtocolSpec("modbus-rtu", "pump", True, "pump gateway, Modbus RTU"),
            ProtocolSpec(
                "hl7-pump", "pump", False, "pump server, HL7 over MLLP (IHE PCD-01, PCD-10 IPEC)"
            ),
            ProtocolSpec("medibus", "ventilator", True, "Dräger MEDIBUS (PROTOCOLS.md §1)"),
            ProtocolSpec("intellivue", "monitor", True, "Philips IntelliVue Data Export"),
            ProtocolSpec("hl7-mllp", "monitor", False, "HL7 v2 over MLLP (IHE PCD-01)"),
        )
    }
)
"""Every device protocol, with the kind of device it serves."""

ROLES: tuple[str, ...] = ("nurse", "coordinator", "investigator", "engineer", "admin")
"""User roles (DESIGN.md "Round 2")."""


def suggest(name: str, known: Iterable[str]) -> str:
    """' (did you mean X?)' for a near miss, else ''."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def event_spec(
    name: str, *, file: str | None = None, line: int | None = None, field: str | None = None
) -> EventSpec:
    """The spec of event `name`; an unknown name is a ConfigError naming where it was written."""
    spec = EVENTS.get(name)
    if spec is None:
        raise ConfigError(
            f"unknown event {name!r}{suggest(name, EVENTS)}", file=file, line=line, field=field
        )
    return spec


def event_fields_problem(name: str, fields: Mapping[str, object]) -> str | None:
    """Why the declared fields of event `name` cannot be used (see `EventField.problem`);
    undeclared fields and unknown events are not judged."""
    spec = EVENTS.get(name)
    if spec is None:
        return None
    for key, value in fields.items():
        f = spec.fields.get(key)
        problem = f.problem(value) if f is not None else None
        if problem is not None:
            return f"event {name!r}: {problem}"
    return None


def event_field(
    spec: EventSpec,
    name: str,
    *,
    file: str | None = None,
    line: int | None = None,
    field: str | None = None,
) -> EventField:
    """The declared field `name` of `spec`; an undeclared one is a ConfigError."""
    f = spec.fields.get(name)
    if f is None:
        known = ", ".join(spec.fields) or "none"
        raise ConfigError(
            f"event {spec.name!r} has no field {name!r}{suggest(name, spec.fields)} "
            f"(its fields: {known})",
            file=file,
            line=line,
            field=field,
        )
    return f
