"""An infusion start seen at reconnection carries its uncertainty into the alert evidence, and
an alert within that uncertainty of a window's edge says so."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from core.model import Alert, Phase
from monitors.engine import InfusionAnchor

H = 3600.0
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
GAP = 120.0  # the pump link was down 2 min before the start was seen


def _vt(
    scenario: Callable[..., Any], make_baseline: Callable[..., Any], s: float, **start: Any
) -> Alert:
    sc = make_baseline(scenario())
    sc.infusion(0, **start)
    sc.event(s, "arrhythmia", rhythm="VT")
    sc.run(until=s + 10)
    [alert] = [a for a in sc.of("arrhythmia") if a.phase is Phase.START]
    assert isinstance(alert, Alert)
    return alert


def test_a_start_seen_at_reconnect_carries_its_gap(scenario: Any, make_baseline: Any) -> None:
    ev = _vt(scenario, make_baseline, 2 * H, seen_at_reconnect=True, gap_s=GAP).evidence
    assert ev["in_window"] is True
    assert ev["infusion_start_time_source"] == "seen_at_reconnect"
    assert ev["infusion_start_uncertainty_s"] == GAP
    assert "window_edge_uncertain" not in ev  # 2 h in: inside the window whatever the start


def test_an_alert_within_the_gap_of_the_window_end_says_so(
    scenario: Any, make_baseline: Any
) -> None:
    alert = _vt(scenario, make_baseline, 6 * H - 60, seen_at_reconnect=True, gap_s=GAP)
    ev = alert.evidence
    # recorded start: in the 6 h window; the true start up to 120 s earlier: maybe not
    assert ev["window_h"] == 6 and ev["in_window"] is True
    assert ev["window_edge_uncertain"] is True


def test_the_same_alert_with_a_live_start_is_certain(scenario: Any, make_baseline: Any) -> None:
    ev = _vt(scenario, make_baseline, 6 * H - 60).evidence
    assert ev["in_window"] is True
    for key in ("infusion_start_time_source", "infusion_start_uncertainty_s"):
        assert key not in ev
    assert "window_edge_uncertain" not in ev


def test_the_pumps_own_time_is_named_and_certain(scenario: Any, make_baseline: Any) -> None:
    ev = _vt(scenario, make_baseline, 6 * H - 60, time_source="pump").evidence
    assert ev["infusion_start_time_source"] == "pump"
    assert "infusion_start_uncertainty_s" not in ev and "window_edge_uncertain" not in ev


def test_a_restored_anchor_gives_the_start_its_certainty_again(
    scenario: Any, make_baseline: Any
) -> None:
    anchor = InfusionAnchor(
        start=T0, device="pump-1", time_source="seen_at_reconnect", uncertainty_s=GAP
    )
    fields = anchor.event("ICU-1").fields
    assert fields["seen_at_reconnect"] is True and fields["gap_s"] == GAP
    ev = _vt(
        scenario,
        make_baseline,
        6 * H - 60,
        **{k: fields[k] for k in ("seen_at_reconnect", "gap_s")},
    ).evidence
    assert ev["window_edge_uncertain"] is True
    pump = InfusionAnchor(start=T0, time_source="pump").event("ICU-1").fields
    assert pump["time_source"] == "pump" and "gap_s" not in pump
