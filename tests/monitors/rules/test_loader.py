"""Rule-set YAML: the shipped set loads; every error names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.model import Category
from monitors import default_ruleset, load_ruleset, parse_ruleset

GOOD = """\
name: test
version: 1
params:
  spo2: [MDC_PULS_OXIM_SAT_O2]
rules:
  - id: low_spo2
    category: hypoxemia
    priority: medium
    title: SpO2 low
    source: test source
    when:
      threshold: {param: spo2, below: 88, hysteresis: 2}
    persist_s: 15
"""


def _err(tmp_path: Path, text: str) -> ConfigError:
    f = tmp_path / "rules.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_ruleset(f)
    assert info.value.file == str(f)
    return info.value


def test_default_ruleset_loads_with_every_category_and_sources() -> None:
    rs = default_ruleset()
    assert {r.category for r in rs.rules} == set(Category)
    assert all(r.source.strip() for r in rs.rules)
    iae = [r for r in rs.rules if r.iae]
    assert iae and all(r.window_only and r.window_h in (6.0, 24.0) for r in iae)
    assert rs.rule("death").window_h == 24 and rs.rule("arrhythmia").window_h == 6
    assert rs.baseline.lookback_s == 1800 and rs.baseline.statistic == "median"


def test_good_file_loads(tmp_path: Path) -> None:
    f = tmp_path / "ok.yaml"
    f.write_text(GOOD)
    rs = load_ruleset(f)
    assert [r.id for r in rs.rules] == ["low_spo2"]
    assert rs.rules[0].persist_s == 15


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        (
            "    priority: medium",
            "    priority: urgent",
            8,
            "rules[0].priority",
            "unknown priority",
        ),
        ("    category: hypoxemia", "    category: hypoxia", 7, "rules[0].category", "hypoxia"),
        ("    persist_s: 15", "    persist_s: -1", 13, "rules[0].persist_s", "≥ 0"),
        ("    persist_s: 15", "    persist: 15", 13, "rules[0].persist", "unknown key"),
        ("below: 88", "below: low", 12, "rules[0].when.threshold.below", "number"),
        ("param: spo2,", "param: sp02,", 12, "rules[0].when.threshold.param", "sp02"),
        (
            "hysteresis: 2}",
            "hysteresis: 2, above: 99}",
            12,
            "rules[0].when.threshold",
            "exactly one",
        ),
        ("    source: test source\n", "", 6, "rules[0].source", "required"),
        # a threshold no SpO2 can cross would switch the rule off without a word
        ("below: 88", "below: 880", 12, "rules[0].when.threshold.below", "0 to 100 %"),
    ],
)
def test_errors_name_file_line_and_field(
    tmp_path: Path, old: str, new: str, line: int, field: str, words: str
) -> None:
    assert old in GOOD
    err = _err(tmp_path, GOOD.replace(old, new))
    assert err.line == line
    assert err.field == field
    assert words in err.message
    assert f"rules.yaml:{line}: {field}:" in str(err)


def test_protocol_iae_needs_a_window(tmp_path: Path) -> None:
    text = GOOD.replace("category: hypoxemia", "category: ventilatory_escalation")
    err = _err(tmp_path, text)
    assert err.field == "rules[0].window_h" and err.line == 6
    assert "protocol IAE" in err.message


def test_iae_cannot_fire_outside_its_window(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    category: hypoxemia",
        "    category: arrhythmia\n    window_h: 6\n    window_only: false",
    )
    err = _err(tmp_path, text)
    assert err.field == "rules[0].window_only" and err.line == 9


def test_duplicate_rule_id_and_duplicate_key(tmp_path: Path) -> None:
    rule = GOOD[GOOD.index("  - id: low_spo2") :]
    err = _err(tmp_path, GOOD + rule)
    assert err.field == "rules[1].id" and err.line == 14 and "first at line 6" in err.message
    err = _err(tmp_path, GOOD.replace("    persist_s: 15", "    persist_s: 15\n    persist_s: 20"))
    assert err.line == 14 and err.field == "persist_s" and "duplicate" in err.message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    err = _err(tmp_path, GOOD.replace("threshold: {param: spo2,", "threshold: {param: [spo2,"))
    assert err.line is not None and 12 <= err.line <= 13
    assert "YAML" in err.message


def test_event_mixed_with_values_needs_a_span(tmp_path: Path) -> None:
    text = GOOD.replace(
        "      threshold: {param: spo2, below: 88, hysteresis: 2}",
        "      all:\n        - threshold: {param: spo2, below: 88}\n"
        "        - event: {name: clinical_sign}",
    )
    err = _err(tmp_path, text)
    assert err.field == "rules[0].when" and "within_s" in err.message
    ok = text.replace(
        "        - event: {name: clinical_sign}",
        "        - event: {name: clinical_sign}\n      within_s: 60",
    )
    rs = parse_ruleset(ok, file="x.yaml")
    assert rs.rules[0].kind == "state"


def test_persistence_does_not_apply_to_event_rules(tmp_path: Path) -> None:
    text = GOOD.replace(
        "      threshold: {param: spo2, below: 88, hysteresis: 2}",
        "      event: {name: death}",
    )
    err = _err(tmp_path, text)
    assert err.field == "rules[0].persist_s" and err.line == 13


def test_unknown_top_level_key_and_missing_file(tmp_path: Path) -> None:
    err = _err(tmp_path, "colour: red\n" + GOOD)
    assert err.line == 1 and err.field == "colour"
    with pytest.raises(ConfigError) as info:
        load_ruleset(tmp_path / "absent.yaml")
    assert "cannot read" in info.value.message


def test_hysteresis_must_be_smaller_than_the_change(tmp_path: Path) -> None:
    text = GOOD.replace(
        "      threshold: {param: spo2, below: 88, hysteresis: 2}",
        "      baseline: {param: spo2, fall: 3, hysteresis: 3}",
    )
    err = _err(tmp_path, text)
    assert err.field == "rules[0].when.baseline.hysteresis" and err.line == 12
