"""Rule sets name events and event fields from the vocabulary (core.vocabulary): a typo is an
error naming file, line and field, with the near miss, never a rule that silently never fires.
Numbers are finite."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.vocabulary import EVENTS
from monitors import default_ruleset, load_ruleset
from monitors.rules.conditions import EventMatch, walk

SHIPPED = Path(__file__).parents[3] / "monitors" / "rules" / "rulesets" / "ucmsc_ards.yaml"

PUMP = """\
name: test
version: 1
rules:
  - id: pump_occlusion
    category: infusion_problem
    priority: medium
    title: Pump alarm
    source: test source
    when:
      event: {name: pump_alarm, match: {kind: [occlusion]}}
    key: kind
    ends_on: {name: pump_alarm_cleared}
"""


def _err(tmp_path: Path, text: str) -> ConfigError:
    f = tmp_path / "rules.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_ruleset(f)
    assert info.value.file == str(f)
    return info.value


def test_the_pump_rule_loads(tmp_path: Path) -> None:
    f = tmp_path / "ok.yaml"
    f.write_text(PUMP)
    (rule,) = load_ruleset(f).rules
    assert rule.key == "kind" and rule.ends_on is not None


def test_unknown_event_name_names_file_line_field_and_the_near_miss(tmp_path: Path) -> None:
    err = _err(tmp_path, PUMP.replace("name: pump_alarm,", "name: pump_alrm,"))
    assert err.line == 10 and err.field == "rules[0].when.event.name"
    assert "unknown event 'pump_alrm'" in err.message and "'pump_alarm'" in err.message
    assert "rules.yaml:10: rules[0].when.event.name:" in str(err)


def test_unknown_event_in_a_list_of_names(tmp_path: Path) -> None:
    text = PUMP.replace("name: pump_alarm,", "name: [pump_alarm, deth],")
    err = _err(tmp_path, text)
    assert err.line == 10 and err.field == "rules[0].when.event.name[1]"
    assert "'death'" in err.message


def test_unknown_ending_event(tmp_path: Path) -> None:
    err = _err(tmp_path, PUMP.replace("pump_alarm_cleared", "pump_alarm_clear"))
    assert err.line == 12 and err.field == "rules[0].ends_on.name"
    assert "'pump_alarm_cleared'" in err.message


def test_unknown_match_field(tmp_path: Path) -> None:
    err = _err(tmp_path, PUMP.replace("match: {kind:", "match: {knd:"))
    assert err.line == 10 and err.field == "rules[0].when.event.match.knd"
    assert "'pump_alarm' has no field 'knd'" in err.message and "'kind'" in err.message


def test_pairing_key_must_be_a_field_of_both_events(tmp_path: Path) -> None:
    err = _err(tmp_path, PUMP.replace("    key: kind", "    key: sort"))
    assert err.line == 11 and err.field == "rules[0].key"
    assert "no field 'sort'" in err.message
    # `device` is always a key: the event's device field, else its sender
    f = tmp_path / "device.yaml"
    f.write_text(PUMP.replace("    key: kind", "    key: device"))
    assert load_ruleset(f).rules[0].key == "device"


def test_a_nan_threshold_is_refused(tmp_path: Path) -> None:
    text = PUMP.replace(
        "      event: {name: pump_alarm, match: {kind: [occlusion]}}\n"
        "    key: kind\n"
        "    ends_on: {name: pump_alarm_cleared}\n",
        "      threshold: {param: MDC_PULS_OXIM_SAT_O2, below: .nan}\n",
    ).replace("infusion_problem", "hypoxemia")
    err = _err(tmp_path, text)
    assert err.line == 10 and err.field == "rules[0].when.threshold.below"
    assert "finite" in err.message


def test_a_nan_match_bound_is_refused(tmp_path: Path) -> None:
    text = PUMP.replace(
        "{name: pump_alarm, match: {kind: [occlusion]}}",
        "{name: infusion_end, match: {duration_min: {below: .nan}}}",
    ).replace("    key: kind\n    ends_on: {name: pump_alarm_cleared}\n", "")
    err = _err(tmp_path, text)
    assert err.line == 10 and err.field == "rules[0].when.event.match.duration_min.below"
    assert "finite" in err.message


def test_a_typo_in_the_shipped_set_is_caught_where_it_is(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    lines = text.splitlines()
    line = next(i for i, x in enumerate(lines, 1) if "event: {name: pump_alarm," in x)
    index = sum(1 for x in lines[:line] if x.startswith("  - id: ")) - 1
    err = _err(tmp_path, text.replace("event: {name: pump_alarm,", "event: {name: pump_alrm,", 1))
    assert err.line == line and err.field == f"rules[{index}].when.event.name"
    assert "did you mean 'pump_alarm'" in err.message


def test_every_event_the_shipped_set_names_is_in_the_vocabulary() -> None:
    named: set[str] = set()
    for rule in default_ruleset().rules:
        leaves = [c for c in walk(rule.when) if isinstance(c, EventMatch)]
        if rule.ends_on is not None:
            leaves.append(rule.ends_on)
        for leaf in leaves:
            named |= leaf.names
            for m in leaf.match:
                assert all(m.field in EVENTS[n].fields for n in leaf.names), (rule.id, m.field)
    assert named and named <= set(EVENTS)
