"""The report as a PDF for the patient record (reportlab; A4, the same sections and charts
as the HTML page). Text is printed as written with an embedded CJK font
(`app.report.fonts`: 中文, SpO₂, ≥, µ); without one it is kept to what the base fonts carry
(≥ spelt >=, → as ->)."""

from __future__ import annotations

import io
import json
from datetime import tzinfo
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable

from app.report.charts import (
    BAND_COLOUR,
    BOTTOM,
    IAE_COLOUR,
    LEFT,
    LINE_COLOUR,
    RIGHT,
    TOP,
    WARN_COLOUR,
    Chart,
    report_charts,
)
from app.report.data import Report
from app.report.fonts import BODY_FONT, BOLD_FONT, MONO_FONT, UNICODE
from app.report.html import duration, evidence, num, show, unit, when
from app.report.locale import report_locale, tr
from app.report.safety_text import (
    OI_LABEL,
    PF_LABEL,
    ae_rows,
    ae_summary,
    ended_note,
    iae_counts,
    verdict_note,
)
from app.report.tabular import SCHEMA

_LATIN = str.maketrans(
    {
        "≥": ">=",
        "≤": "<=",
        "→": "->",
        "−": "-",
        "–": "-",
        "—": "-",
        "✓": "ok",
        "✗": "OFF",
        "Δ": "d",
        "…": "...",
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
    }
)


def _latin(text: Any) -> str:
    """Text the fonts can show: as written with the CJK font (`app.report.fonts`), else
    spelt out for the base fonts."""
    if UNICODE:
        return str(text)
    return str(text).translate(_LATIN).encode("latin-1", "replace").decode("latin-1")


def _t(text: Any) -> str:
    """`_latin`, XML-escaped for a Paragraph."""
    return escape(_latin(text))


_styles = getSampleStyleSheet()
H1 = ParagraphStyle("h1", parent=_styles["Heading1"], fontName=BOLD_FONT, fontSize=15, spaceAfter=4)
H2 = ParagraphStyle(
    "h2",
    parent=_styles["Heading2"],
    fontName=BOLD_FONT,
    fontSize=11.5,
    spaceBefore=8,
    spaceAfter=3,
)
BODY = ParagraphStyle(
    "body", parent=_styles["BodyText"], fontName=BODY_FONT, fontSize=8.5, leading=10.5
)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.5, leading=9, textColor=colors.grey)
MONO = ParagraphStyle("mono", parent=BODY, fontName=MONO_FONT, fontSize=6.8, leading=8)
_STATUS = {"met": "#1b5e20", "not_met": "#b71c1c", "unknown": "#8a6d00"}


def _p(text: Any, style: ParagraphStyle = BODY) -> Paragraph:
    """A paragraph of plain text (a fixed text of the report in the report's language)."""
    return Paragraph(_t(tr(text) if isinstance(text, str) else text), style)


def _rich(markup: str, style: ParagraphStyle = BODY) -> Paragraph:
    """A paragraph from markup whose text parts were already passed through `_t`."""
    return Paragraph(markup, style)


def _coloured(text: str, colour: str, bold: bool = True) -> str:
    inner = f"<b>{_t(text)}</b>" if bold else _t(text)
    return f'<font color="{colour}">{inner}</font>'


def _table(rows: list[list[Any]], widths: list[float], header: bool = True) -> Table:
    t = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style: list[Any] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#cccccc")),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
    t.setStyle(TableStyle(style))
    return t


def chart_drawing(chart: Chart, width: float) -> Drawing:
    """A chart as a reportlab drawing `width` points wide (y flipped: PDF's origin is low)."""
    k = width / chart.width
    h = chart.height * k
    d = Drawing(width, h)

    def X(x: float) -> float:
        return x * k

    def Y(y: float) -> float:
        return h - y * k

    title = chart.title + (f" ({chart.unit})" if chart.unit else "")
    d.add(String(X(LEFT), Y(11), _latin(title), fontName=BOLD_FONT, fontSize=7.5))
    bottom = chart.height - BOTTOM
    if chart.band is not None:
        a, b = chart.band
        band = Rect(X(a), Y(bottom), X(b - a), (bottom - TOP) * k)
        band.fillColor = colors.HexColor(BAND_COLOUR)
        band.strokeColor = None
        d.add(band)
    for y, label in chart.y_ticks:
        d.add(
            Line(
                X(LEFT),
                Y(y),
                X(chart.width - RIGHT),
                Y(y),
                strokeColor=colors.HexColor("#e3e3e3"),
                strokeWidth=0.5,
            )
        )
        d.add(
            String(
                X(LEFT - 4),
                Y(y + 3),
                label,
                fontName=BODY_FONT,
                fontSize=6,
                textAnchor="end",
                fillColor=colors.HexColor("#555555"),
            )
        )
    for x, label in chart.x_ticks:
        d.add(
            String(
                X(x),
                Y(chart.height - 6),
                label,
                fontName=BODY_FONT,
                fontSize=6,
                textAnchor="middle",
                fillColor=colors.HexColor("#555555"),
            )
        )
    for m in chart.marks:
        colour = colors.HexColor(IAE_COLOUR if m.iae else WARN_COLOUR)
        d.add(
            Line(
                X(m.x),
                Y(TOP),
                X(m.x),
                Y(bottom),
                strokeColor=colour,
                strokeWidth=0.8,
                strokeDashArray=[3, 2],
            )
        )
    line_colour = colors.HexColor(LINE_COLOUR)
    for line in chart.lines:
        if len(line) < 2:
            continue
        pts: list[float] = []
        for x, y in line:
            pts += [X(x), Y(y)]
        d.add(PolyLine(pts, strokeColor=line_colour, strokeWidth=0.9))
    for x, y in chart.dots:
        d.add(Circle(X(x), Y(y), 1.8, fillColor=line_colour, strokeColor=None))
    if not chart.lines and not chart.dots:
        d.add(
            String(
                X(chart.width / 2),
                Y(chart.height / 2),
                "no data in the window",
                fontName=BODY_FONT,
                fontSize=7,
                textAnchor="middle",
                fillColor=colors.grey,
            )
        )
    return d


def _story(r: Report, width: float) -> list[Flowable]:
    p, o, inf, check = r.patient, r.order, r.infusion, r.eligibility
    s: list[Flowable] = [_p("Infusion-associated events - 24 h report", H1)]
    arm = f" - arm: {p['arm']}" if "arm" in p else ""
    age = f"{p['age_years']} years" if p.get("age_years") is not None else "age not entered"
    iae = _coloured(str(r.iae_count), "#b71c1c") if r.iae_count else _coloured("none", "#1b5e20")
    window = f"{_t(when(r.since))} -> {_t(when(r.until))}"
    if not r.complete:
        window += " " + _coloured("(interim: window still running)", "#8a6d00")
    meta = [
        [_p("Study id"), _rich(f"<b>{_t(p['study_id'])}</b>{_t(arm)}")],
        [_p("Bed"), _p(p.get("bed") or "-")],
        [_p("Weight - age"), _p(f"{num(p['weight_kg'])} kg - {age}")],
        [_p("ARDS onset"), _p(when(p.get("ards_onset")))],
        [_p("Window"), _rich(window)],
        [
            _p("Protocol IAEs"),
            _rich(f"{iae} - other alerts: {len(r.alerts) - r.iae_count}"),
        ],
        [_p("Adjudicated"), _p(iae_counts(r.safety))],
        [_p("Adverse events"), _p(ae_summary(r.safety))],
        [_p("Generated"), _p(f"{when(r.generated_at)} by iaewatch")],
    ]
    s.append(_table(meta, [35 * mm, width - 35 * mm], header=False))
    for n in r.notes:
        s.append(_rich(_coloured(n, "#8a6d00", bold=False)))

    s.append(_p("Order and infusion", H2))
    order = (
        f"{o['dose_text'] or 'dose unknown (no weight)'} ({o['cells_per_kg'] / 1e6:g} x 10^6 "
        f"cells/kg x {num(o['weight_kg'])} kg) in {num(o['volume_ml'])} mL {o['diluent']}, via "
        f"{o['route']}, over {o['duration_min'][0]:g}-{o['duration_min'][1]:g} min: rate "
        f"{o['rate_ml_h'][0]:g}-{o['rate_ml_h'][1]:g} mL/h"
    )
    rows: list[list[Any]] = [[_p("Order"), _p(order)]]
    if inf is not None:
        ended = when(inf["ended_at"]) if inf["ended_at"] else "not recorded"
        if inf["duration_min"] is not None:
            ended += f" - {num(inf['duration_min'])} min"
        started = f"{when(inf['started_at'])} (recorded from {inf['source']})"
        if inf["start_note"]:
            started += f"; {inf['start_note']}"
        checks = "<br/>".join(
            (_coloured("ok", "#1b5e20") if c["ok"] else _coloured("OFF", "#b71c1c"))
            + " "
            + _t(c["text"])
            for c in inf["checks"]
        )
        rows += [
            [_p("Started"), _p(started)],
            [_p("Ended"), _p(ended)],
            [
                _p("Volume"),
                _p(
                    f"planned {num(inf['volume_ml'])} mL over {num(inf['planned_min'])} min; "
                    f"delivered {num(inf['volume_delivered_ml'])} mL; "
                    f"VTBI {num(inf['vtbi_ml'])} mL"
                ),
            ],
            [
                _p("Rate"),
                _p(f"{num(inf['mean_rate_ml_h'])} mL/h mean while running (pump {inf['pump']})"),
            ],
            [_p("Against the order"), _rich(checks or "nothing to check yet")],
        ]
    else:
        rows.append([_p("Infusion"), _p("none recorded")])
    s.append(_table(rows, [35 * mm, width - 35 * mm], header=False))
    for ov in r.overrides:
        d = ov["details"]
        s.append(
            _rich(
                _coloured("Started with an eligibility override: ", "#b71c1c")
                + _t(f'{when(ov["t"])} - {ov["actor"]}: "{d.get("reason", "")}"')
                + _t(f" (checklist was {d.get('verdict', '?')})")
            )
        )

    if check is not None:
        verdict = check.verdict.value
        colour = {"eligible": "#1b5e20", "ineligible": "#b71c1c"}.get(verdict, "#8a6d00")
        at = "infusion start" if inf else "report time"
        s.append(
            _rich(
                _t(f"Eligibility at {at} ({when(r.eligibility_at)}): ")
                + _coloured(verdict, colour),
                H2,
            )
        )
        rows = [[_p("Criterion"), _p("Status"), _p("Value"), _p("Source")]]
        for i in check.items:
            value = " - ".join(x for x in (show(i.value), i.detail) if x)
            rows.append(
                [
                    _p(i.label),
                    _rich(_coloured(i.status.value.replace("_", " "), _STATUS[i.status.value])),
                    _p(value),
                    _p(i.source, SMALL),
                ]
            )
        s.append(_table(rows, [62 * mm, 17 * mm, 55 * mm, width - 134 * mm]))

    s.append(_p("Blood gases", H2))
    if r.gases:
        heads = ("Time", "PaO2", "FiO2 (source)", "PEEP", PF_LABEL, OI_LABEL)
        rows = [[_p(h, SMALL if "=" in h else BODY) for h in heads]]
        for g in r.gases:
            rows.append(
                [
                    _p(when(g["t"])),
                    _p(num(g["pao2_mmhg"])),
                    _p(f"{num(g['fio2_pct'])} % ({g['fio2_source']})"),
                    _p(num(g["peep_cmh2o"])),
                    _p(num(g["pf_ratio"])),
                    _p(num(g["oxygenation_index"])),
                ]
            )
        s.append(_table(rows, [36 * mm, 15 * mm, width - 101 * mm, 15 * mm, 18 * mm, 17 * mm]))
    else:
        s.append(_p("No blood gas entered."))

    s.append(_p("Baseline (pre-infusion)", H2))
    if r.baseline:
        s.append(
            _p(
                f"{r.baseline[0]['statistic']} of the usable samples before the infusion start, "
                "as the rules engine takes it; none when fewer samples than needed.",
                SMALL,
            )
        )
        rows = [[_p(h) for h in ("Parameter", "Baseline", "Samples (needed)", "Look-back")]]
        for b in r.baseline:
            val = f"{num(b['value'])} {unit(b['unit'])}" if b["value"] is not None else "none"
            rows.append(
                [
                    _p(b["label"]),
                    _p(val),
                    _p(f"{b['samples']} ({b['needed']})"),
                    _p(f"{b['lookback_min']:g} min"),
                ]
            )
        s.append(_table(rows, [50 * mm, 40 * mm, 35 * mm, width - 125 * mm]))
    else:
        s.append(_p("No baseline."))

    s.append(_p(f"Alerts and infusion-associated events ({len(r.alerts)})", H2))
    if r.alerts:
        rows = [[_p(h) for h in ("Onset", "Alert and evidence", "Acknowledged", "Ended")]]
        for a in r.alerts:
            head = (_coloured("IAE ", "#b71c1c") if a["iae"] else "") + _t(
                f"{a['category'].replace('_', ' ')} - {a['priority']}: {a['message']}"
            )
            ev = _t(evidence(a["evidence"])).replace("\n", "<br/>")
            acked = (
                _t(f"{a['acked_by']} {when(a['acked_at'])}")
                if a["acked_by"]
                else _coloured("not acknowledged", "#8a6d00")
            )
            ended = (
                _t(when(a["ended_at"]) + " " + str(a["final_evidence"].get("ended_by", "")))
                if a["ended_at"]
                else _coloured("still active", "#8a6d00")
            )
            ended += _t(ended_note(r.safety, a["id"])) + _t(verdict_note(r.safety, a["id"]))
            rows.append(
                [
                    _p(when(a["onset"])),
                    [_rich(head), _rich(ev, MONO)],
                    _rich(acked),
                    _rich(ended),
                ]
            )
        s.append(_table(rows, [27 * mm, width - 81 * mm, 27 * mm, 27 * mm]))
    else:
        s.append(_rich(_coloured("No alert in the window.", "#1b5e20")))

    s += _entries(r, width) + _safety(r, width)

    s.append(_p("Trends", H2))
    s.append(
        _rich(
            _coloured("shaded: infusion", "#1f4e79", bold=False)
            + " - "
            + _coloured("dashed red: protocol IAE onset", IAE_COLOUR, bold=False)
            + " - "
            + _coloured("dashed amber: other alert onset", WARN_COLOUR, bold=False),
            SMALL,
        )
    )
    for chart in report_charts(r):
        s.append(KeepTogether([chart_drawing(chart, width)]))

    s.append(_p(f"Data completeness (gaps longer than {r.gap_s:g} s)", H2))
    if r.coverage:
        rows = [[_p(h) for h in ("Device", "Coverage", "Samples", "Gaps")]]
        for c in r.coverage:
            gaps = (
                "<br/>".join(
                    _t(f"{when(g['from'])} -> {when(g['to'])} ({duration(g['s'])})")
                    for g in c["gaps"][:8]
                )
                or "none"
            )
            if len(c["gaps"]) > 8:
                gaps += "<br/>" + _t(f"... and {len(c['gaps']) - 8} more")
            colour = (
                "#1b5e20"
                if c["coverage_pct"] >= 99
                else "#8a6d00"
                if c["coverage_pct"] >= 90
                else "#b71c1c"
            )
            rows.append(
                [
                    _p(c["device"]),
                    _rich(_coloured(f"{c['coverage_pct']:.1f} %", colour)),
                    _p(c["samples"]),
                    _rich(gaps),
                ]
            )
        s.append(_table(rows, [35 * mm, 22 * mm, 20 * mm, width - 77 * mm]))
    else:
        s.append(_rich(_coloured("No device data stored for this bed in the window.", "#b71c1c")))
    s.append(Spacer(1, 4 * mm))
    s.append(
        _p(
            "iaewatch - clinical decision support for a research protocol; not a medical "
            f"device. Times in UTC. Report schema {SCHEMA}.",
            SMALL,
        )
    )
    return s


def _entries(r: Report, width: float) -> list[Flowable]:
    """Clinician entries and device events of the window (cardioversion, signs, alarms)."""
    out: list[Flowable] = [_p(f"Clinician entries and device events ({len(r.events)})", H2)]
    if not r.events:
        return [*out, _p("None in the window.")]
    rows = [[_p(h) for h in ("Time", "Entry or event", "Details", "From")]]
    for e in r.events:
        fields = ", ".join(f"{k} {show(v)}" for k, v in e["fields"].items())
        who = "clinician" if str(e["source"]) == "clinician" else (e["device"] or str(e["source"]))
        rows.append(
            [_p(when(e["t"])), _p(e["event"].replace("_", " ")), _p(fields, SMALL), _p(who)]
        )
    return [*out, _table(rows, [36 * mm, 36 * mm, width - 102 * mm, 30 * mm])]


def _safety(r: Report, width: float) -> list[Flowable]:
    """The adverse events with their CRF fields and signatures."""
    aes = r.safety.get("adverse_events", [])
    out: list[Flowable] = [_p(f"Adverse events ({len(aes)})", H2)]
    if not aes:
        return [*out, _p("No adverse event recorded.")]
    for ae in aes:
        rows = [[_p(label), _p(value)] for label, value in ae_rows(ae)]
        out.append(KeepTogether([_table(rows, [45 * mm, width - 45 * mm], header=False)]))
        out.append(Spacer(1, 3 * mm))
    return out


def to_pdf(report: Report, *, lang: str = "en", tz: tzinfo | None = None) -> bytes:
    """The PDF in `lang` (`app.report.locale`), times in `tz` with UTC beside them."""
    with report_locale(lang, tz):
        return _pdf(report)


def _pdf(report: Report) -> bytes:
    buf = io.BytesIO()
    sid = str(report.patient["study_id"])

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(BODY_FONT, 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(12 * mm, 8 * mm, _latin(tr(f"iaewatch IAE report - {sid}")))
        canvas.drawRightString(A4[0] - 12 * mm, 8 * mm, tr(f"page {doc.page}"))
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=f"IAE report {sid}",
        author="iaewatch",
        subject=json.dumps({"schema": SCHEMA, "study_id": sid}),
        invariant=1,
    )
    doc.build(_story(report, doc.width), onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
