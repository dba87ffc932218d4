"""The vocabulary registry and the one YAML checker: unknown names are errors that say where."""

from __future__ import annotations

import pytest

from core.check import Checker
from core.errors import ConfigError
from core.model import Category
from core.vocabulary import CATEGORIES, EVENTS, PROTOCOLS, event_field, event_spec
from core.yamlfile import load_marked


def test_the_registry_holds_design_md_vocabulary() -> None:
    for name in ("infusion_start", "infusion_end", "pump_alarm", "arrhythmia", "cardioversion",
                 "clinical_sign", "cardiac_arrest", "death", "blood_gas", "device_connected",
                 "device_disconnected"):  # fmt: skip
        assert name in EVENTS
    assert "VT" in EVENTS["arrhythmia"].fields["rhythm"].values
    assert set(CATEGORIES) == set(Category)
    assert {p.kind for p in PROTOCOLS.values()} == {"pump", "ventilator", "monitor"}


def test_an_unknown_event_names_file_line_field_and_the_near_miss() -> None:
    with pytest.raises(ConfigError) as info:
        event_spec("pump_alrm", file="rules.yaml", line=12, field="rules[3].when.event.name")
    assert str(info.value) == (
        "rules.yaml:12: rules[3].when.event.name: unknown event 'pump_alrm'"
        " (did you mean 'pump_alarm'?)"
    )


def test_an_undeclared_field_is_named() -> None:
    with pytest.raises(ConfigError, match=r"has no field 'rythm'.*did you mean 'rhythm'"):
        event_field(EVENTS["arrhythmia"], "rythm", file="f.yaml", line=3, field="match.rythm")


def test_checker_walks_the_marked_tree() -> None:
    doc = load_marked("a: 1\nb:\n  - x\n  - .nan\nevent: pump_alrm\nflag: yes\n", file="f.yaml")
    c = Checker("f.yaml")
    assert c.number(doc["a"], doc.line_of("a"), "a") == 1.0
    seq = c.seq(doc["b"], doc.line_of("b"), "b")
    items = list(c.items(seq, "b"))
    assert [(i, line, f) for i, _item, line, f in items] == [(0, 3, "b[0]"), (1, 4, "b[1]")]
    with pytest.raises(ConfigError, match=r"f.yaml:4: b\[1\]: must be a finite number"):
        c.number(items[1][1], items[1][2], items[1][3])
    with pytest.raises(ConfigError, match=r"f.yaml:5: event: unknown event 'pump_alrm'"):
        c.event(doc["event"], doc.line_of("event"), "event")
    with pytest.raises(ConfigError, match=r"f.yaml:1: unknwn: unknown key \(did you mean"):
        c.keys(load_marked("unknwn: 1\n"), "", {"unknown", "other"})
    with pytest.raises(ConfigError, match="must be a number, got a boolean"):
        c.number(True, 6, "flag")
