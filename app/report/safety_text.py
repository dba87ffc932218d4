"""The safety part of the report in words, the same for HTML and PDF: the IAE counts, each
AE's CRF fields and signatures, and the notes on an alert's adjudication and end."""

from __future__ import annotations

from typing import Any

from core.records import format_time

PF_LABEL = 'P/F = protocol "OI(PaO2/FiO2)"'
OI_LABEL = "OI = FiO2 × Paw × 100 / PaO2"


def _t(value: Any) -> str:
    return "—" if value is None else format_time(value) if hasattr(value, "tzinfo") else str(value)


def iae_counts(safety: dict[str, Any]) -> str:
    """`candidates 3 · confirmed 2 · not IAE 1 · patient with ≥1 confirmed IAE: yes`."""
    if not safety:
        return "not adjudicated"
    return (
        f"candidate IAEs {safety['candidate_iae']} · confirmed IAEs {safety['confirmed_iae']} "
        f"(episodes) · not an IAE {safety['not_iae']} · candidates not yet adjudicated "
        f"{safety['unadjudicated_candidates']} · patient with ≥ 1 confirmed IAE: "
        f"{'yes' if safety['patients_with_iae'] else 'no'} · adverse events "
        f"{len(safety['adverse_events'])}"
    )


def ae_summary(safety: dict[str, Any]) -> str:
    """One line per AE for the report's head: term, grade, seriousness, who signed."""
    lines = []
    for ae in safety.get("adverse_events", []):
        signed = ", ".join(f"{s['signer']} {s['t']}" for s in ae["signatures"] if s["valid"])
        lines.append(
            f"AE {ae['id']}: {ae['term']} · CTCAE grade {ae['ctcae_grade']} · "
            + ("SUSAR" if ae["susar"] else "serious" if ae["serious"] else "not serious")
            + f" · {len(ae['alert_ids'])} alerts · "
            + (f"signed by {signed}" if signed else "not signed")
        )
    return "; ".join(lines) or "none recorded"


def verdict_note(safety: dict[str, Any], alert_id: str) -> str:
    """How an alert was adjudicated, for its row in the alert table ('' if it was not)."""
    adj = safety.get("adjudications", {}).get(alert_id)
    if adj is None:
        return ""
    if adj["verdict"] == "iae":
        what = "confirmed IAE" + (f" (AE {adj['ae_id']})" if adj["ae_id"] else "")
    else:
        why = adj["reason"] + (f": {adj['reason_text']}" if adj["reason_text"] else "")
        what = f"not an IAE ({why})"
    return f" · adjudicated: {what}, signed {adj['signed_by']} {_t(adj['signed_at'])}"


def ended_note(safety: dict[str, Any], alert_id: str) -> str:
    """`· ended by cardioversion at …; the alert closed 300 s later` ('' if none)."""
    e = safety.get("ended_by", {}).get(alert_id)
    if e is None:
        return ""
    return (
        f" · condition ended by {e['event']} at {_t(e['t'])}; the alert closed "
        f"{e['alert_closed_s_after']:.0f} s later (its persistence filter)"
    )


def ae_rows(ae: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows of one AE's CRF, its reports and signatures."""
    serious = ", ".join(s.replace("_", " ") for s in ae["seriousness"]) or "not serious"
    reports = "; ".join(
        f"{d['report'].replace('_', ' ')} due {d['due']}"
        + (f", sent {d['done_at']}" if d["done_at"] else (" — OVERDUE" if d["overdue"] else ""))
        for d in ae["reports_due"]
    )
    signatures = "; ".join(
        f"{s['signer']} ({s['role']}) — {s['meaning']} — {s['t']}"
        + ("" if s["valid"] else " — record changed after signing")
        for s in ae["signatures"]
    )
    return [
        (f"AE {ae['id']}", f"{ae['term']} (MedDRA {ae['meddra_code'] or 'not coded'})"),
        ("Onset – resolution", f"{ae['onset']} – {ae['resolved_at'] or 'not resolved'}"),
        ("CTCAE v5 grade", str(ae["ctcae_grade"])),
        ("Seriousness", serious + (" · SUSAR" if ae["susar"] else "")),
        (
            "Causality (WHO-UMC)",
            f"product: {ae['causality_product']} · procedure: {ae['causality_procedure']}",
        ),
        ("Expectedness", "expected" if ae["expected"] else "unexpected (not in the RSI)"),
        ("Action with the product", ae["action_taken"].replace("_", " ")),
        ("Treatment", ae["treatment"] or "none"),
        ("Outcome", ae["outcome"].replace("_", " ")),
        ("Alerts grouped", ", ".join(ae["alert_ids"]) or "none"),
        ("Reports to the sponsor", reports or "none owed (not serious)"),
        ("Reporter", ae["reporter"]),
        ("Investigator signature", signatures or "not signed"),
    ]
