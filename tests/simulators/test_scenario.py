"""Scenario YAML: time parsing, validation errors with file/line/field, and the runner."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.clock import VirtualClock
from core.errors import ConfigError
from core.model import Category
from core.params import PARAMETERS
from simulators.faults import Faults
from simulators.runner import ScenarioRunner
from simulators.scenario import (
    ACTIONS,
    format_offset,
    load_scenario,
    parse_offset,
    parse_scenario,
    resolve_scenario,
    shipped_scenarios,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

MINIMAL = """\
name: t
pumps:
  study: {volume_ml: 100, rate_ml_h: 120}
  norepi: {drug: norepinephrine, concentration: 64, dose: 4}
timeline:
  - {at: 0, do: infusion_start}
"""

REQUIRED_SCENARIOS = {
    "quiet_control",
    "vasopressor_escalation",
    "arrhythmia_vt",
    "ventilatory_escalation",
    "transfusion_reaction",
    "cardiac_arrest",
    "death",
    "fever",
    "hypotension",
    "hypoxemia",
    "tachycardia",
    "bradycardia",
    "airway_pressure_rise",
    "infusion_problem_occlusion",
    "embolism_pattern",
    "technical_unplug",
    "artifacts",
    "late_events",
}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("+45m", 2700),
        ("-30m", -1800),
        ("+2h10m", 7800),
        ("90s", 90),
        ("1h", 3600),
        ("+1h05m30s", 3930),
        ("1.5h", 5400),
        (120, 120),
        (-5.5, -5.5),
        ("0", 0),
        ("10min", 600),
    ],
)
def test_parse_offset(text: str | float, seconds: float) -> None:
    assert parse_offset(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "+5x", "", "h", True, None, [1]])
def test_parse_offset_refuses(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_offset(bad)


@pytest.mark.parametrize("seconds", [0, 59, 3600, 7800, -1800, 3930, 86400])
def test_format_offset_round_trips(seconds: int) -> None:
    assert parse_offset(format_offset(seconds)) == seconds


def test_minimal_scenario_defaults() -> None:
    s = parse_scenario(MINIMAL, file="m.yaml")
    assert s.name == "t" and s.start == -1800
    bed = s.bed()
    assert bed.name == "ICU-1" and bed.weight_kg == 70 and bed.seed == 1
    norepi = next(p for p in bed.pumps if p.name == "norepi")
    assert norepi.rate_ml_h == pytest.approx(4 * 60 / 64)
    assert bed.timeline[0].args == {"pump": "study"}


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_scenario(text, file="bad.yaml")
    assert info.value.file == "bad.yaml"
    return info.value


@pytest.mark.parametrize(
    ("extra", "line", "field", "words"),
    [
        ("  - {at: +1h, do: sneeze}\n", 7, "timeline[1].do", "unknown action"),
        ("  - {at: +1h, do: fever}\n", 7, "timeline[1].to", "required"),
        ("  - {at: +1h, do: fever, to: 50}\n", 7, "timeline[1].to", "must be ≤ 43, got 50"),
        ("  - {at: +1h, do: fever, to: 38, ovr: 5m}\n", 7, "timeline[1].ovr", "unknown key"),
        ("  - {at: soon, do: fever, to: 38}\n", 7, "timeline[1].at", "not a time"),
        ("  - {do: fever, to: 38}\n", 7, "timeline[1].at", "required"),
        ("  - {at: -2h, do: fever, to: 38}\n", None, None, None),  # extends the start: fine
        ("  - {at: +1h, do: titrate, pump: epi, dose: 5}\n", 7, "timeline[1].pump", "no pump"),
        ("  - {at: +1h, do: titrate, pump: study, dose: 5}\n", 7, "timeline[1].pump", "no drug"),
        ("  - {at: +1h, do: titrate, pump: norepi}\n", 7, "timeline[1].rate", "exactly one"),
        ("  - {at: +1h, do: rhythm, rhythm: torsade}\n", 7, "timeline[1].rhythm", "one of sinus"),
        ("  - {at: +1h, do: unplug, device: toaster}\n", 7, "timeline[1].device", "one of pump"),
        ("  - {at: +1h, do: spike, code: MDC_NOPE, to: 3}\n", 7, "timeline[1].code", "code"),
        ("  - {at: +1h, do: fever, to: 38, over: -5m}\n", 7, "timeline[1].over", "negative"),
        ("  - {at: +1h, do: clear_alarm, resume: maybe}\n", 7, "timeline[1].resume", "true"),
        (
            "  - {at: +1h, do: add_vasopressor, pump: norepi, drug: vasopressin, "
            "concentration: 0.4, rate: 3}\n",
            7,
            "timeline[1].pump",
            "exists already",
        ),
    ],
)
def test_timeline_errors_name_line_and_field(
    extra: str, line: int | None, field: str | None, words: str | None
) -> None:
    text = MINIMAL + extra
    if line is None:
        assert parse_scenario(text).start == -7200
        return
    err = _error(text)
    assert err.line == line, str(err)
    assert err.field == field, str(err)
    assert words is not None and words in str(err), str(err)
    assert str(err).startswith(f"bad.yaml:{line}: {field}: ")


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("description: x\n", 1, "name"),
        ("name: a\nstart: -10m\n", 2, "start"),
        ("name: a\nflavour: mint\n", 2, "flavour"),
        ("name: a\npatient: {weight_kg: 5}\n", 2, "patient.weight_kg"),
        ("name: a\npatient:\n  seed: 1.5\n", 3, "patient.seed"),
        ("name: a\npatient:\n  baseline: {MDC_TEMP_BLD: 60}\n", 3, "patient.baseline.MDC_TEMP_BLD"),
        ("name: a\npatient:\n  baseline: {HEART: 60}\n", 3, "patient.baseline.HEART"),
        ("name: a\npumps:\n  ne: {drug: nora, concentration: 1}\n", 3, "pumps.ne.drug"),
        ("name: a\npumps:\n  ne: {drug: dopamine}\n", 3, "pumps.ne.concentration"),
        ("name: a\npumps:\n  s: {volume_ml: 100, dose: 3}\n", 3, "pumps.s.dose"),
        ("name: a\ntimeline: {at: 0}\n", 2, "timeline"),
        ("name: a\nexpect: [{category: grumpy}]\n", 2, "expect[0].category"),
        ("name: a\nforbid: [grumpy]\n", 2, "forbid[0]"),
        ("name: a\nforbid: [{category: arrhythmia, iae: 1}]\n", 2, "forbid[0].iae"),
        ("name: a\nforbid: none\n", 2, "forbid"),
        ("name: a\nbeds: []\n", 2, "beds"),
        ("name: a\nbed: X\nbeds: [{bed: Y}]\n", 3, "beds"),
        ("name: a\nbeds:\n  - {bed: X}\n  - {bed: X}\n", 4, "beds[1].bed"),
        (
            "name: a\nbeds:\n  - {bed: X, timeline: [{at: 0, do: nap}]}\n",
            3,
            "beds[0].timeline[0].do",
        ),
    ],
)
def test_structure_errors_name_line_and_field(text: str, line: int, field: str) -> None:
    err = _error(text)
    assert (err.line, err.field) == (line, field), str(err)


def test_yaml_syntax_and_duplicate_keys_report_lines() -> None:
    err = _error("name: a\ntimeline:\n  - {at: 0, do: [\n")
    assert err.line is not None and err.line >= 3 and "YAML" in str(err)
    err = _error("name: a\nname: b\n")
    assert (err.line, err.field) == (2, "name") and "duplicate" in str(err)
    err = _error("- just\n- a list\n")
    assert "mapping" in str(err)


def test_load_scenario_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("name: s\ntimeline:\n  - {at: +1h, do: fever}\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(p)
    assert info.value.file == str(p) and info.value.line == 3
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_steps_are_sorted_stably() -> None:
    s = parse_scenario(
        "name: a\ntimeline:\n"
        "  - {at: +2h, do: fever, to: 38}\n"
        "  - {at: +1h, do: clinical_sign, sign: rash}\n"
        "  - {at: +1h, do: clinical_sign, sign: wheeze}\n"
    )
    assert [(st.at, st.args.get("sign")) for st in s.bed().timeline] == [
        (3600, "rash"),
        (3600, "wheeze"),
        (7200, None),
    ]


def test_expect_and_forbid() -> None:
    s = parse_scenario(
        "name: a\nexpect: [{category: fever, from: +30m, to: +1h}, {category: death, iae: true}]\n"
        "forbid: [hypotension, {category: arrhythmia, iae: true}]\n"
    )
    assert [(e.category, e.iae, e.earliest, e.latest) for e in s.expect] == [
        ("fever", None, 1800, 3600),
        ("death", True, None, None),
    ]
    assert not s.allows("hypotension", False)
    assert not s.allows("arrhythmia", True)
    assert s.allows("arrhythmia", False)
    assert s.allows("fever", False)
    quiet = parse_scenario("name: q\nforbid: all\n")
    assert quiet.forbid_all and not quiet.allows("technical", False)


def test_multi_bed_and_replication() -> None:
    s = parse_scenario(
        "name: two\nbeds:\n"
        "  - {bed: A, patient: {seed: 5}, timeline: [{at: 0, do: infusion_start}]}\n"
        "  - {bed: B, timeline: [{at: +1h, do: fever, to: 38.5}]}\n"
    )
    assert [b.name for b in s.beds] == ["A", "B"]
    assert s.bed("B").timeline[0].action == "fever"
    four = s.for_beds(4)
    assert [b.name for b in four.beds] == ["ICU-1", "ICU-2", "ICU-3", "ICU-4"]
    assert [b.seed for b in four.beds] == [5, 1, 1005, 1001]
    with pytest.raises(ValueError):
        s.bed()


def test_every_action_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "scenarios.md").read_text()
    for action in ACTIONS:
        assert f"`{action}`" in doc, action


# ---------------------------------------------------------------------------- the runner


def _runner(text: str) -> tuple[ScenarioRunner, VirtualClock, dict[str, Faults]]:
    s = parse_scenario(text)
    clock = VirtualClock(T0 + timedelta(seconds=s.start))
    model = s.bed().build_model(clock)
    faults = {"monitor": Faults()}
    return ScenarioRunner(s, model, clock, faults, origin=T0), clock, faults


RUN = """\
name: r
start: -40m
timeline:
  - {at: -5m, do: blood_gas}
  - {at: 0, do: infusion_start}
  - {at: +10m, do: unplug, device: monitor}
  - {at: +12m30s, do: replug, device: monitor}
  - {at: +1h, do: fever, to: 38.5, over: 10m}
  - {at: +2h, do: rhythm, rhythm: VT}
"""


def test_apply_until_applies_each_step_at_its_own_time() -> None:
    runner, clock, faults = _runner(RUN)
    assert runner.next_due() == T0 - timedelta(minutes=5)
    assert runner.apply_until(T0 - timedelta(minutes=6)) == []
    done = runner.apply_until(T0 + timedelta(minutes=11))
    assert [s.action for s in done] == ["blood_gas", "infusion_start", "unplug"]
    assert faults["monitor"].drop
    assert clock.now() == T0 + timedelta(minutes=10)  # moved to the step, not beyond
    runner.apply_until(T0 + timedelta(hours=3))
    assert not faults["monitor"].drop
    assert [when - T0 for _, when in runner.applied] == [
        timedelta(minutes=m) for m in (-5, 0, 10, 12.5, 60, 120)
    ]
    assert runner.done and runner.next_due() is None
    events = [(e.event, e.t - T0) for e in runner.model.events]
    assert ("device_disconnected", timedelta(minutes=10)) in events
    assert ("device_connected", timedelta(minutes=12.5)) in events
    assert ("arrhythmia", timedelta(hours=2)) in events
    assert runner.model.rhythm == "VT"


async def test_run_sleeps_on_the_clock_until_each_step() -> None:
    runner, clock, _ = _runner(RUN)
    seen: list[tuple[str, float]] = []
    runner.on_step = lambda step, when: seen.append((step.action, (when - T0).total_seconds()))
    task = asyncio.create_task(runner.run())
    try:
        await clock.advance(35 * 60 - 1)  # to -5m01s (start was -40m)
        assert seen == []
        await clock.advance(1)
        assert [a for a, _ in seen] == ["blood_gas"]
        await clock.advance(5 * 60)
        assert [a for a, _ in seen] == ["blood_gas", "infusion_start"]
        await clock.advance(3 * 3600)
        await task
    finally:
        task.cancel()
    assert seen == [
        ("blood_gas", -300),
        ("infusion_start", 0),
        ("unplug", 600),
        ("replug", 750),
        ("fever", 3600),
        ("rhythm", 7200),
    ]


def test_titrate_and_add_vasopressor_change_doses() -> None:
    runner, _, _ = _runner(
        MINIMAL
        + "  - {at: +1h, do: titrate, pump: norepi, dose: 12}\n"
        + "  - {at: +2h, do: add_vasopressor, pump: vaso, drug: vasopressin, concentration: 0.4,"
        + " dose: 0.03}\n"
        + "  - {at: +3h, do: titrate, pump: vaso, rate: 0}\n"
    )
    m = runner.model
    assert m.doses()["IAEW_DOSE_NOREPINEPHRINE"] == pytest.approx(4)
    runner.apply_until(T0 + timedelta(hours=1))
    assert m.doses()["IAEW_DOSE_NOREPINEPHRINE"] == pytest.approx(12)
    runner.apply_until(T0 + timedelta(hours=2))
    assert m.doses()["IAEW_DOSE_VASOPRESSIN"] == pytest.approx(0.03)
    runner.apply_until(T0 + timedelta(hours=3))
    assert m.doses()["IAEW_DOSE_VASOPRESSIN"] == 0


# ---------------------------------------------------------------------------- shipped files


def test_the_required_scenarios_are_shipped() -> None:
    assert {p.stem for p in shipped_scenarios()} >= REQUIRED_SCENARIOS
    assert resolve_scenario("fever").name == "fever.yaml"


@pytest.mark.parametrize("path", shipped_scenarios(), ids=lambda p: p.stem)
def test_shipped_scenario_loads_documents_itself_and_runs_a_day(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("#") and "Must produce" in text.split("\nname:")[0], path.name
    s = load_scenario(path)
    assert s.name == path.stem and s.description
    assert s.start <= -1800
    assert s.expect or s.forbid or s.forbid_all
    for e in s.expect:
        assert Category(e.category)
    started = time.perf_counter()
    clock = VirtualClock(T0 + timedelta(seconds=s.start))
    model = s.bed().build_model(clock)
    runner = ScenarioRunner(s, model, clock, origin=T0)
    t = T0 + timedelta(seconds=s.start)
    while t < T0 + timedelta(hours=24):
        t += timedelta(minutes=5)
        runner.apply_until(t)
        clock.set(t)
        for code, value in model.vitals().items():
            assert PARAMETERS[code].plausible(value), (path.stem, code, value)
    assert runner.done
    assert time.perf_counter() - started < 5
