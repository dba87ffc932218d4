"""Issue 13 items 3, 4, 5 and 8: "new" sustained VT, unknown pre-infusion vasopressors,
transfusion-related infection and anaphylaxis, hypertension, extubation."""

from __future__ import annotations

from core.model import EventSource, Phase, Priority

H = 3600.0
C = EventSource.CLINICIAN


def _starts(sc, rule):  # type: ignore[no-untyped-def]
    return [a for a in sc.of(rule) if a.phase is Phase.START]


# -- item 3: new, sustained VT --------------------------------------------------------------
def test_non_sustained_vt_is_a_warning_not_an_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.event(600, "arrhythmia", rhythm="VT", sustained=False)
    sc.run(until=700)
    assert sc.of("arrhythmia") == []
    (a,) = _starts(sc, "ventricular_run_not_new")
    assert a.iae is False and a.category == "arrhythmia"


def test_vt_already_present_before_the_infusion_is_not_new(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.event(-1200, "arrhythmia", rhythm="VT")
    sc.infusion(0)
    sc.event(1800, "arrhythmia", rhythm="VT")
    sc.event(2400, "arrhythmia", rhythm="VF")  # VF was not there before: new
    sc.run(until=2500)
    iae = [a for a in _starts(sc, "arrhythmia") if a.iae]
    assert len(iae) == 1 and iae[0].evidence["fields"]["rhythm"] == "VF"
    (warn,) = [
        a
        for a in _starts(sc, "ventricular_run_not_new")
        if a.onset >= iae[0].onset.replace(minute=30)
    ]
    assert warn.evidence["fields"]["present_before_infusion"] is True


def test_sustained_new_vt_is_an_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.event(600, "arrhythmia", rhythm="VT", sustained=True)
    sc.run(until=700)
    (a,) = _starts(sc, "arrhythmia")
    assert a.iae is True


# -- item 4: unknown is not zero ------------------------------------------------------------
def test_an_agent_first_seen_after_the_start_cannot_make_a_third(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), norepi=8, vaso=0.03)
    sc.infusion(0)
    sc.series(0, 2 * H, 10.0, norepi=8, vaso=0.03)
    for t in range(int(H), int(2 * H), 10):
        sc.obs(t, "IAEW_DOSE_METARAMINOL", 50.0, unit="ug/min")
    sc.run(until=2 * H)
    assert sc.of("vasopressor_escalation") == []


def test_pump_connecting_late_at_an_unchanged_dose_is_no_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.series(1800, 3 * H, 10.0, norepi=12)
    sc.run(until=3 * H)
    assert [a for a in sc.alerts if a.rule == "vasopressor_escalation"] == []


def test_confirmed_none_before_makes_a_new_pump_an_increase(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.event(-600, "vasopressor_status", status="none", source=C)
    sc.infusion(0)
    sc.series(1800, 3 * H, 10.0, norepi=12)
    sc.run(until=3 * H)
    (a,) = _starts(sc, "vasopressor_escalation")
    assert a.evidence["baseline"]["IAEW_DOSE_NOREPINEPHRINE"] == 0.0


def test_confirmed_dose_before_makes_an_unchanged_pump_no_increase(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.event(
        -600,
        "vasopressor_status",
        status="running",
        drug="norepinephrine",
        dose=0.17,
        unit="ug/kg/min",
        source=C,
    )
    sc.infusion(0)  # 70 kg: 0.17 ug/kg/min = 11.9 ug/min
    sc.series(1800, 2 * H, 10.0, norepi=lambda s: 11.9 if s < H else 20)
    sc.run(until=2 * H)
    (a,) = _starts(sc, "vasopressor_escalation")
    assert a.onset.timestamp() - sc.engine.beds()[0].infusion_start.timestamp() == H  # type: ignore[union-attr]


def test_metaraminol_counts_toward_a_third_vasopressor(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), norepi=8, vaso=0.03)
    # the nurse confirms what ran before: norepinephrine 8 (so, no metaraminol)
    sc.event(
        -300,
        "vasopressor_status",
        status="running",
        drug="norepinephrine",
        dose=8,
        unit="ug/min",
        source=C,
    )
    sc.infusion(0)
    sc.series(0, 2 * H, 10.0, norepi=8, vaso=0.03)
    for t in range(int(H), int(2 * H), 10):
        sc.obs(t, "IAEW_DOSE_METARAMINOL", 50.0, unit="ug/min")
    sc.run(until=2 * H)
    (a,) = _starts(sc, "vasopressor_escalation")
    assert "IAEW_DOSE_METARAMINOL" in a.evidence["agents_running"]


# -- item 5: transfusion-related infection, anaphylaxis ---------------------------------------
def test_fever_with_rigors_is_a_candidate_infection_iae(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), temp=37.2)
    sc.infusion(0)
    sc.steady(0, 3 * H, 10.0, temp=lambda s: 37.2 if s < H else 38.6)
    sc.event(H + 600, "clinical_sign", sign="rigors", source=C)
    sc.run(until=3 * H)
    (a,) = _starts(sc, "transfusion_infection")
    assert a.iae is True and a.priority is Priority.HIGH
    assert "clinician to confirm" in a.message


def test_fever_alone_is_no_infection_candidate(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), temp=37.2)
    sc.infusion(0)
    sc.steady(0, 3 * H, 10.0, temp=lambda s: 37.2 if s < H else 38.6)
    sc.run(until=3 * H)
    assert sc.of("transfusion_infection") == [] and _starts(sc, "fever")


def test_flushing_with_bronchospasm_is_anaphylaxis(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.event(900, "clinical_sign", sign="flushing", source=C)
    sc.event(1200, "clinical_sign", sign="bronchospasm", source=C)
    sc.steady(0, 1500, 10.0)
    sc.run(until=1500)
    (a,) = _starts(sc, "anaphylaxis")
    assert a.iae is True and a.priority is Priority.HIGH
    (skin,) = _starts(sc, "skin_sign")
    assert skin.iae is False


# -- item 8 ---------------------------------------------------------------------------------
def test_hypertension_over_180_or_30_percent_during_the_infusion(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), sbp=120)
    sc.infusion(0)
    sc.steady(0, 1800, 5.0, sbp=lambda s: 165 if 600 <= s < 1200 else 120)  # +37 %
    sc.event(2700, "infusion_end")
    sc.steady(1800, 2 * H, 5.0, sbp=lambda s: 165 if s >= H else 120)  # after: not > 180
    sc.run(until=2 * H)
    (a,) = _starts(sc, "hypertension")
    assert a.category == "hypertension" and a.iae is False
    assert a.onset.timestamp() - sc.engine.beds()[0].infusion_start.timestamp() == 600  # type: ignore[union-attr]


def test_stale_ventilator_ends_after_extubation(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.steady(0, H, 5.0)
    sc.series(H, 2 * H, 5.0, spo2=94, hr=90, map=80)
    sc.event(H + 600, "extubation", source=C)
    sc.run(until=2 * H)
    assert sc.phases("stale_ventilator") == ["start", "end"]
    assert sc.of("stale_ventilator")[-1].evidence["ended_by"] == "extubation"


def test_no_stale_ventilator_when_extubated_before_data_stop(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.event(H - 10, "extubation", source=C)
    sc.steady(0, H, 5.0)
    sc.series(H, 2 * H, 5.0, spo2=94, hr=90, map=80)
    sc.run(until=2 * H)
    assert sc.of("stale_ventilator") == []


# -- item 7: rules that cannot assess say so ------------------------------------------------
def test_rules_that_cannot_assess_are_listed_at_infusion_start(scenario, make_baseline) -> None:
    # no EtCO2 and no arterial/cuff systolic; FiO2 85 % before the infusion
    sc = make_baseline(scenario(), etco2=lambda s: None, sbp=lambda s: None, fio2=85)
    sc.infusion(0)
    sc.steady(0, 600, 5.0, etco2=lambda s: None, sbp=lambda s: None, fio2=85)
    sc.series(300, 600, 10.0, norepi=12)  # a pump connecting late: pre-dose unknown
    sc.run(until=600)
    first, *later = sc.of("rules_cannot_assess")
    assert first.phase is Phase.START and first.category == "technical"
    lacks = later[-1].evidence["cannot_assess"]
    assert "etco2: never measured at this bed" in lacks["embolism_pattern"]
    assert any("ceiling" in x for x in lacks["ventilatory_escalation"])
    assert lacks["vasopressor_escalation"] == [
        "IAEW_DOSE_NOREPINEPHRINE: pre-infusion dose unknown (confirm it)"
    ]
    assert sc.engine.beds()[0].cannot_assess == lacks


def test_every_sign_a_rule_reads_can_be_entered_through_the_api() -> None:
    import typing

    from app import schemas
    from core.vocabulary import SIGNS

    entry = next(
        c
        for c in vars(schemas).values()
        if isinstance(c, type) and "sign" in getattr(c, "__annotations__", {})
    )
    assert set(typing.get_args(typing.get_type_hints(entry)["sign"])) == set(SIGNS)


def test_a_nurse_enters_the_confirmed_pre_infusion_vasopressor_status() -> None:
    import pydantic
    import pytest

    from app.schemas import VasopressorStatusIn

    ok = VasopressorStatusIn.model_validate(
        {
            "event": "vasopressor_status",
            "status": "running",
            "drug": "Metaraminol",
            "dose": 0.5,
            "unit": "mg/h",
        }
    )
    assert ok.drug == "Metaraminol"
    VasopressorStatusIn.model_validate({"event": "vasopressor_status", "status": "none"})
    for bad in (
        {"drug": "coffee", "dose": 1, "unit": "ug/min"},
        {"drug": "norepinephrine", "dose": 1, "unit": "mL/h"},
        {"drug": "norepinephrine"},
    ):
        with pytest.raises(pydantic.ValidationError):
            VasopressorStatusIn.model_validate(
                {"event": "vasopressor_status", "status": "running", **bad}
            )
