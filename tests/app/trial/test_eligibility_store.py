"""The checklist computed from what is really stored: ventilator observations, entered gases,
blood_gas events from the bed, exclusion answers — updating as data arrives."""

from __future__ import annotations

from datetime import timedelta

from app.report.gather import checklist, gases
from app.store import Store
from core.model import DeviceEvent, EventSource
from monitors.trial.eligibility import EXCLUSIONS, Status, Verdict

from .conftest import BED, SID, T0, confirm_enrolment, ventilate

KPA = 1000 / 133.322387415  # mmHg per kPa


def _status(check: object, item: str) -> Status:
    return next(i.status for i in check.items if i.id == item)  # type: ignore[attr-defined]


async def test_checklist_fills_in_as_data_arrives(enrolled: Store) -> None:
    patient = await enrolled.patient(SID)
    assert patient is not None
    check, _ = await checklist(enrolled, patient, T0)
    assert check.verdict is Verdict.INCOMPLETE
    assert _status(check, "invasive_airway") is Status.UNKNOWN
    assert _status(check, "informed_consent") is Status.UNKNOWN
    assert _status(check, "bilateral_infiltrates") is Status.UNKNOWN
    assert _status(check, "pf_below_200") is Status.UNKNOWN
    assert _status(check, "age") is Status.MET and _status(check, "onset_within_96h") is Status.MET

    # the ventilator reports from T0-11h; FiO2 60 %, PEEP 12
    await ventilate(enrolled, T0 - timedelta(hours=11), T0, fio2=60, peep=12)
    # first gas: P/F 75/0.6 = 125; the second, 10 h later, comes as a bed event: 70/0.6 = 116.7
    await enrolled.add_blood_gas(
        study_id=SID, t=T0 - timedelta(hours=10, seconds=20), entered_by="nina", pao2_mmhg=75
    )
    await enrolled.add_events(
        [
            DeviceEvent(
                t=T0 - timedelta(minutes=10),
                bed=BED,
                event="blood_gas",
                fields={"pao2_mmhg": 70, "entered_by": "eva"},
                source=EventSource.CLINICIAN,
            )
        ]
    )
    check, found = await checklist(enrolled, patient, T0)
    assert [round(g.pf or 0, 1) for g in found] == [125.0, 116.7]
    assert found[0].fio2_source.startswith("ventilator at ")
    assert found[1].origin == "bed event" and found[1].entered_by == "eva"
    assert _status(check, "invasive_airway") is Status.UNKNOWN  # ventilator data is not enough
    assert _status(check, "pf_below_200") is Status.MET
    assert _status(check, "peep_at_least_8") is Status.MET
    assert _status(check, "pf_persistent") is Status.MET
    assert check.verdict is Verdict.INCOMPLETE  # exclusions not confirmed yet

    for item, _ in EXCLUSIONS:
        await enrolled.confirm_exclusion(study_id=SID, item=item, present=False, by="dr.lee", t=T0)
    check, _ = await checklist(enrolled, patient, T0)
    assert check.verdict is Verdict.INCOMPLETE  # consent, imaging, airway, PBW not recorded
    await confirm_enrolment(enrolled)
    check, _ = await checklist(enrolled, patient, T0)
    assert check.verdict is Verdict.ELIGIBLE, check.failing()

    # a confirmation given after `now` does not count at `now`
    await enrolled.confirm_exclusion(
        study_id=SID, item="malignancy", present=True, by="dr.lee", t=T0 + timedelta(hours=1)
    )
    check, _ = await checklist(enrolled, patient, T0)
    assert check.eligible
    check, _ = await checklist(enrolled, patient, T0 + timedelta(hours=1, minutes=1))
    assert check.verdict is Verdict.INELIGIBLE


async def test_a_gas_far_from_any_ventilator_value_has_no_fio2(enrolled: Store) -> None:
    await ventilate(enrolled, T0 - timedelta(hours=1), T0, fio2=60, peep=12)
    await enrolled.add_blood_gas(
        study_id=SID, t=T0 - timedelta(hours=3), entered_by="nina", pao2_mmhg=75
    )
    [g] = await gases(enrolled, bed=BED, study_id=SID)
    assert (
        g.fio2_pct is None
        and g.pf is None
        and g.fio2_source == "none within 10 min at or before the draw"
    )
    # an FiO2 entered with the gas is used, and says so
    await enrolled.add_blood_gas(
        study_id=SID, t=T0 - timedelta(hours=2), entered_by="nina", pao2_mmhg=75, fio2_pct=50
    )
    g2 = (await gases(enrolled, bed=BED, study_id=SID))[1]
    assert g2.pf == 150.0 and g2.fio2_source == "entered with the gas by nina"


async def test_fio2_is_the_last_value_at_or_before_the_draw(enrolled: Store) -> None:
    # FiO2 60 % until T0-1h, then 100 % from T0-1h+30 s: a gas at T0-1h+20 s was drawn at 60 %
    await ventilate(enrolled, T0 - timedelta(hours=2), T0 - timedelta(hours=1), fio2=60, peep=12)
    t_up = T0 - timedelta(hours=1) + timedelta(seconds=30)
    await ventilate(enrolled, t_up, T0, fio2=100, peep=12)
    await enrolled.add_blood_gas(
        study_id=SID,
        t=T0 - timedelta(hours=1) + timedelta(seconds=20),
        entered_by="nina",
        pao2_mmhg=90,
    )
    [g] = await gases(enrolled, bed=BED, study_id=SID)
    assert g.fio2_pct == 60 and g.pf == 150.0


async def test_a_kpa_gas_keeps_what_was_typed(enrolled: Store) -> None:
    await ventilate(enrolled, T0 - timedelta(hours=1), T0, fio2=40, peep=10)
    await enrolled.add_blood_gas(
        study_id=SID,
        t=T0 - timedelta(minutes=30),
        entered_by="nina",
        pao2_mmhg=12.0 * KPA,
        paco2_mmhg=5.3 * KPA,
        entered=("kPa", 12.0, 5.3),
    )
    [g] = await gases(enrolled, bed=BED, study_id=SID)
    assert g.entered_as == "PaO2 12 kPa, PaCO2 5.3 kPa"
    assert g.pf is not None and round(g.pf, 1) == 225.0
