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

Time 0 is the infusion-start reference (`simulators.scenario_types`). `load_scenario`
validates everything up front with `core.check.Checker` and raises `ConfigError` naming the
file, line and field; a loaded scenario cannot fail half-way through a run. The actions and
their arguments are `simulators.actions.ACTIONS`; `ScenarioRunner` (`simulators.runner`)
plays a bed's steps. docs/scenarios.md describes every action.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from core.check import Checker, join
from core.model import Category
from core.params import PARAMETERS, VASOPRESSOR_CODES
from core.vocabulary import suggest
from core.yamlfile import Marked, MarkedList, load_marked, read_marked
from simulators.actions import ACTIONS, check_pumps, offset, parse_step
from simulators.patient import DEFAULT_BED
from simulators.physiology import rate_for_dose
from simulators.scenario_types import (
    DEVICES,
    MIN_BASELINE_S,
    BedScenario,
    Expectation,
    PumpSpec,
    Scenario,
    Step,
    format_offset,
    parse_offset,
)

__all__ = [
    "ACTIONS",
    "DEVICES",
    "MIN_BASELINE_S",
    "SCENARIO_DIR",
    "BedScenario",
    "Expectation",
    "PumpSpec",
    "Scenario",
    "Step",
    "format_offset",
    "load_scenario",
    "parse_offset",
    "parse_scenario",
    "resolve_scenario",
    "shipped_scenarios",
]

SCENARIO_DIR = Path(__file__).parent / "scenarios"

_TOP_KEYS = ("name", "description", "start", "beds", "expect", "forbid")
_BED_KEYS = ("bed", "patient", "pumps", "timeline")
_CATEGORIES = tuple(c.value for c in Category)
_STUDY_DEFAULT = PumpSpec(name="study", rate_ml_h=133.0, volume_ml=100.0)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (ConfigError names file, line and field)."""
    p = Path(path)
    return _scenario(read_marked(p), Checker(str(p)))


def parse_scenario(text: str, *, file: str = "<scenario>") -> Scenario:
    """Validate scenario YAML text."""
    return _scenario(load_marked(text, file=file), Checker(file))


def _scenario(doc: Any, c: Checker) -> Scenario:
    if not isinstance(doc, Marked):
        c.fail("a scenario is a mapping (name, description, timeline, ...)", None)
    c.keys(doc, "", (*_TOP_KEYS, *_BED_KEYS), required=("name",))
    name = c.text(doc["name"], doc.line_of("name"), "name")
    description = c.get(doc, "description", "", partial(_description, c), "")
    start = c.get(doc, "start", "", partial(offset, c))
    if start is not None and start > -MIN_BASELINE_S:
        c.fail(
            "the baseline period before infusion start must be at least 30 min (start ≤ -30m)",
            doc.line_of("start"),
            "start",
        )
    limit = start if start is not None else -float("inf")  # without `start`, steps set it
    beds = _beds(doc, c, limit) if "beds" in doc else [_bed(doc, c, "", limit, DEFAULT_BED)]
    if start is None:
        earliest = min((s.at for b in beds for s in b.timeline), default=0.0)
        start = min(earliest, -MIN_BASELINE_S)
    forbid, forbid_all = _forbid(doc, c)
    return Scenario(
        name=name,
        description=description or "",
        file=c.file,
        start=start,
        beds=tuple(beds),
        expect=_expect(doc, c),
        forbid=forbid,
        forbid_all=forbid_all,
    )


def _description(c: Checker, value: Any, line: int, field: str) -> str:
    if not isinstance(value, str):
        c.fail("must be text", line, field)
    return value.strip()


def _beds(doc: Marked, c: Checker, start: float) -> list[BedScenario]:
    both = [k for k in _BED_KEYS if k in doc]
    line = doc.line_of("beds")
    if both:
        c.fail(f"use either 'beds' or top-level {both[0]!r}", line, "beds")
    raw = c.seq(doc["beds"], line, "beds")
    if not raw:
        c.fail("must be a non-empty list of beds", line, "beds")
    beds: list[BedScenario] = []
    for i, item, item_line, here in c.items(raw, "beds"):
        entry = c.mapping(item, item_line, here)
        c.keys(entry, here, _BED_KEYS)
        bed = _bed(entry, c, here, start, f"ICU-{i + 1}")
        if any(b.name == bed.name for b in beds):
            c.fail(f"bed {bed.name!r} appears twice", entry.line_of("bed"), join(here, "bed"))
        beds.append(bed)
    return beds


def _bed(doc: Marked, c: Checker, path: str, start: float, default_name: str) -> BedScenario:
    name = c.get(doc, "bed", path, c.text, default_name) or default_name
    weight, seed, baseline = 70.0, 1, {}
    if "patient" in doc:
        here = join(path, "patient")
        patient = c.mapping(doc["patient"], doc.line_of("patient"), here)
        c.keys(patient, here, ("weight_kg", "seed", "baseline"))
        if "weight_kg" in patient:
            line = patient.line_of("weight_kg")
            weight = c.number(patient["weight_kg"], line, join(here, "weight_kg"), minimum=20,
                              maximum=300)  # fmt: skip
        if "seed" in patient:
            seed = c.integer(patient["seed"], patient.line_of("seed"), join(here, "seed"))
        if "baseline" in patient:
            line = patient.line_of("baseline")
            baseline = _baseline(c, patient["baseline"], line, join(here, "baseline"))
    pumps = _pumps(doc, c, join(path, "pumps"), weight)
    timeline = _timeline(doc, c, path, start, {p.name: p for p in pumps})
    return BedScenario(
        name=name, weight_kg=weight, seed=seed, baseline=baseline, pumps=pumps, timeline=timeline
    )


def _baseline(c: Checker, value: Any, line: int, field: str) -> dict[str, float]:
    raw = c.mapping(value, line, field)
    out: dict[str, float] = {}
    for code, v in raw.items():
        here, code_line = join(field, code), raw.line_of(code)
        param = PARAMETERS.get(code)
        if param is None:
            c.fail(f"not a parameter code of core.params{suggest(code, PARAMETERS)}",
                   code_line, here)  # fmt: skip
        out[code] = c.number(v, code_line, here, minimum=param.low, maximum=param.high)
    return out


def _pumps(doc: Marked, c: Checker, path: str, weight: float) -> tuple[PumpSpec, ...]:
    if doc.get("pumps") is None:
        return (_STUDY_DEFAULT,)
    raw = c.mapping(doc["pumps"], doc.line_of("pumps"), path)
    rate_conv = partial(c.number, minimum=0, maximum=2000)  # mL/h
    volume_conv = partial(c.number, minimum=1, maximum=5000)  # mL
    specs = []
    for name, value in raw.items():
        here = join(path, name)
        spec = c.mapping(value, raw.line_of(name), here)
        if "drug" not in spec:  # the study pump
            c.keys(spec, here, ("drug", "rate_ml_h", "volume_ml"))
            rate = c.get(spec, "rate_ml_h", here, rate_conv, _STUDY_DEFAULT.rate_ml_h)
            volume = c.get(spec, "volume_ml", here, volume_conv, _STUDY_DEFAULT.volume_ml)
            specs.append(PumpSpec(name=name, rate_ml_h=rate or 0.0, volume_ml=volume or 0.0))
            continue
        c.keys(spec, here, ("drug", "concentration", "rate_ml_h", "dose"), ("concentration",))
        drug = c.choice(spec["drug"], spec.line_of("drug"), join(here, "drug"), VASOPRESSOR_CODES)
        conc = c.number(
            spec["concentration"],
            spec.line_of("concentration"),
            join(here, "concentration"),
            minimum=1e-6,
            maximum=1e6,
        )
        if "rate_ml_h" in spec and "dose" in spec:
            c.fail("give either a rate or a dose, not both", spec.line_of("dose"),
                   join(here, "dose"))  # fmt: skip
        rate = c.get(spec, "rate_ml_h", here, rate_conv, 0.0) or 0.0
        dose = c.get(spec, "dose", here, partial(c.number, minimum=0, maximum=1e4))
        if dose is not None:
            rate = rate_for_dose(drug, dose, conc, weight)
        specs.append(PumpSpec(name=name, drug=drug, concentration=conc, rate_ml_h=rate))
    return tuple(specs)


def _timeline(
    doc: Marked, c: Checker, path: str, start: float, pumps: dict[str, PumpSpec]
) -> tuple[Step, ...]:
    here = join(path, "timeline")
    if doc.get("timeline") is None:
        return ()
    raw = c.seq(doc["timeline"], doc.line_of("timeline"), here)
    placed: list[tuple[Step, str]] = []
    for _, item, line, field in c.items(raw, here):
        entry = c.mapping(item, line, field)
        placed.append((parse_step(c, entry, field), field))
    placed.sort(key=lambda sw: sw[0].at)  # stable: same-time steps keep their file order
    known = dict(pumps)
    for step, field in placed:
        if step.at < start:
            c.fail(
                f"{format_offset(step.at)} is before the scenario start {format_offset(start)}",
                step.line,
                join(field, "at"),
            )
        check_pumps(c, step, known, field)
    return tuple(s for s, _ in placed)


def _expect(doc: Marked, c: Checker) -> tuple[Expectation, ...]:
    if doc.get("expect") is None:
        return ()
    raw = c.seq(doc["expect"], doc.line_of("expect"), "expect")
    out = []
    for _, item, line, here in c.items(raw, "expect"):
        entry = c.mapping(item, line, here)
        out.append(_expectation(entry, c, here, windowed=True))
    return tuple(out)


def _expectation(item: Marked, c: Checker, here: str, *, windowed: bool) -> Expectation:
    allowed = ("category", "iae", "from", "to") if windowed else ("category", "iae")
    c.keys(item, here, allowed, required=("category",))
    category = c.choice(
        item["category"], item.line_of("category"), join(here, "category"), _CATEGORIES
    )
    return Expectation(
        category=category,
        iae=c.get(item, "iae", here, c.boolean),
        earliest=c.get(item, "from", here, partial(offset, c)),
        latest=c.get(item, "to", here, partial(offset, c)),
    )


def _forbid(doc: Marked, c: Checker) -> tuple[tuple[Expectation, ...], bool]:
    raw = doc.get("forbid")
    if raw is None:
        return (), False
    if raw == "all":
        return (), True
    line = doc.line_of("forbid")
    if not isinstance(raw, MarkedList):
        c.fail(f"must be 'all' or a list of alert categories, got {raw!r}", line, "forbid")
    out = []
    for _, item, item_line, here in c.items(raw, "forbid"):
        if isinstance(item, Marked):
            out.append(_expectation(item, c, here, windowed=False))
        else:
            out.append(Expectation(category=c.choice(item, item_line, here, _CATEGORIES)))
    return tuple(out), False


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
