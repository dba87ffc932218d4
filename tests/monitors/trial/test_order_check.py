"""The order check against the study pump's `pump_program` events (pure, no pump)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.model import AlertState, Category, DeviceEvent, EventSource, Observation, Phase
from monitors import default_ruleset
from monitors.trial.order_check import (
    PAUSE_RULE,
    PROGRAMME_RULE,
    OrderCheck,
    StudyOrder,
    TrialEngine,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
BED = "ICU-1"


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def program(s: float, state: str, rate: float, vtbi: float, infused: float = 0.0) -> DeviceEvent:
    return DeviceEvent(
        t=at(s),
        bed=BED,
        event="pump_program",
        device="pump-study",
        fields={"state": state, "rate_ml_h": rate, "vtbi_ml": vtbi, "volume_infused_ml": infused},
    )


def start(s: float) -> DeviceEvent:
    return DeviceEvent(
        t=at(s),
        bed=BED,
        event="infusion_start",
        device="pump-study",
        fields={"weight_kg": 70, "volume_ml": 100, "planned_min": 45, "rate_ml_h": 133},
    )


def end(s: float) -> DeviceEvent:
    return DeviceEvent(t=at(s), bed=BED, event="infusion_end", device="pump-study", fields={})


def test_the_order_for_a_weight() -> None:
    o = StudyOrder()
    assert o.cells(70) == pytest.approx(70e6)
    assert (o.rate_min_ml_h, o.rate_max_ml_h) == (100.0, 200.0)
    d = o.as_dict(82.5)
    assert d["dose_cells"] == pytest.approx(82.5e6)
    assert d["dose_text"] == "82.5 × 10^6 cells"
    assert d["rate_ml_h"] == [100.0, 200.0] and d["duration_min"] == [30.0, 60.0]
    assert o.cells(None) is None and o.cells(0) is None


def test_a_correct_programme_raises_nothing() -> None:
    check = OrderCheck()
    out = check.feed(program(0, "stopped", 133, 100))
    out += check.feed(program(60, "running", 133, 100))
    out += check.feed(start(60))
    out += check.tick(at(3000))
    out += check.feed(program(2760, "completed", 133, 100, 100))
    assert out == []


def test_a_wrong_vtbi_raises_then_ends_when_corrected() -> None:
    check = OrderCheck()
    [a] = check.feed(program(0, "stopped", 133, 150))
    assert a.category is Category.INFUSION_PROBLEM and a.rule == PROGRAMME_RULE
    assert a.phase is Phase.START and a.state is AlertState.ACTIVE and a.iae is False
    assert a.evidence["problems"] == ["VTBI 150 mL, ordered 100 ± 2"]
    assert a.evidence["programme"]["vtbi_ml"] == 150
    assert check.feed(program(10, "stopped", 133, 150)) == []  # nothing new
    [e] = check.feed(program(30, "stopped", 133, 100))
    assert e.phase is Phase.END and e.id == a.id and e.state is AlertState.RESOLVED
    assert e.evidence["ended_by"] == "programme matches the order"


def test_a_wrong_rate_before_start_and_the_tolerance() -> None:
    check = OrderCheck()
    [a] = check.feed(program(0, "stopped", 300, 101.5))  # VTBI inside ± 2 mL
    assert a.evidence["problems"] == ["rate 300 mL/h, allowed 100–200"]
    assert a.evidence["planned_min"] == pytest.approx(20.3)
    # another problem on top: an update of the same episode
    [u] = check.feed(program(5, "stopped", 300, 50))
    assert u.phase is Phase.UPDATE and u.id == a.id and len(u.evidence["problems"]) == 2
    # started anyway: the programme alert stays open while the rate is still wrong
    assert check.feed(program(10, "running", 300, 50)) == []
    [e] = check.feed(program(20, "running", 150, 100))
    assert e.phase is Phase.END


def test_the_delivered_rate_while_running_is_left_to_the_rule_set() -> None:
    check = OrderCheck()
    assert check.feed(program(0, "running", 250, 100)) == []
    assert check.feed(start(0)) == []


def test_a_long_pause_raises_after_five_minutes_with_its_onset() -> None:
    check = OrderCheck()
    check.feed(program(0, "running", 133, 100))
    check.feed(start(0))
    assert check.feed(program(600, "paused", 133, 100, 22.2)) == []
    assert check.tick(at(600 + 299)) == []
    [a] = check.tick(at(900))
    assert a.rule == PAUSE_RULE and a.onset == at(600) and a.phase is Phase.START
    assert a.evidence["held_s"] == 300.0 and a.evidence["pump_state"] == "paused"
    assert a.evidence["volume_infused_ml"] == 22.2
    assert check.tick(at(960)) == []
    [e] = check.feed(program(1000, "running", 133, 100, 22.2))
    assert e.phase is Phase.END and e.evidence["ended_by"] == "pump running again"


def test_a_short_pause_or_one_before_the_infusion_raises_nothing() -> None:
    check = OrderCheck(pause_s=120)
    check.feed(program(0, "paused", 133, 100))  # not started yet
    assert check.tick(at(1000)) == []
    check.feed(start(1000))
    check.feed(program(1000, "running", 133, 100))
    check.feed(program(1100, "alarm", 133, 100))
    check.feed(program(1200, "running", 133, 100))  # 100 s < 120 s
    assert check.tick(at(2000)) == []


def test_a_pause_until_the_end_is_reported_before_it_ends() -> None:
    check = OrderCheck()
    check.feed(start(0))
    check.feed(program(0, "running", 133, 100))
    check.feed(program(60, "stopped", 133, 100))
    out = check.feed(end(600))
    assert [(a.rule, a.phase) for a in out] == [(PAUSE_RULE, Phase.START), (PAUSE_RULE, Phase.END)]


def test_after_the_end_the_pump_may_be_cleared_without_alerts() -> None:
    check = OrderCheck()
    check.feed(program(0, "running", 133, 100))
    check.feed(start(0))
    check.feed(program(2700, "completed", 133, 100, 100))
    assert check.feed(program(2800, "stopped", 0, 20)) == []
    check.reset_bed(BED)
    [a] = check.feed(program(90000, "stopped", 133, 20))
    assert a.rule == PROGRAMME_RULE


def test_latching_and_acknowledgement() -> None:
    check = OrderCheck()
    [a] = check.feed(program(0, "stopped", 133, 150))
    [e] = check.feed(program(10, "stopped", 133, 100))
    assert e.state is AlertState.RESOLVED and e.acked_by is None
    check.acknowledge(a.id, "nina", at(20))
    [b] = check.feed(program(30, "stopped", 133, 150))
    check.acknowledge(b.id, "nina", at(40))
    [e2] = check.feed(program(50, "stopped", 133, 100))
    assert e2.acked_by == "nina" and e2.acked_at == at(40)


def test_clinician_start_fields_are_not_a_pump_programme() -> None:
    check = OrderCheck()
    ev = DeviceEvent(
        t=T0,
        bed=BED,
        event="infusion_start",
        fields={"weight_kg": 70, "volume_ml": 250, "planned_min": 45},
        source=EventSource.CLINICIAN,
    )
    assert check.feed(ev) == []


def test_trial_engine_folds_the_check_into_the_rules_engine() -> None:
    engine = TrialEngine(default_ruleset())
    out: list[Any] = []
    for s in range(0, 1800, 30):
        obs = Observation(t=at(s), bed=BED, code="MDC_PULS_OXIM_SAT_O2", value=95.0, unit="%")
        out += engine.feed(obs)
    out += engine.feed(program(1800, "stopped", 133, 60))
    assert [a.rule for a in out] == [PROGRAMME_RULE]
    engine.acknowledge(out[0].id, "nina", at(1810))
    [e] = engine.feed(program(1820, "stopped", 133, 100))
    assert e.acked_by == "nina" and e.phase is Phase.END
    assert engine.tick(at(1825)) == []
