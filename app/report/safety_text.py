"""The safety part of the report in words, the same for HTML and PDF: the IAE counts, each
AE's CRF fields and signatures, and the notes on an alert's adjudication and end."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.report.locale import local_time, term, tr

PF_LABEL = 'P/F = protocol "OI(PaO2/FiO2)"'
OI_LABEL = "OI = FiO2 × Paw × 100 / PaO2"


def _t(value: Any) -> str:
    """A time (a datetime, or ISO 8601 text as the AE record gives it) in the report's zone
    with UTC beside it; any other text as it is."""
    if value is None:
        return "—"
    t = value
    if isinstance(value, str):
        try:
            t = datetime.fromisoformat(value)
        except ValueError:
            return value
    return local_time(t) if isinstance(t, datetime) and t.tzinfo else str(value)


def iae_counts(safety: dict[str, Any]) -> str:
    """`candidate IAEs 3 · confirmed IAEs 2 (episodes) · ...`."""
    if not safety:
        return tr("not adjudicated")
    return tr(
        "candidate IAEs {0} · confirmed IAEs {1} (episodes) · not an IAE {2} · candidates not "
        "yet adjudicated {3} · patient with ≥ 1 confirmed IAE: {4} · adverse events {5}",
        safety["candidate_iae"],
        safety["confirmed_iae"],
        safety["not_iae"],
        safety["unadjudicated_candidates"],
        tr("yes") if safety["patients_with_iae"] else tr("no"),
        len(safety["adverse_events"]),
    )


def _seriousness(ae: dict[str, Any]) -> str:
    return tr("SUSAR") if ae["susar"] else tr("serious") if ae["serious"] else tr("not serious")


def ae_summary(safety: dict[str, Any]) -> str:
    """One line per AE for the report's head: term, grade, seriousness, who signed."""
    lines = []
    for ae in safety.get("adverse_events", []):
        signed = ", ".join(f"{s['signer']} {_t(s['t'])}" for s in ae["signatures"] if s["valid"])
        lines.append(
            tr(
                "AE {0}: {1} · CTCAE grade {2} · {3} · {4} alerts · {5}",
                ae["id"],
                ae["term"],
                ae["ctcae_grade"],
                _seriousness(ae),
                len(ae["alert_ids"]),
                tr("signed by {0}", signed) if signed else tr("not signed"),
            )
        )
    return "; ".join(lines) or tr("none recorded")


def verdict_note(safety: dict[str, Any], alert_id: str) -> str:
    """How an alert was adjudicated, for its row in the alert table ('' if it was not)."""
    adj = safety.get("adjudications", {}).get(alert_id)
    if adj is None:
        return ""
    if adj["verdict"] == "iae":
        what = tr("confirmed IAE (AE {0})", adj["ae_id"]) if adj["ae_id"] else tr("confirmed IAE")
    else:
        why = term("not_iae_reason", adj["reason"]) + (
            f": {adj['reason_text']}" if adj["reason_text"] else ""
        )
        what = tr("not an IAE ({0})", why)
    return " · " + tr(
        "adjudicated: {0}, signed {1} {2}", what, adj["signed_by"], _t(adj["signed_at"])
    )


def ended_note(safety: dict[str, Any], alert_id: str) -> str:
    """`· condition ended by cardioversion at …; the alert closed 300 s later` ('' if none)."""
    e = safety.get("ended_by", {}).get(alert_id)
    if e is None:
        return ""
    return " · " + tr(
        "condition ended by {0} at {1}; the alert closed {2} s later (its persistence filter)",
        term("event", e["event"]),
        _t(e["t"]),
        f"{e['alert_closed_s_after']:.0f}",
    )


def ae_rows(ae: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows of one AE's CRF, its reports and signatures."""
    serious = ", ".join(term("seriousness", s) for s in ae["seriousness"]) or tr("not serious")
    reports = "; ".join(
        tr("{0} due {1}", term("report", d["report"]), _t(d["due"]))
        + (
            ", " + tr("sent {0}", _t(d["done_at"]))
            if d["done_at"]
            else (" — " + tr("OVERDUE") if d["overdue"] else "")
        )
        for d in ae["reports_due"]
    )
    signatures = "; ".join(
        f"{s['signer']} ({term('role', s['role'])}) — {term('meaning', s['meaning'])} — "
        f"{_t(s['t'])}" + ("" if s["valid"] else " — " + tr("record changed after signing"))
        for s in ae["signatures"]
    )
    return [
        (
            f"AE {ae['id']}",
            f"{ae['term']} (MedDRA {ae['meddra_code'] or tr('not coded')})",
        ),
        (
            tr("Onset – resolution"),
            f"{_t(ae['onset'])} – "
            + (_t(ae["resolved_at"]) if ae["resolved_at"] else tr("not resolved")),
        ),
        (tr("CTCAE v5 grade"), str(ae["ctcae_grade"])),
        (tr("Seriousness"), serious + (" · SUSAR" if ae["susar"] else "")),
        (
            tr("Causality (WHO-UMC)"),
            tr(
                "product: {0} · procedure: {1}",
                term("causality", ae["causality_product"]),
                term("causality", ae["causality_procedure"]),
            ),
        ),
        (
            tr("Expectedness"),
            tr("expected") if ae["expected"] else tr("unexpected (not in the RSI)"),
        ),
        (tr("Action with the product"), term("action", ae["action_taken"])),
        (tr("Treatment"), ae["treatment"] or tr("none")),
        (tr("Outcome"), term("outcome", ae["outcome"])),
        (tr("Alerts grouped"), ", ".join(ae["alert_ids"]) or tr("none")),
        (tr("Reports to the sponsor"), reports or tr("none owed (not serious)")),
        (tr("Reporter"), ae["reporter"]),
        (tr("Investigator signature"), signatures or tr("not signed")),
    ]
