"""Protocol IAEs (START table): true positives, true negatives, windows, vasopressor rules."""

from __future__ import annotations

from core.model import DeviceEvent, EventSource, Observation, Phase, Priority
from tests.monitors.conftest import at

H = 3600.0


def _started(sc, rule: str):  # type: ignore[no-untyped-def]
    return [a for a in sc.of(rule) if a.phase is Phase.START]


# -- vasopressor escalation ---------------------------------------------------------------
def test_norepinephrine_increased_across_threshold_is_an_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), norepi=5)
    sc.infusion(0)
    sc.steady(0, 1200, 10.0, norepi=lambda s: 5 if s < 600 else 12)
    sc.run(until=1300)
    starts = _started(sc, "vasopressor_escalation")
    assert len(starts) == 1
    a = starts[0]
    assert a.iae is True and a.category == "vasopressor_escalation"
    assert a.evidence["values"]["IAEW_DOSE_NOREPINEPHRINE"] == 12
    assert a.evidence["baseline"]["IAEW_DOSE_NOREPINEPHRINE"] == 5
    assert a.evidence["over_threshold"] == {"IAEW_DOSE_NOREPINEPHRINE": 10}
    # 60 s persistence, onset at the increase
    assert a.onset.isoformat() == "2026-03-01T08:10:00+00:00"
    assert (a.t - a.onset).total_seconds() == 60


def test_already_above_threshold_without_increase_is_no_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), norepi=15)
    sc.infusion(0)
    sc.steady(0, 3 * H, 10.0, norepi=15)
    sc.run(until=3 * H)
    assert sc.of("vasopressor_escalation") == []


def test_above_threshold_and_increased_further_is_an_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), norepi=15)
    sc.infusion(0)
    sc.steady(0, 1200, 10.0, norepi=lambda s: 15 if s < 600 else 20)
    sc.run(until=1300)
    assert len(_started(sc, "vasopressor_escalation")) == 1


def test_increase_below_threshold_is_no_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), norepi=2)
    sc.infusion(0)
    sc.steady(0, 1200, 10.0, norepi=lambda s: 2 if s < 600 else 9)
    sc.run(until=1300)
    assert sc.of("vasopressor_escalation") == []


def test_third_vasopressor_added_is_an_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), norepi=8, vaso=0.03)
    sc.infusion(0)
    sc.steady(0, 1200, 10.0, norepi=8, vaso=0.03, phenyl=lambda s: 0 if s < 600 else 40)
    sc.run(until=1300)
    starts = _started(sc, "vasopressor_escalation")
    assert len(starts) == 1
    ev = starts[0].evidence
    assert ev["agents_at_infusion_start"] == 2
    assert ev["agents_running"] == [
        "IAEW_DOSE_NOREPINEPHRINE",
        "IAEW_DOSE_PHENYLEPHRINE",
        "IAEW_DOSE_VASOPRESSIN",
    ]


def test_three_agents_already_running_is_no_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), norepi=8, vaso=0.03, phenyl=40)
    sc.infusion(0)
    sc.steady(0, 1200, 10.0, norepi=8, vaso=0.03, phenyl=40)
    sc.run(until=1300)
    assert sc.of("vasopressor_escalation") == []


def test_dose_in_ug_kg_min_is_converted_with_the_weight(scenario, make_baseline) -> None:
    # 0.1 ug/kg/min × 80 kg = 8 ug/min (below 10); 0.15 × 80 = 12 ug/min (above)
    sc = make_baseline(scenario())
    sc.series(-1800, 0, 60.0, norepi=0.1)  # before the weight is known: waits for it
    sc.msgs = [
        m if getattr(m, "code", "") != "IAEW_DOSE_NOREPINEPHRINE" else _with_unit(m, "ug/kg/min")
        for m in sc.msgs
    ]
    sc.infusion(0, weight_kg=80)
    sc.run(until=1)
    bed = sc.engine.beds()[0]
    assert bed.pre_infusion_doses["IAEW_DOSE_NOREPINEPHRINE"] == 8.0
    sc.series(0, 900, 10.0, norepi=lambda s: 0.1 if s < 300 else 0.15)
    sc.msgs = [_with_unit(m, "mcg/kg/min") for m in sc.msgs]
    sc.run(until=1000)
    starts = _started(sc, "vasopressor_escalation")
    assert len(starts) == 1
    assert starts[0].evidence["values"]["IAEW_DOSE_NOREPINEPHRINE"] == 12.0


def _with_unit(m, unit):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(m, unit=unit)


def test_vasopressor_increase_after_6_h_is_no_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), norepi=5)
    sc.infusion(0)
    sc.steady(0, 7 * H, 30.0, norepi=lambda s: 5 if s < 6.5 * H else 14)
    sc.run(until=7 * H)
    assert sc.of("vasopressor_escalation") == []


def test_no_infusion_no_iae(scenario) -> None:
    sc = scenario()
    sc.steady(0, 1200, 10.0, norepi=lambda s: 2 if s < 600 else 20)
    sc.event(300, "arrhythmia", rhythm="VT")
    sc.event(400, "clinical_sign", sign="urticaria", source=EventSource.CLINICIAN)
    sc.run(until=1300)
    assert [a for a in sc.alerts if a.iae] == []
    assert sc.of("vasopressor_escalation") == []


# -- arrhythmia ---------------------------------------------------------------------------
def test_vt_in_window_is_a_high_priority_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.event(2 * H, "arrhythmia", rhythm="VT")
    sc.event(2 * H + 20, "cardioversion", source=EventSource.CLINICIAN)
    sc.run(until=2 * H + 30)
    arr = sc.of("arrhythmia")
    assert [a.phase for a in arr] == [Phase.START, Phase.UPDATE]  # one episode
    assert all(a.iae and a.priority is Priority.HIGH for a in arr)
    assert arr[0].evidence["fields"] == {"rhythm": "VT"}
    assert arr[1].evidence["count"] == 2


def test_vt_outside_window_is_an_early_warning_not_an_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.event(-600, "arrhythmia", rhythm="VF")  # before the infusion
    sc.infusion(0)
    sc.event(7 * H, "arrhythmia", rhythm="asystole")  # after 6 h
    sc.run(until=7 * H + 10)
    arr = [a for a in sc.of("arrhythmia") if a.phase is Phase.START]
    assert len(arr) == 2
    assert all(a.iae is False and a.evidence["in_window"] is False for a in arr)


def test_af_is_not_an_arrhythmia_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.event(600, "arrhythmia", rhythm="AF")
    sc.run(until=700)
    assert sc.of("arrhythmia") == []
    (a,) = sc.of("tachyarrhythmia_event")
    assert a.iae is False and a.category == "tachycardia"


# -- ventilatory escalation -----------------------------------------------------------------
def test_fio2_and_peep_raised_and_held_is_an_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    up = 1800
    sc.steady(
        0,
        up + 900,
        5.0,
        fio2=lambda s: 50 if s < up else 70,
        peep=lambda s: 10 if s < up else 15,
        spo2=lambda s: 94 if s < up else 90,
    )
    sc.run(until=up + 900)
    (a,) = _started(sc, "ventilatory_escalation")
    assert a.iae and a.evidence["baseline"] == {
        "MDC_VENT_CONC_AWAY_O2_INSP": 50.0,
        "MDC_PRESS_AWAY_END_EXP_POS": 10.0,
    }
    assert a.evidence["context"]["MDC_PULS_OXIM_SAT_O2"] == 90
    assert (a.t - a.onset).total_seconds() == 300  # held 5 min


def test_fio2_alone_or_suction_preoxygenation_is_no_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    # FiO2 up alone for an hour; then FiO2 100 % + PEEP +5 for 2 min (suction, recruitment)
    sc.steady(
        0,
        2 * H,
        5.0,
        fio2=lambda s: 75 if s < H else (100 if 1.5 * H <= s < 1.5 * H + 120 else 50),
        peep=lambda s: 15 if 1.5 * H <= s < 1.5 * H + 120 else 10,
    )
    sc.run(until=2 * H)
    assert sc.of("ventilatory_escalation") == []


# -- transfusion reaction, cardiac arrest, death -------------------------------------------
def test_transfusion_reaction_signs(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.event(1200, "clinical_sign", sign="urticaria", source=EventSource.CLINICIAN)
    sc.event(1300, "clinical_sign", sign="Wheeze", source=EventSource.CLINICIAN)
    sc.event(1400, "clinical_sign", sign="rash", source=EventSource.CLINICIAN)
    sc.event(7 * H, "clinical_sign", sign="angioedema", source=EventSource.CLINICIAN)
    sc.run(until=7 * H + 10)
    reactions = [a for a in sc.of(category="transfusion_reaction") if a.phase is Phase.START]
    # issue 13: urticaria then wheeze within 30 min is also the anaphylaxis composite, and a
    # rash is a skin-sign warning (not a START IAE on its own)
    assert [(a.rule, a.priority, a.iae) for a in reactions] == [
        ("transfusion_reaction_skin", Priority.MEDIUM, True),
        ("transfusion_reaction_airway", Priority.HIGH, True),
        ("anaphylaxis", Priority.HIGH, True),
        ("skin_sign", Priority.LOW, False),
    ]


def test_cardiac_arrest_and_death_within_24_h(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.event(20 * H, "cardiac_arrest", source=EventSource.CLINICIAN)
    sc.event(23 * H, "death", source=EventSource.CLINICIAN)
    sc.run(until=25 * H)
    assert [(a.rule, a.phase.value, a.iae) for a in sc.of("cardiac_arrest")] == [
        ("cardiac_arrest", "start", True)
    ]
    assert [(a.phase.value, a.iae) for a in sc.of("death")] == [("start", True)]


def test_cardiac_arrest_after_24_h_is_not_an_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.event(25 * H, "cardiac_arrest", source=EventSource.CLINICIAN)
    sc.run(until=25 * H + 10)
    assert sc.of("cardiac_arrest") == []


def test_window_end_closes_an_open_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), norepi=5)
    sc.infusion(0)
    sc.steady(0, 7 * H, 30.0, norepi=lambda s: 5 if s < 5 * H else 14)
    sc.run(until=7 * H)
    phases = [(a.phase.value, a.evidence.get("ended_by")) for a in sc.of("vasopressor_escalation")]
    assert phases == [("start", None), ("end", "6 h window ended")]


def test_a_syringe_change_on_two_pumps_reads_the_running_dose(scenario, make_baseline) -> None:
    # norepinephrine 8 ug/min on pump A; at +10 min the next syringe starts on pump B at the
    # same rate, A runs on for 3 min ("double pumping") and then stops, still connected and
    # reporting 0; at +30 min B is titrated to 14: the IAE is the titration, not the change
    sc = make_baseline(scenario(), norepi=8)
    sc.infusion(0)
    sc.steady(0, 3600, 10.0)
    sc.series(0, 3600, 10.0, device="pump-a", norepi=lambda s: 8 if s < 780 else 0)
    sc.series(600, 3600, 10.0, device="pump-b", norepi=lambda s: 8 if s < 1800 else 14)
    sc.run(until=3600)
    (a,) = _started(sc, "vasopressor_escalation")
    assert a.evidence["values"]["IAEW_DOSE_NOREPINEPHRINE"] == 14
    assert 1800 <= a.onset.timestamp() - at(0).timestamp() <= 1810
    assert not [k for k in sc.engine.warnings if k.startswith("second_source")]


def test_two_pumps_of_one_agent_give_the_higher_and_a_pump_replaces_an_entry(scenario) -> None:
    engine = scenario().engine
    code = "IAEW_DOSE_NOREPINEPHRINE"

    def dose(s: float, value: float, device: str | None) -> float | None:
        engine.feed(
            Observation(t=at(s), bed="ICU-1", code=code, value=value, unit="ug/min", device=device)
        )
        return engine._beds["ICU-1"].series[code].value

    assert dose(0, 6.0, None) == 6.0  # a clinician's entry
    assert dose(10, 8.0, "pump-a") == 8.0
    assert dose(11, 0.0, "pump-b") == 8.0  # B connected, not running
    assert dose(20, 4.0, "pump-a") == 4.0  # titrated down: the entry of 6 no longer counts
    assert dose(21, 5.0, "pump-b") == 5.0
    assert dose(30, 0.0, "pump-a") == 5.0
    assert dose(31, 0.0, "pump-b") == 0.0
    assert dose(40, 9.0, "pump-a") == 9.0
    engine.feed(DeviceEvent(t=at(41), bed="ICU-1", event="device_disconnected", device="pump-a"))
    assert dose(42, 3.0, "pump-b") == 3.0  # A taken off the bed: its 9 no longer counts
