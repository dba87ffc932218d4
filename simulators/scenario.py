"""Scenario timelines (YAML): what happens to a simulated patient, and when.

    name: fever
    description: Febrile reaction 30 min into the infusion.
    start: -30m                  # scenario begins 30 min before infusion start (≤ -30m)
    bed: ICU-1                   # single bed; or `beds:` a list of {bed, patient, pumps, timeline}
    patient: {weight_kg: 72, seed: 7, baseline: {MDC_TEMP_BLD: 37.0}}
    pumps:
      study: {volume_ml: 100, rate_ml_h: 133}
      norepi: {drug: norepinephrine, concentration: 64, dose: 4}
    timeline:
      - {at: 0, do: infusion_start}
      - {at: +30m, do: fever, to: 38.8, over: 20m}
    expect: [{category: fever, from: +40m, to: +1h}]
    forbid: [{category: arrhythmia, iae: true}, death]     # or `forbid: all`

Time 0 is the infusion-start reference; `at` is `+45m`, `-30m`, `+2h10m`, `90s` or a number
of seconds. `load_scenario` validates everything up front and raises `ConfigError` naming
the file, line and field; a loaded scenario cannot fail half-way through a run.
`ScenarioRunner` applies a bed's steps to a `PatientModel` as its clock passes their times.
docs/scenarios.md describes every action.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.clock import Clock
from core.errors import ConfigError
from core.model import Category
from core.params import PARAMETERS, VASOPRESSOR_CODES
from core.yamlfile import Marked, MarkedList, load_marked
from simulators.patient import RHYTHMS, PatientModel, rate_for_dose
from simulators.pump_state import PUMP_ALARMS, PumpState
from simulators.source import DEFAULT_ADULT_ARDS

SCENARIO_DIR = Path(__file__).parent / "scenarios"
DEVICES = ("pump", "ventilator", "monitor", "hl7")
CLINICAL_SIGNS = ("urticaria", "wheeze", "rigors", "rash", "angioedema")
MIN_BASELINE_S = 1800.0
DEFAULT_BED = "ICU-1"

_TIME_RE = re.compile(
    r"^(?P<sign>[+-])?\s*(?:(?P<h>\d+(?:\.\d+)?)h)?\s*(?:(?P<m>\d+(?:\.\d+)?)m(?:in)?)?"
    r"\s*(?:(?P<s>\d+(?:\.\d+)?)s)?$"
)


def parse_offset(value: Any) -> float:
    """`+2h10m`, `-30m`, `90s`, `1.5h` or a number → seconds (ValueError if malformed)."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"not a time: {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    text = value.strip()
    m = _TIME_RE.match(text)
    if not m or not any(m.group(g) for g in ("h", "m", "s")):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"not a time like +45m, -30m, +2h10m or 90s: {value!r}") from None
    seconds = sum(
        float(m.group(g)) * k for g, k in (("h", 3600.0), ("m", 60.0), ("s", 1.0)) if m.group(g)
    )
    return -seconds if m.group("sign") == "-" else seconds


def format_offset(seconds: float) -> str:
    """Seconds → `+1h05m30s` (the inverse of `parse_offset` for whole seconds)."""
    sign = "-" if seconds < 0 else "+"
    s = round(abs(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    out = sign + (f"{h}h" if h else "") + (f"{m:02d}m" if h or m else "")
    return out + (f"{sec:02d}s" if sec or not (h or m) else "")


# ---------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True, kw_only=True)
class PumpSpec:
    """One pump at scenario start: the study pump (no drug) or a running drug infusion."""

    name: str
    drug: str | None = None
    concentration: float | None = None  # ug/mL (U/mL for vasopressin)
    rate_ml_h: float = 0.0
    volume_ml: float = 0.0  # the study infusion's volume (its VTBI)

    def build(self, weight_kg: float) -> PumpState:
        if self.drug is None:
            return PumpState(role="study", rate_ml_h=self.rate_ml_h, vtbi_ml=self.volume_ml)
        return PumpState(
            role="vasopressor",
            drug=self.drug,
            concentration_ug_ml=self.concentration,
            rate_ml_h=self.rate_ml_h,
            running=self.rate_ml_h > 0,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One timeline entry: `action` with its validated `args`, at `at` s from infusion start."""

    at: float
    action: str
    args: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = None
    note: str | None = None

    def describe(self) -> str:
        args = " ".join(f"{k}={_show(v)}" for k, v in self.args.items())
        text = f"{format_offset(self.at)} {self.action}" + (f" {args}" if args else "")
        return text + (f"  # {self.note}" if self.note else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class BedScenario:
    """One bed's patient, pumps and timeline."""

    name: str
    weight_kg: float = 70.0
    seed: int = 1
    baseline: Mapping[str, float] = field(default_factory=dict)
    pumps: tuple[PumpSpec, ...] = ()
    timeline: tuple[Step, ...] = ()

    def build_model(self, clock: Clock) -> PatientModel:
        """A `PatientModel` at this bed's baseline with its initial pumps, starting now."""
        pumps = {p.name: p.build(self.weight_kg) for p in self.pumps}
        return PatientModel(
            clock,
            baseline={**DEFAULT_ADULT_ARDS, **self.baseline},
            seed=self.seed,
            weight_kg=self.weight_kg,
            pumps=pumps,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Expectation:
    """An alert (category; `iae` if it matters) with its onset window (s from infusion start).

    In `Scenario.forbid` the window is unused: no such alert may start at all.
    """

    category: str
    iae: bool | None = None
    earliest: float | None = None
    latest: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A validated scenario file."""

    name: str
    description: str = ""
    file: str | None = None
    start: float = -MIN_BASELINE_S  # scenario time of the first moment (≤ -30 min)
    beds: tuple[BedScenario, ...] = ()
    expect: tuple[Expectation, ...] = ()
    forbid: tuple[Expectation, ...] = ()  # alerts that must not start
    forbid_all: bool = False  # no alert at all, technical included

    def allows(self, category: str, iae: bool) -> bool:
        """Whether an alert of `category` (an IAE or not) may start in this scenario."""
        if self.forbid_all:
            return False
        return not any(
            f.category == category and (f.iae is None or f.iae == iae) for f in self.forbid
        )

    def bed(self, name: str | None = None) -> BedScenario:
        if name is None:
            if len(self.beds) != 1:
                raise ValueError(f"scenario {self.name!r} has {len(self.beds)} beds; name one")
            return self.beds[0]
        for b in self.beds:
            if b.name == name:
                return b
        raise KeyError(f"scenario {self.name!r} has no bed {name!r}")

    def for_beds(self, n: int) -> Scenario:
        """`n` beds named ICU-1..ICU-n, cycling this scenario's beds with distinct seeds."""
        if n < 1:
            raise ValueError("at least one bed")
        beds = tuple(
            replace(
                self.beds[i % len(self.beds)],
                name=f"ICU-{i + 1}",
                seed=self.beds[i % len(self.beds)].seed + 1000 * (i // len(self.beds)),
            )
            for i in range(n)
        )
        return replace(self, beds=beds)


@dataclass(slots=True)
class _Ctx:
    """Where we are in the file, for error messages."""

    file: str

    def error(self, msg: str, node: Any, fieldname: str, key: str | None = None) -> ConfigError:
        line = None
        if isinstance(node, Marked):
            line = node.line_of(key) if key is not None else node.line
        elif isinstance(node, MarkedList):
            line = node.line
        return ConfigError(msg, file=self.file, line=line, field=fieldname)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (ConfigError names file, line and field)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(p)) from None
    return parse_scenario(text, file=str(p))


def parse_scenario(text: str, *, file: str = "<scenario>") -> Scenario:
    """Validate scenario YAML text."""
    doc = load_marked(text, file=file)
    ctx = _Ctx(file)
    if not isinstance(doc, Marked):
        raise ConfigError("a scenario is a mapping (name, description, timeline, ...)", file=file)
    return _scenario(doc, ctx)


_TOP_KEYS = {
    "name",
    "description",
    "start",
    "bed",
    "patient",
    "pumps",
    "timeline",
    "beds",
    "expect",
    "forbid",
}
_BED_KEYS = {"bed", "patient", "pumps", "timeline"}


def _scenario(doc: Marked, ctx: _Ctx) -> Scenario:
    _no_unknown(doc, _TOP_KEYS, ctx, "")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ctx.error("required, a non-empty string", doc, "name", "name")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ctx.error("must be a string", doc, "description", "description")
    start = -MIN_BASELINE_S
    if "start" in doc:
        start = _offset(doc, "start", ctx, "start")
        if start > -MIN_BASELINE_S:
            raise ctx.error(
                "the baseline period before infusion start must be at least 30 min (start ≤ -30m)",
                doc,
                "start",
                "start",
            )
    limit = start if "start" in doc else -math.inf  # without `start`, steps set it
    if "beds" in doc:
        both = sorted(k for k in _BED_KEYS if k in doc)
        if both:
            raise ctx.error(f"use either 'beds' or top-level {both[0]!r}", doc, "beds", "beds")
        raw_beds = doc["beds"]
        if not isinstance(raw_beds, MarkedList) or not raw_beds:
            raise ctx.error("must be a non-empty list of beds", doc, "beds", "beds")
        beds = []
        for i, raw in enumerate(raw_beds):
            if not isinstance(raw, Marked):
                raise ctx.error("each bed is a mapping", raw_beds, f"beds[{i}]")
            _no_unknown(raw, _BED_KEYS, ctx, f"beds[{i}].")
            beds.append(_bed(raw, ctx, f"beds[{i}].", limit, default_name=f"ICU-{i + 1}"))
        names = [b.name for b in beds]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise ctx.error(f"bed {dup!r} appears twice", doc, "beds", "beds")
    else:
        beds = [_bed(doc, ctx, "", limit, default_name=DEFAULT_BED)]
    earliest = min((s.at for b in beds for s in b.timeline), default=0.0)
    if "start" not in doc and earliest < start:
        start = earliest
    if start > -MIN_BASELINE_S:
        start = -MIN_BASELINE_S
    forbid, forbid_all = _forbid(doc, ctx)
    return Scenario(
        name=name.strip(),
        description=description.strip(),
        file=ctx.file,
        start=start,
        beds=tuple(beds),
        expect=_expect(doc, ctx),
        forbid=forbid,
        forbid_all=forbid_all,
    )


def _bed(doc: Marked, ctx: _Ctx, prefix: str, start: float, *, default_name: str) -> BedScenario:
    name = doc.get("bed", default_name)
    if not isinstance(name, str) or not name.strip():
        raise ctx.error("must be a non-empty string", doc, prefix + "bed", "bed")
    weight, seed, baseline = 70.0, 1, {}
    patient = doc.get("patient", Marked())
    if not isinstance(patient, Marked):
        raise ctx.error("must be a mapping", doc, prefix + "patient", "patient")
    _no_unknown(patient, {"weight_kg", "seed", "baseline"}, ctx, prefix + "patient.")
    if "weight_kg" in patient:
        weight = _number(patient, "weight_kg", ctx, prefix + "patient.", lo=20, hi=300)
    if "seed" in patient:
        raw_seed = patient["seed"]
        if isinstance(raw_seed, bool) or not isinstance(raw_seed, int):
            raise ctx.error("must be an integer", patient, prefix + "patient.seed", "seed")
        seed = raw_seed
    if "baseline" in patient:
        baseline = _baseline(patient["baseline"], ctx, prefix + "patient.baseline", patient)
    pumps = _pumps(doc.get("pumps"), ctx, prefix + "pumps", doc, weight)
    timeline = _timeline(doc, ctx, prefix, start, {p.name: p for p in pumps})
    return BedScenario(
        name=name.strip(),
        weight_kg=weight,
        seed=seed,
        baseline=baseline,
        pumps=pumps,
        timeline=timeline,
    )


def _baseline(raw: Any, ctx: _Ctx, where: str, parent: Marked) -> dict[str, float]:
    if not isinstance(raw, Marked):
        raise ctx.error("must be a mapping of code: value", parent, where, "baseline")
    out: dict[str, float] = {}
    for code in raw:
        param = PARAMETERS.get(code)
        if param is None:
            raise ctx.error("not a parameter code of core.params", raw, f"{where}.{code}", code)
        value = _number(raw, code, ctx, where + ".", lo=param.low, hi=param.high)
        out[code] = value
    return out


def _pumps(raw: Any, ctx: _Ctx, where: str, parent: Marked, weight: float) -> tuple[PumpSpec, ...]:
    if raw is None:
        return (PumpSpec(name="study", rate_ml_h=133.0, volume_ml=100.0),)
    if not isinstance(raw, Marked):
        raise ctx.error("must be a mapping of pump name: settings", parent, where, "pumps")
    specs = []
    for name, spec in raw.items():
        here = f"{where}.{name}"
        if not isinstance(spec, Marked):
            raise ctx.error("must be a mapping", raw, here, name)
        _no_unknown(
            spec, {"drug", "concentration", "rate_ml_h", "dose", "volume_ml"}, ctx, here + "."
        )
        drug = spec.get("drug")
        if drug is None:
            _forbid_keys(spec, ("concentration", "dose"), ctx, here, "a pump without a drug")
            specs.append(
                PumpSpec(
                    name=name,
                    rate_ml_h=_number(
                        spec, "rate_ml_h", ctx, here + ".", lo=0, hi=2000, default=133.0
                    ),
                    volume_ml=_number(
                        spec, "volume_ml", ctx, here + ".", lo=1, hi=5000, default=100.0
                    ),
                )
            )
            continue
        if drug not in VASOPRESSOR_CODES:
            raise ctx.error(
                f"unknown drug {drug!r}; expected one of {', '.join(VASOPRESSOR_CODES)}",
                spec,
                here + ".drug",
                "drug",
            )
        if "volume_ml" in spec:
            raise ctx.error(
                "a drug pump has no study volume", spec, here + ".volume_ml", "volume_ml"
            )
        conc = _number(spec, "concentration", ctx, here + ".", lo=1e-6, hi=1e6)
        rate = _rate_or_dose(spec, ctx, here, drug, conc, weight, required=False)
        specs.append(PumpSpec(name=name, drug=drug, concentration=conc, rate_ml_h=rate))
    return tuple(specs)


def _rate_or_dose(
    spec: Marked,
    ctx: _Ctx,
    here: str,
    drug: str | None,
    conc: float | None,
    weight: float,
    *,
    required: bool,
) -> float:
    has_rate, has_dose = "rate_ml_h" in spec or "rate" in spec, "dose" in spec
    if has_rate and has_dose:
        raise ctx.error("give either a rate or a dose, not both", spec, here + ".dose", "dose")
    if has_dose:
        if drug is None or conc is None:
            raise ctx.error("a dose needs a drug pump", spec, here + ".dose", "dose")
        dose = _number(spec, "dose", ctx, here + ".", lo=0, hi=1e4)
        return rate_for_dose(drug, dose, conc, weight)
    if has_rate:
        key = "rate_ml_h" if "rate_ml_h" in spec else "rate"
        return _number(spec, key, ctx, here + ".", lo=0, hi=2000)
    if required:
        raise ctx.error("give a rate (mL/h) or a dose", spec, here, None)
    return 0.0


# ---------------------------------------------------------------------------- actions

# kind: (python check, description). Every argument: (name, kind, required, default).
_Arg = tuple[str, str, bool, Any]
_RHYTHM_ARG: _Arg = ("rhythm", "rhythm", True, None)

ACTIONS: dict[str, tuple[_Arg, ...]] = {
    "infusion_start": (("pump", "pump", False, "study"), ("rate", "rate", False, None),
                       ("vtbi", "volume", False, None)),
    "infusion_stop": (("pump", "pump", False, "study"),),
    "fever": (("to", "temp", True, None), ("over", "duration", False, 1200.0)),
    "hypotension": (("to", "pressure", True, None), ("over", "duration", False, 600.0)),
    "desaturation": (("to", "spo2", True, None), ("over", "duration", False, 300.0)),
    "heart_rate": (("to", "rate_min", True, None), ("over", "duration", False, 300.0)),
    "fio2": (("set", "fio2", True, None), ("over", "duration", False, 0.0)),
    "peep": (("set", "peep", True, None), ("over", "duration", False, 0.0)),
    "resp_rate": (("set", "vent_rate", True, None),),
    "tidal_volume": (("set", "tidal", True, None),),
    "airway_pressure": (("peak", "airway", True, None), ("over", "duration", False, 120.0),
                        ("cause", "cause", False, "resistance")),
    "embolism": (("severity", "fraction", False, 1.0), ("over", "duration", False, 60.0)),
    "rhythm": (_RHYTHM_ARG, ("rate", "rate_min", False, None)),
    "occlusion": (("pump", "pump", False, "study"),),
    "air_in_line": (("pump", "pump", False, "study"),),
    "clear_alarm": (("kind", "alarm", False, "occlusion"), ("pump", "pump", False, "study"),
                    ("resume", "bool", False, True)),
    "titrate": (("pump", "pump", True, None), ("rate", "rate", False, None),
                ("dose", "dose", False, None)),
    "add_vasopressor": (("pump", "new_pump", True, None), ("drug", "drug", True, None),
                        ("concentration", "positive", True, None), ("rate", "rate", False, None),
                        ("dose", "dose", False, None)),
    "unplug": (("device", "device", True, None),),
    "replug": (("device", "device", True, None),),
    "spike": (("code", "code", True, None), ("to", "number", True, None),
              ("for", "duration", False, 10.0)),
    "clinical_sign": (("sign", "sign", True, None),),
    "cardioversion": (("rhythm", "rhythm", False, "sinus"),),
    "cardiac_arrest": (("rhythm", "arrest_rhythm", False, "VF"),),
    "death": (),
    "blood_gas": (("pao2_mmhg", "pao2", False, None), ("paco2_mmhg", "paco2", False, None),
                  ("ph", "ph", False, None)),
}  # fmt: skip
"""Every timeline action and its arguments: (name, kind, required, default)."""

_RANGES: dict[str, tuple[float, float]] = {
    "rate": (0, 2000),
    "volume": (1, 5000),
    "temp": (30, 43),
    "pressure": (20, 250),
    "spo2": (40, 100),
    "rate_min": (0, 300),
    "fio2": (21, 100),
    "peep": (0, 30),
    "vent_rate": (4, 60),
    "tidal": (100, 1500),
    "airway": (5, 100),
    "fraction": (0, 1),
    "dose": (0, 1e4),
    "positive": (1e-6, 1e6),
    "number": (-1e9, 1e9),
    "pao2": (10, 700),
    "paco2": (10, 200),
    "ph": (6.5, 8.0),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "rhythm": RHYTHMS,
    "arrest_rhythm": ("VF", "VT", "asystole"),
    "cause": ("resistance", "compliance"),
    "alarm": PUMP_ALARMS,
    "drug": tuple(VASOPRESSOR_CODES),
    "device": DEVICES,
    "sign": CLINICAL_SIGNS,
}


def _timeline(
    doc: Marked, ctx: _Ctx, prefix: str, start: float, pumps: Mapping[str, PumpSpec]
) -> tuple[Step, ...]:
    raw = doc.get("timeline", MarkedList())
    if raw is None:
        raw = MarkedList()
    if not isinstance(raw, MarkedList):
        raise ctx.error("must be a list of steps", doc, prefix + "timeline", "timeline")
    placed: list[tuple[Step, str]] = []
    for i, entry in enumerate(raw):
        here = f"{prefix}timeline[{i}]"
        if not isinstance(entry, Marked):
            raise ctx.error("each step is a mapping {at, do, ...}", raw, here)
        placed.append((_step(entry, ctx, here), here))
    placed.sort(key=lambda sw: sw[0].at)  # stable: same-time steps keep their file order
    known = dict(pumps)
    for step, here in placed:
        if step.at < start:
            raise ConfigError(
                f"{format_offset(step.at)} is before the scenario start {format_offset(start)}",
                file=ctx.file,
                line=step.line,
                field=here + ".at",
            )
        _check_pumps(step, known, ctx, here)
    steps = [s for s, _ in placed]
    return tuple(steps)


def _step(entry: Marked, ctx: _Ctx, here: str) -> Step:
    if "at" not in entry:
        raise ctx.error("required: when the step happens (+45m, -30m, 90s...)", entry, here + ".at")
    at = _offset(entry, "at", ctx, here + ".at")
    action = entry.get("do")
    if action is None:
        raise ctx.error("required: the action", entry, here + ".do")
    if action not in ACTIONS:
        raise ctx.error(
            f"unknown action {action!r}; expected one of {', '.join(sorted(ACTIONS))}",
            entry,
            here + ".do",
            "do",
        )
    specs = ACTIONS[action]
    allowed = {"at", "do", "note"} | {a[0] for a in specs}
    _no_unknown(entry, allowed, ctx, here + ".")
    note = entry.get("note")
    if note is not None and not isinstance(note, str):
        raise ctx.error("must be a string", entry, here + ".note", "note")
    args: dict[str, Any] = {}
    for name, kind, required, default in specs:
        if name not in entry:
            if required:
                raise ctx.error(f"required by {action!r}", entry, f"{here}.{name}")
            if default is not None:
                args[name] = default
            continue
        args[name] = _arg(entry, name, kind, ctx, f"{here}.{name}")
    if action in ("titrate", "add_vasopressor") and ("rate" in args) == ("dose" in args):
        raise ctx.error("give exactly one of rate (mL/h) or dose", entry, here + ".rate")
    if action == "spike" and args["code"] in PARAMETERS:
        param = PARAMETERS[args["code"]]
        if not param.low <= args["to"] <= param.high:
            raise ctx.error(
                f"outside {param.low:g}–{param.high:g} {param.unit}", entry, here + ".to", "to"
            )
    return Step(at=at, action=action, args=args, line=entry.line, note=note)


def _arg(entry: Marked, name: str, kind: str, ctx: _Ctx, where: str) -> Any:
    value = entry[name]
    if kind == "duration":
        try:
            seconds = parse_offset(value)
        except ValueError as exc:
            raise ctx.error(str(exc), entry, where, name) from None
        if seconds < 0:
            raise ctx.error("a duration cannot be negative", entry, where, name)
        return seconds
    if kind in ("pump", "new_pump"):
        if not isinstance(value, str) or not value:
            raise ctx.error("must be a pump name", entry, where, name)
        return value
    if kind == "code":
        if value not in PARAMETERS:
            raise ctx.error("not a parameter code of core.params", entry, where, name)
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ctx.error("must be true or false", entry, where, name)
        return value
    if kind in _CHOICES:
        if value not in _CHOICES[kind]:
            choices = ", ".join(_CHOICES[kind])
            raise ctx.error(f"{value!r} is not one of {choices}", entry, where, name)
        return value
    lo, hi = _RANGES[kind]
    return _number(entry, name, ctx, where.rsplit(".", 1)[0] + ".", lo=lo, hi=hi)


def _check_pumps(step: Step, known: dict[str, PumpSpec], ctx: _Ctx, here: str) -> None:
    """Pump names refer to a pump that exists at that point of the timeline."""
    name = step.args.get("pump")
    if name is None:
        return
    where = f"{here}.pump"
    if step.action == "add_vasopressor":
        if name in known:
            raise ConfigError(f"pump {name!r} exists already", file=ctx.file, line=step.line,
                              field=where)  # fmt: skip
        known[name] = PumpSpec(
            name=name, drug=step.args["drug"], concentration=step.args["concentration"]
        )
        return
    if name not in known:
        raise ConfigError(
            f"no pump {name!r} (pumps: {', '.join(known) or 'none'})",
            file=ctx.file,
            line=step.line,
            field=where,
        )
    spec = known[name]
    if step.action in ("infusion_start", "infusion_stop") and spec.drug is not None:
        raise ConfigError(
            f"pump {name!r} is a drug pump; use titrate", file=ctx.file, line=step.line, field=where
        )
    if step.action == "titrate" and "dose" in step.args and spec.drug is None:
        raise ConfigError(
            f"pump {name!r} carries no drug; titrate it by rate",
            file=ctx.file,
            line=step.line,
            field=where,
        )


def _expect(doc: Marked, ctx: _Ctx) -> tuple[Expectation, ...]:
    raw = doc.get("expect")
    if raw is None:
        return ()
    if not isinstance(raw, MarkedList):
        raise ctx.error("must be a list of {category, from, to}", doc, "expect", "expect")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, Marked):
            raise ctx.error("must be a mapping {category, from, to}", raw, f"expect[{i}]")
        out.append(_expectation(item, ctx, f"expect[{i}]", windowed=True))
    return tuple(out)


def _expectation(item: Marked, ctx: _Ctx, here: str, *, windowed: bool) -> Expectation:
    allowed = {"category", "iae", "from", "to"} if windowed else {"category", "iae"}
    _no_unknown(item, allowed, ctx, here + ".")
    category = item.get("category")
    if category not in {c.value for c in Category}:
        raise ctx.error(f"unknown alert category {category!r}", item, here + ".category",
                        "category")  # fmt: skip
    iae = item.get("iae")
    if iae is not None and not isinstance(iae, bool):
        raise ctx.error("must be true or false", item, here + ".iae", "iae")
    earliest = _offset(item, "from", ctx, here + ".from") if "from" in item else None
    latest = _offset(item, "to", ctx, here + ".to") if "to" in item else None
    return Expectation(category=str(category), iae=iae, earliest=earliest, latest=latest)


def _forbid(doc: Marked, ctx: _Ctx) -> tuple[tuple[Expectation, ...], bool]:
    raw = doc.get("forbid")
    if raw is None:
        return (), False
    if raw == "all":
        return (), True
    if not isinstance(raw, MarkedList):
        raise ctx.error("must be 'all' or a list of alert categories", doc, "forbid", "forbid")
    out = []
    for i, item in enumerate(raw):
        here = f"forbid[{i}]"
        if isinstance(item, Marked):
            out.append(_expectation(item, ctx, here, windowed=False))
        elif item in {c.value for c in Category}:
            out.append(Expectation(category=str(item)))
        else:
            raise ctx.error(f"unknown alert category {item!r}", raw, here)
    return tuple(out), False


# ---------------------------------------------------------------------------- small validators


def _no_unknown(doc: Marked, allowed: set[str], ctx: _Ctx, prefix: str) -> None:
    for key in doc:
        if key not in allowed:
            raise ctx.error(
                f"unknown key; expected one of {', '.join(sorted(allowed))}",
                doc,
                prefix + key,
                key,
            )


def _forbid_keys(doc: Marked, keys: Iterable[str], ctx: _Ctx, here: str, what: str) -> None:
    for key in keys:
        if key in doc:
            raise ctx.error(f"{what} has no {key}", doc, f"{here}.{key}", key)


def _number(
    doc: Marked,
    key: str,
    ctx: _Ctx,
    prefix: str,
    *,
    lo: float,
    hi: float,
    default: float | None = None,
) -> float:
    if key not in doc:
        if default is not None:
            return default
        raise ctx.error("required", doc, prefix + key, key)
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ctx.error(f"must be a number, not {value!r}", doc, prefix + key, key)
    if not lo <= value <= hi:
        raise ctx.error(f"{value:g} is outside {lo:g}–{hi:g}", doc, prefix + key, key)
    return float(value)


def _offset(doc: Marked, key: str, ctx: _Ctx, where: str) -> float:
    try:
        return parse_offset(doc[key])
    except ValueError as exc:
        raise ctx.error(str(exc), doc, where, key) from None


def _show(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def shipped_scenarios() -> list[Path]:
    """The scenario files shipped in `simulators/scenarios/`."""
    return sorted(SCENARIO_DIR.glob("*.yaml"))


def resolve_scenario(name: str | Path) -> Path:
    """A path, or the name of a shipped scenario (`fever` → simulators/scenarios/fever.yaml)."""
    p = Path(name)
    if p.exists() or p.suffix or "/" in str(name):
        return p
    shipped = SCENARIO_DIR / f"{name}.yaml"
    return shipped if shipped.exists() else p
