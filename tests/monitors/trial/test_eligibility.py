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
        "ventilator_last_t": NOW - timedelta(seconds=5),
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
        facts(age_years=None, ards_onset=None, ventilator_last_t=None, gases=[], answers={})
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


def test_stale_ventilator_data_is_unknown() -> None:
    check = evaluate(facts(ventilator_last_t=NOW - timedelta(minutes=11)))
    assert status(check, "invasive_ventilation") is Status.UNKNOWN
    assert check.verdict is Verdict.INCOMPLETE


def test_onset_in_the_future_is_unknown_not_met() -> None:
    check = evaluate(facts(ards_onset=NOW + timedelta(hours=1)))
    assert status(check, "onset_within_96h") is Status.UNKNOWN


def test_exclusions_present_absent_unconfirmed() -> None:
    answers = dict(ALL_ABSENT)
    answers["pregnancy_or_lactation"] = Answer(present=True, by="dr.lee", t=NOW, note="β-hCG +")
    del answers["meld_over_40"]
    check = evaluate(facts(answers=answers))
    assert status(check, "pregnancy_or_lactation") is Status.NOT_MET
    assert status(check, "meld_over_40") is Status.UNKNOWN
    assert check.verdict is Verdict.INELIGIBLE
    preg = next(i for i in check.items if i.id == "pregnancy_or_lactation")
    assert preg.source.startswith("confirmed by dr.lee") and preg.detail == "β-hCG +"


def test_criteria_are_settings() -> None:
    check = evaluate(facts(age_years=17), Criteria(min_age_years=16))
    assert status(check, "age") is Status.MET
