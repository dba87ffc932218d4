"""The report as one self-contained, printable HTML page (inline CSS and SVG, no script)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.report.charts import report_charts, svg
from app.report.data import Report
from app.report.locale import language, local_time, term, tr
from app.report.safety_text import (
    OI_LABEL,
    PF_LABEL,
    ae_rows,
    ae_summary,
    ended_note,
    iae_counts,
    verdict_note,
)
from app.report.tabular import plain
from app.report.words import (
    alert_text,
    ended_text,
    event_fields,
    event_from,
    footer_text,
    num,
    order_text,
    rate_text,
    show,
    started_text,
    volume_text,
)

TEMPLATES = Path(__file__).parent / "templates"


def when(t: datetime | None) -> str:
    """A time as `2026-03-01 08:00:00 UTC`, or in the report's zone with UTC beside it
    (`app.report.locale`; — for none)."""
    if t is None:
        return "—"
    return local_time(t)


def duration(seconds: float) -> str:
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m:02d}m"
    return f"{m}m{s:02d}s" if m else f"{s}s"


_SKIP = {
    "infusion_start",
    "infusion_start_time_source",
    "infusion_start_uncertainty_s",
    "window_h",
    "in_window",
    "arm",
}
_UNITS = {"mm[Hg]": "mmHg", "Cel": "°C", "cm[H2O]": "cmH2O", "mL/cm[H2O]": "mL/cmH2O", "1": ""}


def unit(u: str) -> str:
    """A UCUM unit as people write it (mm[Hg] → mmHg)."""
    return _UNITS.get(u, u)


def _labels() -> dict[str, str]:
    from core.params import PARAMETERS
    from monitors.rules.derived import DERIVED
    from monitors.trial.indices import INDICES

    out = {c: p.label for c, p in PARAMETERS.items()}
    out |= {c: d.param.label for c, d in DERIVED.items()}
    out |= {i.code: i.label for i in INDICES}
    return out


_LABELS = _labels()
_CODE = re.compile(r"\b(?:MDC|IAEW)_[A-Z0-9_]+\b")


def labelled(text: str) -> str:
    """Parameter codes in `text` replaced by their labels (MDC_PULS_OXIM_SAT_O2 → SpO2)."""
    return _CODE.sub(lambda m: _LABELS.get(m.group(0), m.group(0)), text)


def evidence(ev: dict[str, Any]) -> str:
    """Evidence as short `key: value` lines (the condition first)."""
    lines = []
    if "condition" in ev:
        lines.append(f"{term('evidence', 'condition')}: {ev['condition']}")
    for k, v in ev.items():
        if k == "condition" or k in _SKIP:
            continue
        if k == "window_edge_uncertain":
            gap = num(ev.get("infusion_start_uncertainty_s"))
            lines.append(
                tr("window edge uncertain: the infusion start may lie up to {0} s earlier", gap)
            )
            continue
        text = v if isinstance(v, str) else json.dumps(plain(v), ensure_ascii=False)
        if len(text) > 300:
            text = text[:297] + "…"
        lines.append(f"{term('evidence', k)}: {text}")
    return labelled("\n".join(lines))


def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def to_html(report: Report) -> str:
    since = report.since

    def rel(t: datetime) -> str:
        s = (t - since).total_seconds()
        return tr("{0} from window start", ("+" if s >= 0 else "−") + duration(abs(s)))

    template = _env().get_template("report.html")
    return template.render(
        r=report,
        p=report.patient,
        o=report.order,
        inf=report.infusion,
        check=report.eligibility,
        charts=[svg(c) for c in report_charts(report)],
        lang=language(),
        _=tr,
        term=term,
        when=when,
        order_text=order_text,
        started_text=lambda inf: started_text(inf, when),
        ended_text=lambda inf: ended_text(inf, when),
        volume_text=volume_text,
        rate_text=rate_text,
        alert_text=alert_text,
        event_fields=event_fields,
        event_from=event_from,
        footer_text=lambda: footer_text(report.audit_rows, report.audit_head),
        rel=rel,
        num=num,
        show=show,
        dur=duration,
        evidence=evidence,
        unit=unit,
        iae_counts=iae_counts,
        verdict_note=verdict_note,
        ended_note=ended_note,
        ae_rows=ae_rows,
        ae_summary=ae_summary,
        pf_label=PF_LABEL,
        oi_label=OI_LABEL,
    )
