"""What a loaded scenario is: the time notation and the frozen values the loader builds.

Time 0 is the infusion-start reference; times are written `+45m`, `-30m`, `+2h10m`, `90s`
or a number of seconds (`parse_offset`). `simulators.scenario` reads the YAML into these.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from core.clock import Clock
from simulators.patient import PatientModel
from simulators.pump_state import PumpState
from simulators.source import DEFAULT_ADULT_ARDS

DEVICES = ("pump", "ventilator", "monitor", "hl7")
"""The links a scenario can unplug (each has its `Faults`)."""

MIN_BASELINE_S = 1800.0
"""A scenario starts at least this long before infusion start (the rules' baseline)."""

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
            seconds = float(text)
        except ValueError:
            raise ValueError(f"not a time like +45m, -30m, +2h10m or 90s: {value!r}") from None
        if not math.isfinite(seconds):
            raise ValueError(f"not a time: {value!r}")
        return seconds
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


@dataclass(frozen=True, slots=True, kw_only=True)
class PumpSpec:
    """One pump at scenario start: the study pump (no drug) or a running drug infusion."""

    name: str
    drug: str | None = None
    concentration: float | None = None  # ug/mL (U/mL for vasopressin)
    rate_ml_h: float = 0.0
    volume_ml: float = 0.0  # the study infusion's volume (its VTBI)

    def build(self) -> PumpState:
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
        return PatientModel(
            clock,
            baseline={**DEFAULT_ADULT_ARDS, **self.baseline},
            seed=self.seed,
            weight_kg=self.weight_kg,
            pumps={p.name: p.build() for p in self.pumps},
            bed=self.name,
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


def _show(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
