"""The biomarker schedule: which markers, in which unit, at which timepoints (hours from day
0). The shipped `schedule.yaml` is the default; a site may give its own file, checked with
`core.check.Checker` (file, line and field in every error)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.check import Checker
from core.yamlfile import Marked, load_marked

DEFAULT = Path(__file__).with_name("schedule.yaml")
NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
"""Short lower-case names: they become REDCap variable and CDISC item names."""


@dataclass(frozen=True, slots=True)
class Marker:
    name: str
    label: str
    unit: str


@dataclass(frozen=True, slots=True)
class Timepoint:
    name: str
    label: str
    hours: float


@dataclass(frozen=True, slots=True)
class Schedule:
    markers: tuple[Marker, ...]
    timepoints: tuple[Timepoint, ...]

    def marker(self, name: str) -> Marker | None:
        return next((m for m in self.markers if m.name == name), None)

    def timepoint(self, name: str) -> Timepoint | None:
        return next((t for t in self.timepoints if t.name == name), None)


def _entries(
    ck: Checker, doc: object, key: str, keys: tuple[str, ...]
) -> list[tuple[Marked, int, str]]:
    top = ck.mapping(doc, 1, "")
    seq = ck.seq(top.get(key), top.line_of(key), key)
    out: list[tuple[Marked, int, str]] = []
    seen: set[str] = set()
    for _, item, line, field in ck.items(seq, key):
        m = ck.mapping(item, line, field)
        ck.keys(m, field, keys, required=keys)
        name = ck.text(m["name"], m.line_of("name"), f"{field}.name")
        if not NAME.match(name):
            ck.fail(
                "must be 1–12 lower-case letters or digits, starting with a letter",
                m.line_of("name"),
                f"{field}.name",
            )
        if name in seen:
            ck.fail(f"{name!r} is listed twice", m.line_of("name"), f"{field}.name")
        seen.add(name)
        out.append((m, line, field))
    return out


def load_schedule(path: Path = DEFAULT) -> Schedule:
    """The schedule in `path` (`ConfigError` naming file, line and field when it is wrong)."""
    ck = Checker(str(path))
    doc = load_marked(path.read_text(encoding="utf-8"), file=str(path))
    ck.keys(
        ck.mapping(doc, 1, ""), "", ("markers", "timepoints"), required=("markers", "timepoints")
    )
    markers = tuple(
        Marker(
            name=str(m["name"]),
            label=ck.text(m["label"], m.line_of("label"), f"{f}.label"),
            unit=ck.text(m["unit"], m.line_of("unit"), f"{f}.unit"),
        )
        for m, _, f in _entries(ck, doc, "markers", ("name", "label", "unit"))
    )
    timepoints = tuple(
        Timepoint(
            name=str(m["name"]),
            label=ck.text(m["label"], m.line_of("label"), f"{f}.label"),
            hours=ck.number(m["hours"], m.line_of("hours"), f"{f}.hours"),
        )
        for m, _, f in _entries(ck, doc, "timepoints", ("name", "label", "hours"))
    )
    return Schedule(markers, timepoints)
