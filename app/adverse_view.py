"""The JSON shape of an adverse event and of an e-signature (the API, the trial page)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.sae_clock import due_reports, is_susar
from app.store._adverse import AdverseEventRow, SignatureRow, content_sha256
from core.records import format_time
from core.records import format_time_or_none as iso


def signature_dict(s: SignatureRow) -> dict[str, Any]:
    return {
        "signer": s.signer,
        "role": s.role,
        "meaning": s.meaning,
        "t": format_time(s.t),
        "record_sha256": s.record_sha256,
    }


def ae_dict(ae: AdverseEventRow, now: datetime) -> dict[str, Any]:
    """An AE as the API and the trial page show it: CRF fields, SUSAR flag, due reports,
    signatures (each saying whether the record still matches what was signed)."""
    sha = content_sha256(ae.content())
    return {
        "id": ae.id,
        "study_id": ae.study_id,
        "term": ae.term,
        "meddra_code": ae.meddra_code,
        "onset": iso(ae.onset),
        "resolved_at": iso(ae.resolved_at),
        "ctcae_grade": ae.ctcae_grade,
        "serious": bool(ae.seriousness),
        "seriousness": ae.seriousness,
        "causality_product": ae.causality_product,
        "causality_procedure": ae.causality_procedure,
        "expected": ae.expected,
        "susar": is_susar(ae),
        "action_taken": ae.action_taken,
        "treatment": ae.treatment,
        "outcome": ae.outcome,
        "reporter": ae.reporter,
        "aware_at": iso(ae.aware_at),
        "alert_ids": list(ae.alert_ids),
        "reports_due": [d.as_dict(now) for d in due_reports(ae)],
        "signatures": [
            signature_dict(s) | {"valid": s.record_sha256 == sha} for s in ae.signatures
        ],
    }
