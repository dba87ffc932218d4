"""The report's sentences built from its data, the same for the HTML page and the PDF, each
through the catalogue (`app.report.locale`: `tr` for fixed texts, `term` for names of the
data) so a zh-CN report has no English label in it."""

from __future__ import annotations

from typing import Any

from app.report.locale import term, tr, tr_data, zone_name
from app.report.tabular import SCHEMA

SAID_FIELDS = ("kind", "rhythm", "sign")
"""What the device or clinician said in an alert's evidence (`monitors.engine.episodes`)."""


def num(x: Any, nd: int = 1) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{nd}f}".rstrip("0").rstrip(".") if x != int(x) else f"{x:.0f}"
    return str(x)


def show(value: Any) -> str:
    """A checklist value: yes/no, `name number` pairs, or the number."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return tr("yes") if value else tr("no")
    if isinstance(value, dict):
        return ", ".join(f"{term('field', k)} {num(v)}" for k, v in value.items())
    if isinstance(value, str):
        return tr_data(value)
    return num(value)


def alert_text(a: dict[str, Any]) -> str:
    """The alert in words: its rule's text with what the device or clinician said (室速 for
    VT); the stored (English) message only for a rule the catalogue does not know."""
    text = term("rule", a["rule"])
    if text == str(a["rule"]).replace("_", " ") and a.get("message"):
        return str(a["message"])
    fields = (a.get("evidence") or {}).get("fields") or {}
    said = [
        term("pump_alarm" if f == "kind" else "said", fields[f])
        for f in SAID_FIELDS
        if fields.get(f)
    ]
    return f"{text}: {', '.join(said)}" if said else text


def order_text(o: dict[str, Any]) -> str:
    dose = tr(o["dose_text"]) if o["dose_text"] else tr("dose unknown (no weight)")
    return tr(
        "{0} ({1} × 10^6 cells/kg × {2} kg) in {3} mL {4}, via {5}, over {6}–{7} min: "
        "rate {8}–{9} mL/h",
        dose,
        f"{o['cells_per_kg'] / 1e6:g}",
        num(o["weight_kg"]),
        num(o["volume_ml"]),
        term("diluent", o["diluent"]),
        term("route", o["route"]),
        f"{o['duration_min'][0]:g}",
        f"{o['duration_min'][1]:g}",
        f"{o['rate_ml_h'][0]:g}",
        f"{o['rate_ml_h'][1]:g}",
    )


def started_text(inf: dict[str, Any], when: Any) -> str:
    out = tr("{0} (recorded from {1})", when(inf["started_at"]), term("source", inf["source"]))
    if inf["start_note"]:
        out += "; " + tr(inf["start_note"])
    return out


def ended_text(inf: dict[str, Any], when: Any) -> str:
    out = when(inf["ended_at"]) if inf["ended_at"] else tr("not recorded")
    if inf["duration_min"] is not None:
        out += " · " + tr("{0} min", num(inf["duration_min"]))
    return out


def volume_text(inf: dict[str, Any]) -> str:
    out = tr("planned {0} mL over {1} min", num(inf["volume_ml"]), num(inf["planned_min"]))
    if inf["planned_rate_ml_h"]:
        out += f" ({num(inf['planned_rate_ml_h'])} mL/h)"
    out += "; " + tr("delivered {0} mL", num(inf["volume_delivered_ml"]))
    if inf["vtbi_ml"] is not None:
        out += f"; VTBI {num(inf['vtbi_ml'])} mL"
    return out


def rate_text(inf: dict[str, Any]) -> str:
    out = tr("{0} mL/h mean while running", num(inf["mean_rate_ml_h"]))
    if inf["pump"]:
        out += " " + tr("(pump {0})", inf["pump"])
    return out


def event_fields(e: dict[str, Any]) -> str:
    """An entry's or event's fields as `name value` pairs (rhythm, sign, pump alarm named)."""
    parts = []
    for k, v in e["fields"].items():
        if k in SAID_FIELDS and isinstance(v, str):
            value = term("pump_alarm" if k == "kind" else "said", v)
        else:
            value = show(v)
        parts.append(f"{term('field', k)} {value}")
    return ", ".join(parts)


def event_from(e: dict[str, Any]) -> str:
    if str(e["source"]) == "clinician":
        return term("source", "clinician")
    return str(e["device"]) if e["device"] else term("source", e["source"])


def footer_text(audit_rows: int, audit_head: str) -> str:
    """The report's last line: what it is, its times' zone, the schema, the audit chain head
    (`Store.audit_head` when the report was made)."""
    zone = zone_name()
    times = tr("Times in {0} with UTC beside them.", zone) if zone else tr("Times in UTC.")
    return " ".join(
        (
            tr("iaewatch — decision support for a research protocol; not a medical device."),
            times,
            tr("Report schema {0}.", SCHEMA),
            tr("Audit log: {0} rows, chain head {1}.", audit_rows, audit_head),
        )
    )
