"""Pump readings → observations and events (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from drivers.modbus.codec import PumpReading
from drivers.modbus.pump_events import Evt, Obs, PumpInterpreter


def R(**kw: object) -> PumpReading:
    base: dict[str, object] = {
        "rate_ml_h": 0.0,
        "vtbi_ml": 100.0,
        "volume_infused_ml": 0.0,
        "state": "stopped",
    }
    base.update(kw)
    return PumpReading(**base)  # type: ignore[arg-type]


def events(items: list[Obs | Evt]) -> list[tuple[str, dict[str, object]]]:
    return [(i.name, i.fields) for i in items if isinstance(i, Evt)]


def test_study_pump_start_and_end() -> None:
    p = PumpInterpreter(role="study", weight_kg=lambda: 72.0)
    assert [e for e, _ in events(p.interpret(R()))] == ["pump_program"]
    out = events(p.interpret(R(state="running", rate_ml_h=150.0)))
    assert (
        "infusion_start",
        {"weight_kg": 72.0, "volume_ml": 100.0, "planned_min": 40.0, "rate_ml_h": 150.0},
    ) in out
    assert events(p.interpret(R(state="running", rate_ml_h=150.0, volume_infused_ml=50))) == []
    out = events(
        p.interpret(
            R(
                state="completed",
                rate_ml_h=150.0,
                volume_infused_ml=100,
                alarms=frozenset({"end_of_infusion"}),
            )
        )
    )
    names = [e for e, _ in out]
    assert "infusion_end" in names and ("pump_alarm", {"kind": "end_of_infusion"}) in out


def test_pause_and_resume_is_not_a_new_infusion() -> None:
    p = PumpInterpreter(role="study")
    p.interpret(R())
    p.interpret(R(state="running", rate_ml_h=150.0))
    p.interpret(R(state="paused", rate_ml_h=150.0, volume_infused_ml=20))
    out = events(p.interpret(R(state="running", rate_ml_h=150.0, volume_infused_ml=20)))
    assert [e for e, _ in out] == ["pump_program"]


def test_first_seen_mid_programme_does_not_claim_the_start() -> None:
    p = PumpInterpreter(role="study")
    out = events(p.interpret(R(state="running", rate_ml_h=150.0, volume_infused_ml=40)))
    assert "infusion_start" not in [e for e, _ in out]
    out = events(p.interpret(R(state="completed", rate_ml_h=150.0, volume_infused_ml=100)))
    assert "infusion_end" in [e for e, _ in out]


def test_alarm_edges() -> None:
    p = PumpInterpreter(role="study")
    p.interpret(R(state="running", rate_ml_h=150.0))
    out = events(p.interpret(R(state="alarm", rate_ml_h=150.0, alarms=frozenset({"occlusion"}))))
    assert ("pump_alarm", {"kind": "occlusion"}) in out
    assert ("pump_alarm", {"kind": "occlusion"}) not in events(
        p.interpret(R(state="alarm", rate_ml_h=150.0, alarms=frozenset({"occlusion"})))
    )
    out = events(p.interpret(R(state="running", rate_ml_h=150.0)))
    assert ("pump_alarm_cleared", {"kind": "occlusion"}) in out


def test_norepinephrine_dose_in_ug_min() -> None:
    # 16 mg in 250 mL = 64 ug/mL; 9.4 mL/h × 64 / 60 = 10.03 ug/min
    p = PumpInterpreter(role="vasopressor", drug="Norepinephrine", concentration_ug_ml=64.0)
    out = p.interpret(R(state="running", rate_ml_h=9.4))
    assert out[0] == Obs("IAEW_DOSE_NOREPINEPHRINE", 10.0267, "ug/min")


def test_dopamine_dose_per_kg_with_weight() -> None:
    # 400 mg/250 mL = 1600 ug/mL; 21 mL/h → 560 ug/min; 70 kg → 8 ug/kg/min
    p = PumpInterpreter(
        role="vasopressor", drug="dopamine", concentration_ug_ml=1600.0, weight_kg=lambda: 70.0
    )
    assert p.interpret(R(state="running", rate_ml_h=21.0))[0] == Obs(
        "IAEW_DOSE_DOPAMINE", 8.0, "ug/kg/min"
    )


def test_per_kg_drug_without_weight_is_sent_in_ug_min() -> None:
    p = PumpInterpreter(role="vasopressor", drug="epinephrine", concentration_ug_ml=16.0)
    assert p.interpret(R(state="running", rate_ml_h=15.0))[0] == Obs(
        "IAEW_DOSE_EPINEPHRINE", 4.0, "ug/min"
    )


def test_drug_from_the_pump_library_and_zero_when_stopped() -> None:
    p = PumpInterpreter(role="vasopressor")
    out = p.interpret(
        R(
            state="alarm",
            rate_ml_h=10.0,
            drug="phenylephrine",
            concentration_ug_ml=400.0,
            alarms=frozenset({"occlusion"}),
        )
    )
    assert out[0] == Obs("IAEW_DOSE_PHENYLEPHRINE", 0.0, "ug/min")


def test_vasopressin_dose_in_units_per_minute() -> None:
    # 20 U in 100 mL = 0.2 U/mL; 12 mL/h → 0.04 U/min
    p = PumpInterpreter(role="vasopressor", drug="vasopressin", concentration_ug_ml=0.2)
    assert p.interpret(R(state="running", rate_ml_h=12.0))[0] == Obs(
        "IAEW_DOSE_VASOPRESSIN", 0.04, "U/min"
    )


def test_profile_without_state_register_uses_the_rate() -> None:
    p = PumpInterpreter(role="vasopressor", drug="norepinephrine", concentration_ug_ml=64.0)
    assert p.interpret(R(state=None, rate_ml_h=15.0))[0] == Obs(
        "IAEW_DOSE_NOREPINEPHRINE", 16.0, "ug/min"
    )


def test_a_start_seen_after_an_outage_is_marked_with_the_gap() -> None:
    p = PumpInterpreter(role="study")
    p.interpret(R())
    (start,) = [
        i
        for i in p.interpret(R(state="running", rate_ml_h=150.0), gap_s=31.04)
        if isinstance(i, Evt) and i.name == "infusion_start"
    ]
    assert start.fields["seen_at_reconnect"] is True and start.fields["gap_s"] == 31.0
    assert start.at is None and start.ago_s is None and "time_source" not in start.fields


def test_the_pumps_own_start_time_is_used_when_reported() -> None:
    elapsed = PumpInterpreter(role="study")
    elapsed.interpret(R())
    (by_count,) = [
        i
        for i in elapsed.interpret(R(state="running", rate_ml_h=150.0, infusion_elapsed_s=21.0))
        if isinstance(i, Evt) and i.name == "infusion_start"
    ]
    assert by_count.ago_s == 21.0 and by_count.fields["time_source"] == "pump"
    assert "seen_at_reconnect" not in by_count.fields
    clock = PumpInterpreter(role="study")
    clock.interpret(R())
    (by_clock,) = [
        i
        for i in clock.interpret(
            R(state="running", rate_ml_h=150.0, infusion_started_at=1_772_352_000.0), gap_s=31.0
        )
        if isinstance(i, Evt) and i.name == "infusion_start"
    ]
    assert by_clock.at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert by_clock.fields["time_source"] == "pump" and "gap_s" not in by_clock.fields


def _ends(items: list[Obs | Evt]) -> list[Evt]:
    return [i for i in items if isinstance(i, Evt) and i.name == "infusion_end"]


def test_the_pumps_own_stop_time_and_volume_time_are_used_when_reported() -> None:
    pump = PumpInterpreter(role="study")
    pump.interpret(R())
    pump.interpret(R(state="running", rate_ml_h=150.0, vtbi_ml=100.0, volume_infused_ml=0.0))
    done = R(
        state="completed",
        rate_ml_h=0.0,
        volume_infused_ml=100.0,
        infusion_stopped_at=1_772_354_400.0,
        volume_at=1_772_354_410.0,
    )
    items = pump.interpret(done, gap_s=95.0)
    (end,) = _ends(items)
    assert end.at == datetime(2026, 3, 1, 8, 40, tzinfo=UTC)
    assert end.fields["time_source"] == "pump" and "seen_at_reconnect" not in end.fields
    (volume,) = [i for i in items if isinstance(i, Obs) and i.code == "MDC_VOL_FLUID_DELIV"]
    assert volume.at == datetime(2026, 3, 1, 8, 40, 10, tzinfo=UTC)


def test_an_end_first_seen_after_an_outage_carries_the_gap() -> None:
    pump = PumpInterpreter(role="study")
    pump.interpret(R())
    pump.interpret(R(state="running", rate_ml_h=150.0, vtbi_ml=100.0, volume_infused_ml=0.0))
    (end,) = _ends(pump.interpret(R(state="completed", rate_ml_h=0.0), gap_s=95.04))
    assert end.at is None and end.ago_s is None
    assert end.fields["seen_at_reconnect"] is True and end.fields["gap_s"] == 95.0
    pump2 = PumpInterpreter(role="study")
    pump2.interpret(R())
    pump2.interpret(R(state="running", rate_ml_h=150.0, vtbi_ml=100.0, volume_infused_ml=0.0))
    (plain,) = _ends(pump2.interpret(R(state="completed", rate_ml_h=0.0)))
    assert "seen_at_reconnect" not in plain.fields and "time_source" not in plain.fields
