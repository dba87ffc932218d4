"""The report for the trial database: one JSON document, or one long-format CSV table.

CSV columns: study_id, section, item, t, value, unit, detail — one row per fact, so any
database or spreadsheet can load it without knowing the report's structure. Times are
ISO 8601 UTC with a `Z`.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from app.report.data import Report
from core.params import PARAMETERS
from core.records import format_time
from monitors.trial.indices import INDEX_BY_CODE

SCHEMA = "iaewatch.report/1"
CSV_COLUMNS = ("study_id", "section", "item", "t", "value", "unit", "detail")


def plain(value: Any) -> Any:
    """Datetimes as ISO strings, recursively; everything else as JSON has it."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), str):
        return value.value  # enums
    return value


def as_dict(r: Report) -> dict[str, Any]:
    """The whole report as plain JSON data."""
    check = r.eligibility
    doc: dict[str, Any] = plain(
        {
            "schema": SCHEMA,
            "generated_at": r.generated_at,
            "window": {"since": r.since, "until": r.until, "complete": r.complete},
            "patient": r.patient,
            "order": r.order,
            "infusion": r.infusion,
            "eligibility": None
            if check is None
            else {
                "at": r.eligibility_at,
                "verdict": check.verdict.value,
                "items": [i.as_dict() for i in check.items],
            },
            "overrides": r.overrides,
            "baseline": r.baseline,
            "alerts": r.alerts,
            "iae_count": r.iae_count,
            "events": r.events,
            "blood_gases": r.gases,
            "trends": {
                title: {
                    "code": s["code"],
                    "unit": s["unit"],
                    "points": [[t, round(v, 3)] for t, v in s["points"]],
                }
                for title, s in r.trends.items()
            },
            "completeness": {"gap_s": r.gap_s, "devices": r.coverage},
            "notes": r.notes,
            "safety": r.safety,
        }
    )
    return doc


def to_json(r: Report) -> str:
    return json.dumps(as_dict(r), ensure_ascii=False, indent=1, allow_nan=False)


def _unit(code: str) -> str:
    p = PARAMETERS.get(code)
    if p is not None:
        return p.unit
    i = INDEX_BY_CODE.get(code)
    return i.unit if i is not None else ""


def to_csv(r: Report) -> str:
    sid = r.patient["study_id"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)

    def row(section: str, item: str, t: Any, value: Any, unit: str = "", detail: Any = "") -> None:
        if isinstance(detail, dict | list):
            detail = json.dumps(plain(detail), ensure_ascii=False, sort_keys=True)
        w.writerow(
            [
                sid,
                section,
                item,
                format_time(t) if isinstance(t, datetime) else (t or ""),
                "" if value is None else plain(value),
                unit,
                detail,
            ]
        )

    row("window", "since", r.since, format_time(r.since))
    row(
        "window",
        "until",
        r.until,
        format_time(r.until),
        detail="complete" if r.complete else "interim",
    )
    for k, v in r.patient.items():
        if k != "study_id":
            row("patient", k, None, format_time(v) if isinstance(v, datetime) else v)
    for k, v in r.order.items():
        row("order", k, None, json.dumps(v) if isinstance(v, list) else v)
    inf = r.infusion
    if inf is not None:
        for k, v in inf.items():
            if k == "checks":
                for c in v:
                    row(
                        "infusion_check", c["item"], None, "ok" if c["ok"] else "off", "", c["text"]
                    )
            else:
                row("infusion", k, None, format_time(v) if isinstance(v, datetime) else v)
    if r.eligibility is not None:
        for i in r.eligibility.items:
            row(
                "eligibility",
                i.id,
                r.eligibility_at,
                i.status.value,
                "",
                {"value": i.value, "source": i.source, "detail": i.detail},
            )
        row("eligibility", "verdict", r.eligibility_at, r.eligibility.verdict.value)
    for o in r.overrides:
        row("override", o["action"], o["t"], o["actor"], "", o["details"])
    for b in r.baseline:
        row(
            "baseline",
            b["code"],
            None,
            b["value"],
            b["unit"],
            {
                "samples": b["samples"],
                "needed": b["needed"],
                "lookback_min": b["lookback_min"],
                "statistic": b["statistic"],
            },
        )
    for a in r.alerts:
        detail = {
            k: a[k]
            for k in (
                "id",
                "rule",
                "priority",
                "message",
                "state",
                "acked_by",
                "acked_at",
                "ended_at",
                "evidence",
            )
        }
        row("alert", a["category"], a["onset"], "iae" if a["iae"] else "warning", "", detail)
    for g in r.gases:
        row(
            "blood_gas",
            "pao2_mmhg",
            g["t"],
            g["pao2_mmhg"],
            "mm[Hg]",
            {
                k: g[k]
                for k in (
                    "fio2_pct",
                    "fio2_source",
                    "peep_cmh2o",
                    "pf_ratio",
                    "oxygenation_index",
                    "paco2_mmhg",
                    "ph",
                )
            },
        )
    for c in r.coverage:
        row(
            "completeness",
            c["device"],
            None,
            c["coverage_pct"],
            "%",
            {"samples": c["samples"], "missing_s": c["missing_s"], "gaps": len(c["gaps"])},
        )
        for g in c["gaps"]:
            row("gap", c["device"], g["from"], round(g["s"], 1), "s", {"to": g["to"]})
    for title, s in r.trends.items():
        for t, v in s["points"]:
            row("trend", s["code"], t, round(v, 3), _unit(s["code"]), title)
    for alert_id, adj in r.safety.get("adjudications", {}).items():
        row("adjudication", alert_id, adj["signed_at"], adj["verdict"], "", adj)
    for ae in r.safety.get("adverse_events", []):
        row("adverse_event", ae["term"], ae["onset"], ae["ctcae_grade"], "CTCAE grade", ae)
    return buf.getvalue()
