"""The trial record of the sample report (`app.report.sample`): the confirmed enrolment facts
and the product before the infusion, and afterwards an investigator's adjudication that
groups the first clinical episode's alerts into one signed adverse event."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.store import Store
from core.model import Category

INVESTIGATOR = "dr.lee"
COORDINATOR = "coord.chen"
EPISODE = timedelta(minutes=15)
"""Alerts starting within this of the episode's first protocol IAE (else its first clinical
alert) belong to the episode."""

TERMS: dict[Category, tuple[str, str]] = {
    Category.EMBOLISM_PATTERN: ("Pulmonary embolism", "10037377"),
    Category.ARRHYTHMIA: ("Ventricular tachycardia", "10047302"),
    Category.TRANSFUSION_REACTION: ("Infusion related reaction", "10051792"),
    Category.CARDIAC_ARREST: ("Cardiac arrest", "10007515"),
    Category.VENTILATORY_ESCALATION: ("Hypoxia", "10021143"),
    Category.VASOPRESSOR_ESCALATION: ("Hypotension", "10021097"),
}
NOT_CLINICAL = {Category.TECHNICAL, Category.INFUSION_PROBLEM}


async def record_enrolment(store: Store, study_id: str, t: datetime, t0: datetime) -> None:
    """Consent, imaging, airway, height and sex, protective ventilation, and the product."""
    facts: dict[str, dict[str, object]] = {
        "consent": {
            "consenter": "legal_representative",
            "consenter_name": "spouse",
            "t": t - timedelta(hours=2),
            "taken_by": COORDINATOR,
        },
        "imaging": {
            "modality": "ct",
            "t": t - timedelta(hours=6),
            "reader": "dr.zhao",
            "bilateral": True,
        },
        "airway": {"kind": "endotracheal_tube", "confirmed_by": INVESTIGATOR, "t": t},
        "body": {"height_cm": 172.0, "sex": "male"},
        "protective_ventilation": {
            "by": INVESTIGATOR,
            "t": t,
            "note": "VT 6 mL/kg PBW, plateau ≤ 28 cmH2O since diagnosis",
        },
    }
    for kind, data in facts.items():
        await store.add_fact(study_id=study_id, kind=kind, data=data, by=COORDINATOR, t=t)
    await store.add_product(
        study_id=study_id,
        by=COORDINATOR,
        t=t,
        weight_basis="pbw",
        dose_weight_kg=67.8,
        bag_id="BAG-0042",
        lot_id="UCMSC-2026-007",
        cell_count=7.0e7,
        viability_pct=92.5,
        prepared_at=t0 - timedelta(hours=3),
        expires_at=t0 + timedelta(hours=3),
        preservation="cryopreserved_dmso",
        washed=True,
        lumen_confirmed=True,
    )


async def adjudicate_first_episode(store: Store, study_id: str, bed: str, t: datetime) -> None:
    """Confirm the first episode's alerts as IAEs, grouped into one AE, signed."""
    found = sorted(
        (a for a in await store.alerts(bed=bed, limit=5000) if a.category not in NOT_CLINICAL),
        key=lambda a: a.onset,
    )
    if not found:
        return
    anchor = next((a.onset for a in found if a.iae), found[0].onset)
    episode = [a for a in found if abs(a.onset - anchor) <= EPISODE]
    first = episode[0].onset
    term, code = next(
        (TERMS[a.category] for a in episode if a.category in TERMS),
        (episode[0].category.value.replace("_", " "), None),
    )
    ae = await store.add_adverse_event(
        study_id=study_id,
        by=COORDINATOR,
        t=t,
        alert_ids=[],
        term=term,
        meddra_code=code,
        onset=first,
        resolved_at=max((a.ended_at or first) for a in episode),
        ctcae_grade=4,
        seriousness=["life_threatening"],
        causality_product="probable",
        causality_procedure="possible",
        expected=False,
        action_taken="stopped",
        treatment="infusion stopped; anticoagulation; norepinephrine",
        outcome="recovered",
        reporter=COORDINATOR,
        aware_at=first + timedelta(minutes=20),
    )
    await store.adjudicate(
        alert_ids=[a.id for a in episode],
        verdict="iae",
        reason=None,
        reason_text=None,
        ae_id=ae.id,
        signer=INVESTIGATOR,
        role="investigator",
        meaning="confirmed as infusion-associated",
        t=t,
    )
    await store.update_adverse_event(
        ae.id, by=COORDINATOR, t=t, sponsor_reported_at=first + timedelta(hours=6)
    )
    await store.sign_adverse_event(
        ae.id, signer=INVESTIGATOR, role="investigator", meaning="investigator approval", t=t
    )
