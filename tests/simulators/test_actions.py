"""The action table: one declaration per action serves the loader (checks) and the runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.clock import VirtualClock
from core.errors import ConfigError
from core.model import DeviceEvent, EventSource
from core.vocabulary import EVENTS
from simulators.actions import ACTIONS, Action, Arg, number
from simulators.recording import records
from simulators.runner import ScenarioRunner
from simulators.scenario import load_scenario, parse_scenario, shipped_scenarios

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HEAD = "name: t\ntimeline:\n  - {at: 0, do: infusion_start}\n"  # the step under test: line 4


def _error(step: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_scenario(HEAD + step, file="s.yaml")
    return info.value


def _where(err: ConfigError) -> str:
    return f"{err.file}:{err.line}: {err.field}"


def test_an_unknown_action_names_file_line_field_and_the_near_miss() -> None:
    err = _error("  - {at: +1h, do: fevr, to: 38.5}\n")
    assert _where(err) == "s.yaml:4: timeline[1].do"
    assert "unknown action 'fevr' (did you mean 'fever'?)" in err.message
    assert "embolism" in err.message  # the actions are listed


@pytest.mark.parametrize(
    ("step", "field", "words"),
    [
        ("{at: +1h, do: fever, to: hot}", "timeline[1].to", "must be a number, got text 'hot'"),
        ("{at: +1h, do: fever, to: .nan}", "timeline[1].to", "finite"),
        ("{at: +1h, do: peep, set: 31}", "timeline[1].set", "must be ≤ 30, got 31"),
        ("{at: +1h, do: fever, to: 38, ovr: 5m}", "timeline[1].ovr", "did you mean 'over'?"),
        ("{at: +1h, do: fever, over: 5m}", "timeline[1].to", "is required"),
        ("{at: +1h, do: embolism, over: soon}", "timeline[1].over", "not a time"),
        ("{at: +1h, do: rhythm, rhythm: asystol}", "timeline[1].rhythm", "mean 'asystole'?"),
        ("{at: +1h, do: clinical_sign, sign: rsh}", "timeline[1].sign", "did you mean 'rash'?"),
        ("{at: +1h, do: spike, code: MDC_TEMP_BLD, to: 99}", "timeline[1].to", "outside"),
        ("{at: +1h, do: spike, code: MDC_TMP_BLD, to: 9}", "timeline[1].code", "MDC_TEMP_BLD"),
        ("{at: +1h, do: occlusion, pump: stdy}", "timeline[1].pump", "did you mean 'study'?"),
        ("{at: +1h, do: titrate, pump: study, rate: 5, dose: 1}", "timeline[1].rate", "one of"),
        ("{at: +1h, do: death, note: 3}", "timeline[1].note", "non-empty text"),
    ],
)
def test_a_bad_argument_names_file_line_and_field(step: str, field: str, words: str) -> None:
    err = _error(f"  - {step}\n")
    assert _where(err) == f"s.yaml:4: {field}", str(err)
    assert words in err.message, str(err)


@pytest.mark.parametrize(
    ("step", "field", "words"),
    [
        (
            "{at: +1h, do: event, event: clinical_sgn}",
            "timeline[1].event",
            "unknown event 'clinical_sgn' (did you mean 'clinical_sign'?)",
        ),
        (
            "{at: +1h, do: event, event: clinical_sign, fields: {sgn: rash}}",
            "timeline[1].fields.sgn",
            "has no field 'sgn' (did you mean 'sign'?)",
        ),
        (
            "{at: +1h, do: event, event: clinical_sign, fields: {sign: hives}}",
            "timeline[1].fields.sign",
            "must be one of urticaria",
        ),
        (
            "{at: +1h, do: event, event: blood_gas, fields: {ph: acid}}",
            "timeline[1].fields.ph",
            "must be a number",
        ),
        (
            "{at: +1h, do: event, event: pump_alarm, fields: {kind: door_open}}",
            "timeline[1].source",
            "a clinician does not send 'pump_alarm'",
        ),
        (
            "{at: +1h, do: event, event: pump_alarm, source: device}",
            "timeline[1].device",
            "names its device",
        ),
    ],
)
def test_event_names_and_fields_are_checked_against_the_vocabulary(
    step: str, field: str, words: str
) -> None:
    err = _error(f"  - {step}\n")
    assert _where(err) == f"s.yaml:4: {field}", str(err)
    assert words in err.message, str(err)


def test_the_event_action_logs_the_named_event_at_its_time() -> None:
    s = parse_scenario(
        HEAD
        + "  - {at: +1h, do: event, event: clinical_sign, fields: {sign: rash, note: trunk}}\n"
        + "  - {at: +2h, do: event, event: pump_alarm, source: device, device: pump:study,"
        + " fields: {kind: door_open}}\n"
    )
    clock = VirtualClock(T0 + timedelta(seconds=s.start))
    runner = ScenarioRunner(s, s.bed().build_model(clock), clock, origin=T0)
    runner.apply_until(T0 + timedelta(hours=3))
    logged = [e for e in runner.model.events if e.t >= T0 + timedelta(hours=1)]
    assert logged == [
        DeviceEvent(
            t=T0 + timedelta(hours=1),
            bed="ICU-1",
            event="clinical_sign",
            fields={"sign": "rash", "note": "trunk"},
            source=EventSource.CLINICIAN,
        ),
        DeviceEvent(
            t=T0 + timedelta(hours=2),
            bed="ICU-1",
            event="pump_alarm",
            fields={"kind": "door_open"},
            device="pump:study",
            source=EventSource.DEVICE,
        ),
    ]


def test_an_action_is_one_table_entry_for_loader_and_runner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new entry is all it takes: the loader checks its arguments, the runner applies it."""
    calls: list[tuple[float, float]] = []
    yawn = Action(
        "yawn",
        (Arg("depth", number(0, 1), True), Arg("times", number(1, 5), default=1.0)),
        lambda s, a: calls.append((s.model.elapsed, a["depth"] * a["times"])),
    )
    monkeypatch.setitem(ACTIONS, "yawn", yawn)
    err = _error("  - {at: +1h, do: yawn, depth: 2}\n")
    assert (_where(err), err.message) == ("s.yaml:4: timeline[1].depth", "must be ≤ 1, got 2")
    s = parse_scenario(HEAD + "  - {at: +1h, do: yawn, depth: 0.5}\n")
    assert s.bed().timeline[1].args == {"depth": 0.5, "times": 1.0}
    clock = VirtualClock(T0 + timedelta(seconds=s.start))
    runner = ScenarioRunner(s, s.bed().build_model(clock), clock, origin=T0)
    runner.apply_until(T0 + timedelta(hours=2))
    assert calls == [(1800.0 + 3600.0, 0.5)]


def test_an_action_declaring_an_unknown_event_fails_when_the_table_is_built() -> None:
    with pytest.raises(ConfigError, match="unknown event 'pump_alrm'"):
        Action("bad", (), lambda s, a: None, event="pump_alrm")
    with pytest.raises(ConfigError, match="has no field 'colour'"):
        Action("bad", (), lambda s, a: None, event="clinical_sign", fields=("colour",))


def test_every_declared_event_and_field_is_in_the_vocabulary() -> None:
    for action in ACTIONS.values():
        if action.event is not None:
            assert set(action.fields) <= set(EVENTS[action.event].fields), action.name


def test_every_event_the_shipped_scenarios_record_is_in_the_vocabulary() -> None:
    """What the simulated devices, drivers and clinicians say uses the registry's names."""
    seen: set[str] = set()
    for path in shipped_scenarios():
        for rec in records(load_scenario(path), until_s=12 * 3600, period=60.0):
            if not isinstance(rec, DeviceEvent):
                continue
            spec = EVENTS[rec.event]
            assert rec.source in spec.sources, (path.stem, rec)
            assert set(rec.fields) <= set(spec.fields), (path.stem, rec)
            assert rec.bed == "ICU-1"
            seen.add(rec.event)
    assert seen >= {
        "infusion_start",
        "infusion_end",
        "pump_alarm",
        "vasopressor_added",
        "arrhythmia",
        "clinical_sign",
        "cardiac_arrest",
        "blood_gas",
        "device_connected",
        "device_disconnected",
    }
