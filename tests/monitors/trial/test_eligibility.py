"""The eligibility checklist: each item met / not met / unknown, missing data never met."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitors.trial.eligibility import (
    EXCLUSIONS,
    Answer,
    Criteria,
    Facts,
    GasFacts,
    Status,
    Verdict,
    evaluate,
)
from monitors.trial.enrolment import (
    Airway,
    AirwayKind,
    Body,
    Confirmation,
    Consent,
    Consenter,
    Imaging,
    Modality,
    Sex,
    VentSample,
)

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def gas(
    hours_before: float, pao2: float | None, fio2: float | None, peep: float | None = 12.0
) -> GasFacts:
    return GasFacts(
        t=NOW - timedelta(hours=hours_before),
        pao2_mmhg=pao2,
        fio2_pct=fio2,
        fio2_source="ventilator",
        peep_cmh2o=peep,
        peep_source="ventilator",
    )


ALL_ABSENT = {
    i: Answer(present=False, by="dr.lee", t=NOW - timedelta(hours=1)) for i, _ in EXCLUSIONS
}


def facts(**kw: object) -> Facts:
    base: dict[str, object] = {
        "now": NOW,
        "age_years": 54,
        "ards_onset": NOW - timedelta(hours=40),
        "consent": Consent(
            consenter=Consenter.LEGAL_REPRESENTATIVE,
            consenter_name="Wang Li (spouse)",
            t=NOW - timedelta(hours=11),
            taken_by="coord.chen",
        ),
        "imaging": Imaging(
            modality=Modality.CT, t=NOW - timedelta(hours=20), reader="dr.zhao", bilateral=True
        ),
        "airway": Airway(
            kind=AirwayKind.ENDOTRACHEAL_TUBE, confirmed_by="dr.lee", t=NOW - timedelta(hours=1)
        ),
        # male, 175 cm: PBW 50 + 0.91 × 22.6 = 70.566 kg
        "body": Body(height_cm=175, sex=Sex.MALE),
        "ventilation": [
            VentSample(t=NOW - timedelta(hours=h), vt_ml=420, pplat_cmh2o=27) for h in range(10)
        ],
        # P/F 72/0.6 = 120, then 65/0.6 = 108.3 (−9.7 %)
        "gases": [gas(10, 72, 60), gas(0.5, 65, 60)],
        "answers": ALL_ABSENT,
    }
    base.update(kw)
    return Facts(**base)  # type: ignore[arg-type]


def status(check: object, item: str) -> Status:
    for i in check.items:  # type: ignore[attr-defined]
        if i.id == item:
            return i.status  # type: ignore[no-any-return]
    raise KeyError(item)


def test_everything_met_is_eligible() -> None:
    check = evaluate(facts())
    assert check.verdict is Verdict.ELIGIBLE and check.eligible
    assert all(i.status is Status.MET for i in check.items)
    pf = next(i for i in check.items if i.id == "pf_below_200")
    assert pf.value == pytest.approx(108.3) and "blood gas" in pf.source
    persistent = next(i for i in check.items if i.id == "pf_persistent")
    assert persistent.value == {"first_pf": 120.0, "second_pf": 108.3, "change_pct": -9.7}


def test_missing_data_is_unknown_never_met() -> None:
    check = evaluate(
        facts(
            age_years=None,
            ards_onset=None,
            gases=[],
            answers={},
            consent=None,
            imaging=None,
            airway=None,
            body=None,
            ventilation=[],
        )
    )
    assert check.verdict is Verdict.INCOMPLETE
    assert all(i.status is Status.UNKNOWN for i in check.items)


@pytest.mark.parametrize(
    ("change", "item"),
    [
        ({"age_years": 17}, "age"),
        ({"ards_onset": NOW - timedelta(hours=97)}, "onset_within_96h"),
        ({"gases": [gas(10, 72, 60), gas(0.5, 130, 60)]}, "pf_below_200"),  # P/F 216.7
        ({"gases": [gas(10, 72, 60), gas(0.5, 65, 60, peep=6)]}, "peep_at_least_8"),
        # 72/0.6 = 120 → 90/0.6 = 150: +25 % improvement (still < 200)
        ({"gases": [gas(10, 72, 60), gas(0.5, 90, 60)]}, "pf_persistent"),
    ],
)
def test_one_failing_criterion_makes_the_record_ineligible(
    change: dict[str, object], item: str
) -> None:
    check = evaluate(facts(**change))
    assert check.verdict is Verdict.INELIGIBLE
    assert status(check, item) is Status.NOT_MET
    assert item in [i.id for i in check.failing()]
    assert all(i.status is not Status.UNKNOWN for i in check.items)


def test_exactly_20_percent_improvement_is_still_eligible() -> None:
    # 60/0.6 = 100 → 72/0.6 = 120: +20 % exactly ("not improved by more than 20 %")
    check = evaluate(facts(gases=[gas(9, 60, 60), gas(0.5, 72, 60)]))
    assert status(check, "pf_persistent") is Status.MET


def test_second_gas_must_be_8_to_24_h_after_the_first() -> None:
    too_soon = evaluate(facts(gases=[gas(6, 72, 60), gas(0.5, 65, 60)]))
    assert status(too_soon, "pf_persistent") is Status.UNKNOWN
    assert "second blood gas" in next(i for i in too_soon.items if i.id == "pf_persistent").detail
    too_late = evaluate(facts(gases=[gas(30, 72, 60), gas(0.5, 65, 60)]))
    assert status(too_late, "pf_persistent") is Status.UNKNOWN


def test_a_gas_without_fio2_is_unknown() -> None:
    check = evaluate(facts(gases=[gas(10, 72, 60), gas(0.5, 65, None)]))
    assert status(check, "pf_below_200") is Status.UNKNOWN
    assert status(check, "pf_persistent") is Status.UNKNOWN
    assert check.verdict is Verdict.INCOMPLETE


def test_gases_after_now_are_not_used() -> None:
    later = GasFacts(
        t=NOW + timedelta(hours=1),
        pao2_mmhg=300,
        fio2_pct=60,
        fio2_source="v",
        peep_cmh2o=12,
        peep_source="v",
    )
    check = evaluate(facts(gases=[gas(10, 72, 60), gas(0.5, 65, 60), later]))
    assert check.eligible


@pytest.mark.parametrize("missing", ["consent", "imaging", "airway"])
def test_a_missing_confirmed_inclusion_item_is_unknown(missing: str) -> None:
    check = evaluate(facts(**{missing: None}))
    item = {"consent": "informed_consent", "imaging": "bilateral_infiltrates"}.get(
        missing, "invasive_airway"
    )
    assert status(check, item) is Status.UNKNOWN
    assert check.verdict is Verdict.INCOMPLETE


def test_confirmed_items_say_who_when_and_how() -> None:
    check = evaluate(facts())
    consent = next(i for i in check.items if i.id == "informed_consent")
    assert consent.value == "legal_representative"
    assert "coord.chen" in consent.source and "Wang Li" in consent.detail
    imaging = next(i for i in check.items if i.id == "bilateral_infiltrates")
    assert imaging.source == "ct at 2026-02-28T12:00:00Z, read by dr.zhao"
    assert next(i for i in check.items if i.id == "invasive_airway").value == "endotracheal_tube"


def test_imaging_not_bilateral_is_not_met() -> None:
    one_sided = Imaging(modality=Modality.XRAY, t=NOW, reader="dr.zhao", bilateral=False)
    check = evaluate(facts(imaging=one_sided))
    assert status(check, "bilateral_infiltrates") is Status.NOT_MET


def test_the_qualifying_gas_must_be_recent() -> None:
    # the latest gas 7 h before the start: older than the 6 h the protocol allows
    check = evaluate(facts(gases=[gas(16, 72, 60), gas(7, 65, 60)]))
    assert status(check, "pf_below_200") is Status.UNKNOWN
    assert "more than 6 h old" in next(i for i in check.items if i.id == "pf_below_200").detail
    assert (
        status(
            evaluate(
                facts(gases=[gas(16, 72, 60), gas(7, 65, 60)]), Criteria(qualifying_gas_max_h=8)
            ),
            "pf_below_200",
        )
        is Status.MET
    )


def test_persistence_is_anchored_on_the_diagnostic_gas_at_or_after_onset() -> None:
    # a gas before onset (P/F 100) is not the anchor; the diagnostic gas 10 h ago is
    onset = NOW - timedelta(hours=12)
    check = evaluate(
        facts(ards_onset=onset, gases=[gas(20, 60, 60), gas(10, 72, 60), gas(0.5, 65, 60)])
    )
    item = next(i for i in check.items if i.id == "pf_persistent")
    assert item.status is Status.MET and item.value["first_pf"] == 120.0
    # with only the pre-onset gas and one 8 h after onset there is no diagnostic gas pair
    check = evaluate(facts(ards_onset=onset, gases=[gas(20, 60, 60), gas(0.5, 65, 60)]))
    assert status(check, "pf_persistent") is Status.UNKNOWN


def test_implausible_pao2_never_qualifies_and_low_values_warn() -> None:
    g = gas(0.5, 15, 60)
    assert g.pf is None
    check = evaluate(facts(gases=[gas(10, 72, 60), g]))
    assert status(check, "pf_below_200") is Status.UNKNOWN
    low = gas(0.5, 28, 60)  # PaO2 28 mmHg, P/F 46.7: plausible but suspicious
    assert len(low.warnings) == 2
    detail = next(
        i for i in evaluate(facts(gases=[gas(10, 72, 60), low])).items if i.id == "pf_below_200"
    ).detail
    assert "check sample" in detail


def test_protective_ventilation_uses_predicted_body_weight() -> None:
    check = evaluate(facts())
    item = next(i for i in check.items if i.id == "protective_ventilation")
    assert item.status is Status.MET
    assert item.value["pbw_kg"] == pytest.approx(70.6)
    assert item.value["vt_ml_per_kg_pbw"] == pytest.approx(420 / 70.566, abs=0.01)
    # a woman of 160 cm: PBW 45.5 + 0.91 × 7.6 = 52.4 kg; 420 mL is 8.0 mL/kg → 8.01 > 8
    woman = evaluate(facts(body=Body(height_cm=160, sex=Sex.FEMALE)))
    assert status(woman, "protective_ventilation") is Status.NOT_MET
    high_plateau = [VentSample(t=NOW - timedelta(hours=1), vt_ml=420, pplat_cmh2o=33)]
    assert status(evaluate(facts(ventilation=high_plateau)), "protective_ventilation") is (
        Status.NOT_MET
    )


def test_protective_ventilation_without_data_is_unknown_unless_confirmed() -> None:
    assert status(evaluate(facts(ventilation=[])), "protective_ventilation") is Status.UNKNOWN
    assert status(evaluate(facts(body=None)), "protective_ventilation") is Status.UNKNOWN
    confirmed = Confirmation(by="dr.lee", t=NOW, note="VT 6 mL/kg per chart")
    check = evaluate(facts(ventilation=[], protective_confirmed=confirmed))
    assert status(check, "protective_ventilation") is Status.MET


def test_exclusions_use_the_seed_protocols_words() -> None:
    labels = dict(EXCLUSIONS)
    assert labels["atelectasis_over_50pct"] == "over 50 % atelectasis of either lung lobe"
    assert labels["pregnancy_perinatal_lactation"] == "pregnancy or perinatal or lactation"
    assert "no_arterial_line" in labels and "no_central_venous_line" in labels


def test_onset_in_the_future_is_unknown_not_met() -> None:
    check = evaluate(facts(ards_onset=NOW + timedelta(hours=1)))
    assert status(check, "onset_within_96h") is Status.UNKNOWN


def test_exclusions_present_absent_unconfirmed() -> None:
    answers = dict(ALL_ABSENT)
    answers["pregnancy_perinatal_lactation"] = Answer(
        present=True, by="dr.lee", t=NOW, note="β-hCG +"
    )
    del answers["meld_over_40"]
    check = evaluate(facts(answers=answers))
    assert status(check, "pregnancy_perinatal_lactation") is Status.NOT_MET
    assert status(check, "meld_over_40") is Status.UNKNOWN
    assert check.verdict is Verdict.INELIGIBLE
    preg = next(i for i in check.items if i.id == "pregnancy_perinatal_lactation")
    assert preg.source.startswith("confirmed by dr.lee") and preg.detail == "β-hCG +"


def test_criteria_are_settings() -> None:
    check = evaluate(facts(age_years=17), Criteria(min_age_years=16))
    assert status(check, "age") is Status.MET
