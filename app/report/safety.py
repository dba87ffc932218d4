"""The report's safety part: adjudicated IAEs against candidates, the AEs with their CRF
fields and signatures, and the clinician's entries that ended an alert.

Counts: a *candidate* is a protocol-IAE alert (`iae: true`) in the window; a *confirmed* IAE
is an alert an investigator adjudicated as an IAE (any category: a clinician may confirm an
early warning too); `not_iae` the alerts adjudicated otherwise. `patients_with_iae` is 1
when this patient has at least one confirmed IAE (the trial sums it over patients);
`episodes` counts the confirmed alerts, `adverse_events` the AEs they were grouped into.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.adverse_view import ae_dict
from app.store import Store

CLOSING_ENTRIES = frozenset({"cardioversion", "cardiac_arrest", "death"})
"""Clinician entries that end, or explain the end of, the alert they follow."""


async def safety(
    store: Store,
    study_id: str,
    alerts: list[dict[str, Any]],
    events: list[dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    """The safety part of the report for `alerts` and `events` of the window."""
    adjudicated = await store.adjudications_for([a["id"] for a in alerts])
    verdicts = {
        alert_id: {
            "verdict": a.verdict,
            "reason": a.reason,
            "reason_text": a.reason_text,
            "ae_id": a.ae_id,
            "signed_by": a.signature.signer,
            "signed_at": a.signature.t,
            "meaning": a.signature.meaning,
        }
        for alert_id, a in adjudicated.items()
    }
    confirmed = [a for a in alerts if verdicts.get(a["id"], {}).get("verdict") == "iae"]
    aes = await store.adverse_events_of(study_id)
    return {
        "candidate_iae": sum(1 for a in alerts if a["iae"]),
        "confirmed_iae": len(confirmed),
        "not_iae": sum(1 for v in verdicts.values() if v["verdict"] == "not_iae"),
        "unadjudicated_candidates": sum(1 for a in alerts if a["iae"] and a["id"] not in verdicts),
        "patients_with_iae": 1 if confirmed else 0,
        "episodes": len(confirmed),
        "adjudications": verdicts,
        "adverse_events": [ae_dict(ae, now) for ae in aes],
        "ended_by": _ended_by(alerts, events),
    }


def _ended_by(alerts: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Per alert, the clinician entry between its onset and its recorded end that ended the
    condition (a cardioversion ends a VT; the alert closes later, after its persistence
    filter): the report shows both times so they agree with the events."""
    out: dict[str, Any] = {}
    entries = [e for e in events if e["event"] in CLOSING_ENTRIES]
    for a in alerts:
        end = a["ended_at"]
        if end is None or a["category"] not in ("arrhythmia", "cardiac_arrest"):
            continue
        found = [e for e in entries if a["onset"] <= e["t"] <= end]
        if found:
            e = found[0]
            lag = (end - e["t"]).total_seconds()
            out[a["id"]] = {"event": e["event"], "t": e["t"], "alert_closed_s_after": lag}
    return out
