"""Every scenario action, declared once: its arguments and what it does (docs/scenarios.md).

`ACTIONS` is the one table. The loader (`simulators.scenario`) checks a timeline step
against its action's `Arg`s, and the runner (`simulators.runner`) calls its `apply`. Adding
an action is one `Action(...)` entry here, plus its line in docs/scenarios.md.

An action that logs an event by name declares it (`event`), and it is checked against
`core.vocabulary` when this table is built; the `event` action, whose event the scenario
names, is checked when the file is loaded, with file, line and field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from core.check import Checker, join
from core.model import EventSource
from core.params import PARAMETERS, VASOPRESSOR_CODES
from core.vocabulary import (
    EVENTS,
    PUMP_ALARM_KINDS,
    EventSpec,
    event_field,
    event_spec,
    suggest,
)
from core.yamlfile import Marked
from simulators.faults import Faults
from simulators.patient import PatientModel
from simulators.physiology import RHYTHMS, rate_for_dose
from simulators.pump_state import PumpState
from simulators.scenario_types import DEVICES, PumpSpec, Step, parse_offset

Args = Mapping[str, Any]
Conv = Callable[[Checker, Any, int, str], Any]
"""Checks and converts one YAML value: (checker, value, line, field) → value."""


# ---------------------------------------------------------------------------- argument kinds


def offset(c: Checker, value: Any, line: int, field: str) -> float:
    """A scenario time (`+45m`, `-30m`, `90s`, seconds)."""
    try:
        return parse_offset(value)
    except ValueError as exc:
        c.fail(str(exc), line, field)


def duration(c: Checker, value: Any, line: int, field: str) -> float:
    """A duration in the time notation, not negative."""
    seconds = offset(c, value, line, field)
    if seconds < 0:
        c.fail("a duration cannot be negative", line, field)
    return seconds


def number(lo: float, hi: float) -> Conv:
    """A finite number in [lo, hi]."""
    return lambda c, v, line, f: c.number(v, line, f, minimum=lo, maximum=hi)


def one_of(values: Iterable[str]) -> Conv:
    """One of `values`, with a near miss suggested."""
    options = tuple(values)
    return lambda c, v, line, f: c.choice(v, line, f, options)


def _code(c: Checker, value: Any, line: int, field: str) -> str:
    name = c.text(value, line, field)
    if name not in PARAMETERS:
        c.fail(f"not a parameter code of core.params{suggest(name, PARAMETERS)}", line, field)
    return name


def _event_name(c: Checker, value: Any, line: int, field: str) -> str:
    return c.event(value, line, field).name


RATE = number(0, 2000)  # mL/h
DOSE = number(0, 1e4)  # the drug's clinical unit
PUMP: Conv = Checker.text  # a pump name; whether it exists is checked along the timeline


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of an action: its name, kind, and whether required or its default."""

    name: str
    kind: Conv
    required: bool = False
    default: Any = None  # used when absent (None: absent stays absent)


# ---------------------------------------------------------------------------- the table


@dataclass(slots=True)
class Target:
    """What steps act on: one bed's patient, its scenario pumps and its links' faults."""

    model: PatientModel
    pumps: Mapping[str, PumpSpec]
    faults: MutableMapping[str, Faults]


PumpUse = Literal["study", "any", "new"]
"""How an action's `pump` refers to the bed's pumps at that point of the timeline: an
existing pump without a drug (`study`), any existing one (`any`; a `dose` needs a drug), or
a name not yet used (`new`)."""

Check = Callable[[Checker, dict[str, Any], Marked, str], None]


@dataclass(frozen=True, slots=True)
class Action:
    """One timeline action: its arguments (`args`) and its behaviour (`apply`)."""

    name: str
    args: tuple[Arg, ...]
    apply: Callable[[Target, Args], None]
    event: str | None = None  # the event it logs, by name (core.vocabulary)
    fields: tuple[str, ...] = ()  # its args that are fields of that event
    one_of: tuple[str, ...] = ()  # exactly one of these args is given
    pump: PumpUse | None = None
    check: Check | None = None  # checks across arguments, after each is checked

    def __post_init__(self) -> None:
        where = f"simulators/actions.py: action {self.name}"
        if self.event is not None:
            spec = event_spec(self.event, file=where, field="event")
            for name in self.fields:
                event_field(spec, name, file=where, field=name)

    def parse(self, c: Checker, entry: Marked, here: str) -> dict[str, Any]:
        """The step's arguments, checked (unknown keys are refused by the caller)."""
        args: dict[str, Any] = {}
        for arg in self.args:
            if arg.name in entry:
                field = join(here, arg.name)
                args[arg.name] = arg.kind(c, entry[arg.name], entry.line_of(arg.name), field)
            elif arg.default is not None:
                args[arg.name] = arg.default
        if self.one_of and sum(name in entry for name in self.one_of) != 1:
            c.fail(
                f"give exactly one of {' or '.join(self.one_of)}",
                entry.line,
                join(here, self.one_of[0]),
            )
        if self.check is not None:
            self.check(c, args, entry, here)
        return args


def _infusion_start(s: Target, a: Args) -> None:
    pump, spec = s.model.pump(a["pump"]), s.pumps.get(a["pump"])
    rate = a.get("rate", spec.rate_ml_h if spec else pump.rate_ml_h)
    vtbi = a.get("vtbi", spec.volume_ml if spec else pump.vtbi_ml)
    s.model.start_infusion(a["pump"], rate_ml_h=rate, vtbi_ml=vtbi)


def _titrate(s: Target, a: Args) -> None:
    if "dose" in a:
        s.model.set_dose(a["pump"], a["dose"])
    else:
        s.model.set_rate(a["pump"], a["rate"])


def _add_vasopressor(s: Target, a: Args) -> None:
    drug, conc = a["drug"], a["concentration"]
    rate = a["rate"] if "rate" in a else rate_for_dose(drug, a["dose"], conc, s.model.weight_kg)
    pump = PumpState(role="vasopressor", drug=drug, concentration_ug_ml=conc)
    pump.start(rate_ml_h=rate)
    s.model.add_pump(a["pump"], pump)


def _plug(unplugged: bool) -> Callable[[Target, Args], None]:
    """Set or clear a link's `Faults.drop`; the driver would see the link go down or up."""

    def apply(s: Target, a: Args) -> None:
        faults = s.faults.setdefault(a["device"], Faults())
        if faults.drop == unplugged:
            return
        faults.drop = unplugged
        event = "device_disconnected" if unplugged else "device_connected"
        fields = {"reason": "unplugged"} if unplugged else {}
        s.model.log(event, fields, device=a["device"], source=EventSource.DRIVER)

    return apply


def _clinician_rhythm(event: str) -> Callable[[Target, Args], None]:
    """A clinician entry `event`, then the rhythm becomes the step's `rhythm`."""

    def apply(s: Target, a: Args) -> None:
        s.model.clinician(event)
        s.model.set_rhythm(a["rhythm"])

    return apply


def _death(s: Target, a: Args) -> None:
    s.model.die()
    s.model.clinician("death")


def _blood_gas(s: Target, a: Args) -> None:
    gas = s.model.blood_gas()
    gas.update(a)
    s.model.clinician("blood_gas", gas)


def _event(s: Target, a: Args) -> None:
    source = EventSource(a["source"])
    s.model.log(a["event"], a.get("fields", {}), device=a.get("device"), source=source)


def _check_spike(c: Checker, a: dict[str, Any], entry: Marked, here: str) -> None:
    param = PARAMETERS[a["code"]]
    if not param.low <= a["to"] <= param.high:
        where = join(here, "to")
        c.fail(f"outside {param.low:g}–{param.high:g} {param.unit}", entry.line_of("to"), where)


def _check_event(c: Checker, a: dict[str, Any], entry: Marked, here: str) -> None:
    """The event's source may send it; each field is declared, of its type and values."""
    spec = EVENTS[a["event"]]
    source = EventSource(a["source"])
    if source not in spec.sources:
        sent_by = ", ".join(sorted(s.value for s in spec.sources))
        line = entry.line_of("source") if "source" in entry else entry.line_of("event")
        c.fail(f"a {source.value} does not send {spec.name!r} (sent by: {sent_by})", line,
               join(here, "source"))  # fmt: skip
    if source is EventSource.DEVICE and "device" not in a:
        c.fail("a device event names its device (monitor, pump:study, ...)", entry.line,
               join(here, "device"))  # fmt: skip
    raw = a.get("fields")
    if raw is not None:
        a["fields"] = _event_fields(c, spec, raw, join(here, "fields"))


def _event_fields(c: Checker, spec: EventSpec, raw: Marked, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in raw.items():
        line, field = raw.line_of(name), join(path, name)
        declared = c.event_field(spec, name, line, field)
        if declared.type == "number":
            out[name] = c.number(value, line, field, minimum=None)
        elif declared.type == "text":
            out[name] = c.text(value, line, field)
            if declared.values:
                c.choice(out[name], line, field, declared.values)
        elif declared.type == "bool":
            out[name] = c.boolean(value, line, field)
        elif declared.type == "list":
            out[name] = list(c.seq(value, line, field))
        else:
            out[name] = value
    return out


_STUDY_PUMP = Arg("pump", PUMP, default="study")
_SIGNS = EVENTS["clinical_sign"].fields["sign"].values

_TABLE = (
    Action("infusion_start", (_STUDY_PUMP, Arg("rate", RATE), Arg("vtbi", number(1, 5000))),
           _infusion_start, event="infusion_start", pump="study"),
    Action("infusion_stop", (_STUDY_PUMP,), lambda s, a: s.model.stop_infusion(a["pump"]),
           event="infusion_end", pump="study"),
    Action("fever", (Arg("to", number(30, 43), True), Arg("over", duration, default=1200.0)),
           lambda s, a: s.model.fever(a["to"], a["over"])),
    Action("hypotension",
           (Arg("to", number(20, 250), True), Arg("over", duration, default=600.0)),
           lambda s, a: s.model.hypotension(a["to"], a["over"])),
    Action("desaturation",
           (Arg("to", number(40, 100), True), Arg("over", duration, default=300.0)),
           lambda s, a: s.model.desaturation(a["to"], a["over"])),
    Action("heart_rate", (Arg("to", number(0, 300), True), Arg("over", duration, default=300.0)),
           lambda s, a: s.model.heart_rate(a["to"], a["over"])),
    Action("fio2", (Arg("set", number(21, 100), True), Arg("over", duration, default=0.0)),
           lambda s, a: s.model.set_fio2(a["set"], a["over"])),
    Action("peep", (Arg("set", number(0, 30), True), Arg("over", duration, default=0.0)),
           lambda s, a: s.model.set_peep(a["set"], a["over"])),
    Action("resp_rate", (Arg("set", number(4, 60), True),),
           lambda s, a: s.model.set_ventilation(rate=a["set"])),
    Action("tidal_volume", (Arg("set", number(100, 1500), True),),
           lambda s, a: s.model.set_ventilation(tidal_ml=a["set"])),
    Action("airway_pressure",
           (Arg("peak", number(5, 100), True), Arg("over", duration, default=120.0),
            Arg("cause", one_of(("resistance", "compliance")), default="resistance")),
           lambda s, a: s.model.airway_pressure(a["peak"], a["over"], a["cause"])),
    Action("embolism",
           (Arg("severity", number(0, 1), default=1.0), Arg("over", duration, default=60.0)),
           lambda s, a: s.model.embolism(a["severity"], a["over"])),
    Action("rhythm", (Arg("rhythm", one_of(RHYTHMS), True), Arg("rate", number(0, 300))),
           lambda s, a: s.model.set_rhythm(a["rhythm"], a.get("rate")), event="arrhythmia"),
    Action("occlusion", (_STUDY_PUMP,), lambda s, a: s.model.pump_alarm(a["pump"], "occlusion"),
           event="pump_alarm", pump="any"),
    Action("air_in_line", (_STUDY_PUMP,),
           lambda s, a: s.model.pump_alarm(a["pump"], "air_in_line"),
           event="pump_alarm", pump="any"),
    Action("clear_alarm",
           (Arg("kind", one_of(PUMP_ALARM_KINDS), default="occlusion"), _STUDY_PUMP,
            Arg("resume", Checker.boolean, default=True)),
           lambda s, a: s.model.clear_pump_alarm(a["pump"], a["kind"], resume=a["resume"]),
           pump="any"),
    Action("titrate", (Arg("pump", PUMP, True), Arg("rate", RATE), Arg("dose", DOSE)),
           _titrate, one_of=("rate", "dose"), pump="any"),
    Action("add_vasopressor",
           (Arg("pump", PUMP, True), Arg("drug", one_of(VASOPRESSOR_CODES), True),
            Arg("concentration", number(1e-6, 1e6), True), Arg("rate", RATE), Arg("dose", DOSE)),
           _add_vasopressor, event="vasopressor_added", one_of=("rate", "dose"), pump="new"),
    Action("unplug", (Arg("device", one_of(DEVICES), True),), _plug(True),
           event="device_disconnected"),
    Action("replug", (Arg("device", one_of(DEVICES), True),), _plug(False),
           event="device_connected"),
    Action("spike",
           (Arg("code", _code, True), Arg("to", number(-1e9, 1e9), True),
            Arg("for", duration, default=10.0)),
           lambda s, a: s.model.spike(a["code"], a["to"], a["for"]), check=_check_spike),
    Action("clinical_sign", (Arg("sign", one_of(_SIGNS), True),),
           lambda s, a: s.model.clinician("clinical_sign", {"sign": a["sign"]}),
           event="clinical_sign", fields=("sign",)),
    Action("cardioversion", (Arg("rhythm", one_of(RHYTHMS), default="sinus"),),
           _clinician_rhythm("cardioversion"), event="cardioversion"),
    Action("cardiac_arrest", (Arg("rhythm", one_of(("VF", "VT", "asystole")), default="VF"),),
           _clinician_rhythm("cardiac_arrest"), event="cardiac_arrest"),
    Action("death", (), _death, event="death"),
    Action("blood_gas",
           (Arg("pao2_mmhg", number(10, 700)), Arg("paco2_mmhg", number(10, 200)),
            Arg("ph", number(6.5, 8.0))),
           _blood_gas, event="blood_gas", fields=("pao2_mmhg", "paco2_mmhg", "ph")),
    Action("event",
           (Arg("event", _event_name, True), Arg("fields", Checker.mapping),
            Arg("source", one_of(("clinician", "device")), default="clinician"),
            Arg("device", Checker.text)),
           _event, check=_check_event),
)  # fmt: skip

ACTIONS: Mapping[str, Action] = {a.name: a for a in _TABLE}
"""Every timeline action by name."""

STEP_KEYS = ("at", "do", "note")
"""The keys of every step besides its action's arguments."""


# ---------------------------------------------------------------------------- one step


def parse_step(c: Checker, entry: Marked, here: str) -> Step:
    """One timeline step `{at, do, note, <arguments>}`, checked against its action."""
    if "do" not in entry:
        c.fail("is required: the action", entry.line, join(here, "do"))
    name, line = entry["do"], entry.line_of("do")
    if not isinstance(name, str) or name not in ACTIONS:
        near = suggest(name, ACTIONS) if isinstance(name, str) else ""
        c.fail(f"unknown action {name!r}{near} (actions: {', '.join(sorted(ACTIONS))})", line,
               join(here, "do"))  # fmt: skip
    action = ACTIONS[name]
    required = ["at", *(a.name for a in action.args if a.required)]
    c.keys(entry, here, [*STEP_KEYS, *(a.name for a in action.args)], required)
    at = offset(c, entry["at"], entry.line_of("at"), join(here, "at"))
    note = c.get(entry, "note", here, c.text)
    args = action.parse(c, entry, here)
    return Step(at=at, action=name, args=args, line=entry.line, note=note)


def check_pumps(c: Checker, step: Step, known: dict[str, PumpSpec], here: str) -> None:
    """The step's pump exists (or, for a new one, does not yet) at that point of the
    timeline; `known` is the bed's pumps so far and gains the new ones."""
    use = ACTIONS[step.action].pump
    name = step.args.get("pump")
    if use is None or name is None:
        return
    where, line = join(here, "pump"), step.line
    if use == "new":
        if name in known:
            c.fail(f"pump {name!r} exists already", line, where)
        a = step.args
        known[name] = PumpSpec(name=name, drug=a["drug"], concentration=a["concentration"])
        return
    if name not in known:
        c.fail(f"no pump {name!r}{suggest(name, known)} (pumps: {', '.join(known) or 'none'})",
               line, where)  # fmt: skip
    drug = known[name].drug
    if use == "study" and drug is not None:
        c.fail(f"pump {name!r} is a drug pump; use titrate", line, where)
    if "dose" in step.args and drug is None:
        c.fail(f"pump {name!r} carries no drug; titrate it by rate", line, where)
