"""Hostile input to the loaders: NaN, ±inf, huge numbers, deep nesting, wrong types and absurd
times each end in one error naming the line (and the field), never a traceback or a hang."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.check import Checker
from core.errors import ConfigError, RecordError
from core.records import MAX_DEPTH, parse_record
from core.vocabulary import EVENTS, event_fields_problem
from core.yamlfile import load_marked

OBS = '{"t": "2026-03-01T08:00:00Z", "bed": "ICU-3", "code": "MDC_PULS_OXIM_SAT_O2", "unit": "%"'
START = '{"t": "2026-03-01T08:00:00Z", "bed": "ICU-3", "event": "infusion_start", '


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (OBS + ', "value": NaN}', "NaN is not a JSON number"),
        (OBS + ', "value": -Infinity}', "-Infinity is not a JSON number"),
        (OBS + ', "value": 1e400}', "not finite"),
        (OBS + ', "value": ' + "9" * 5000 + "}", "not finite"),
        (
            START + '"weight_kg": {"a": 1}, "volume_ml": 100, "planned_min": 45}',
            "weight_kg must be a number",
        ),
        (
            START + '"weight_kg": 70, "volume_ml": 100, "planned_min": 5e-324}',
            "planned_min must be ≥ 1",
        ),
        (
            START + '"weight_kg": 7000, "volume_ml": 100, "planned_min": 45}',
            "weight_kg must be ≤ 400",
        ),
        (
            '{"t": "2026-03-01T08:00:00Z", "bed": "B", "event": "pump_alarm", "kind": [[1]]}',
            "kind must be text",
        ),
        (OBS.replace("2026", "9999") + ', "value": 94}', "outside 2000-2099"),
        (OBS.replace("2026", "0001") + ', "value": 94}', "outside 2000-2099"),
        (
            '{"t": "2026-03-01T08:00:00Z", "a": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "nested deeper",
        ),
    ],
)
def test_bad_records_are_one_line_errors(line: str, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        parse_record(line, line=7)
    assert reason in str(info.value) and info.value.line == 7


def test_declared_fields_keep_their_range_and_undeclared_ones_are_kept() -> None:
    assert event_fields_problem("infusion_start", {"planned_min": 45, "note": {"x": 1}}) is None
    assert event_fields_problem("no_such_event", {"anything": float("nan")}) is None
    assert "finite" in str(event_fields_problem("blood_gas", {"ph": float("nan")}))
    assert "≥" in str(event_fields_problem("blood_gas", {"pao2_mmhg": -1}))


@given(st.dictionaries(st.sampled_from(sorted(EVENTS)), st.from_type(object), max_size=1))
@settings(max_examples=50)
def test_any_field_value_is_judged_without_raising(d: dict[str, object]) -> None:
    for name in d:
        spec = EVENTS[name]
        for f in spec.fields:
            event_fields_problem(name, {f: d[name]})


@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
        lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids),
        max_leaves=30,
    )
)
@settings(max_examples=300)
def test_any_json_line_is_a_record_or_a_record_error(value: object) -> None:
    try:
        text = json.dumps({"t": "2026-03-01T08:00:00Z", "bed": "B", "event": "x", "v": value})
    except ValueError:
        return
    with contextlib.suppress(RecordError):
        parse_record(text)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("beds: " + "[" * 5000 + "]" * 5000, 1, "nested deeper"),
        ("beds:\n" + "".join("  " * i + "a:\n" for i in range(1, 500)), 64, "nested deeper"),
    ],
)
def test_deep_yaml_is_one_error(text: str, line: int, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_marked(text, file="x.yaml")
    assert reason in str(info.value) and info.value.line == line and info.value.file == "x.yaml"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**400, 10**16])
def test_the_checker_refuses_non_finite_and_huge_numbers(value: float) -> None:
    with pytest.raises(ConfigError) as info:
        Checker("f.yaml").number(value, 3, "beds[0].x")
    assert info.value.line == 3 and info.value.field == "beds[0].x"


def test_max_depth_is_generous_for_real_records() -> None:
    assert MAX_DEPTH >= 8
