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
from app.report.html import duration, evidence, unit, when
from app.report.locale import report_locale, term, tr
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
    """A paragraph of plain text, as given (data, or text already in the report's language)."""
    return Paragraph(_t(text), style)


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
                tr("no data in the window"),
                fontName=BODY_FONT,
                fontSize=7,
                textAnchor="middle",
                fillColor=colors.grey,
            )
        )
    return d


def _l(text: str, *args: object, style: ParagraphStyle = BODY) -> Paragraph:
    """A paragraph of a fixed text of the report, in the report's language."""
    return _p(tr(text, *args), style)


def _story(r: Report, width: float) -> list[Flowable]:
    p, o, inf, check = r.patient, r.order, r.infusion, r.eligibility
    s: list[Flowable] = [_l("Infusion-associated events - 24 h report", style=H1)]
    arm = " - " + tr("arm: {0}", p["arm"]) if "arm" in p else ""
    age = (
        tr("{0} years", p["age_years"]) if p.get("age_years") is not None else tr("age not entered")
    )
    iae = (
        _coloured(str(r.iae_count), "#b71c1c") if r.iae_count else _coloured(tr("none"), "#1b5e20")
    )
    window = f"{_t(when(r.since))} -> {_t(when(r.until))}"
    if not r.complete:
        window += " " + _coloured(tr("(interim: window still running)"), "#8a6d00")
    meta = [
        [_l("Study id"), _rich(f"<b>{_t(p['study_id'])}</b>{_t(arm)}")],
        [_l("Bed"), _p(p.get("bed") or "-")],
        [_l("Weight - age"), _p(f"{num(p['weight_kg'])} kg - {age}")],
        [_l("ARDS onset"), _p(when(p.get("ards_onset")))],
        [_l("Window"), _rich(window)],
        [
            _l("Protocol IAEs"),
            _rich(f"{iae} - " + _t(tr("other alerts: {0}", len(r.alerts) - r.iae_count))),
        ],
        [_l("Adjudicated"), _p(iae_counts(r.safety))],
        [_l("Adverse events"), _p(ae_summary(r.safety))],
        [_l("Generated"), _l("{0} by iaewatch", when(r.generated_at))],
    ]
    s.append(_table(meta, [35 * mm, width - 35 * mm], header=False))
    for n in r.notes:
        s.append(_rich(_coloured(tr(n), "#8a6d00", bold=False)))

    s.append(_l("Order and infusion", style=H2))
    rows: list[list[Any]] = [[_l("Order"), _p(order_text(o))]]
    if inf is not None:
        checks = "<br/>".join(
            (_coloured("✓", "#1b5e20") if c["ok"] else _coloured("×", "#b71c1c"))
            + " "
            + _t(tr(c["text"]))
            for c in inf["checks"]
        )
        rows += [
            [_l("Started"), _p(started_text(inf, when))],
            [_l("Ended"), _p(ended_text(inf, when))],
            [_l("Volume"), _p(volume_text(inf))],
            [_l("Rate"), _p(rate_text(inf))],
            [_l("Against the order"), _rich(checks or _t(tr("nothing to check yet")))],
        ]
    else:
        rows.append([_l("Infusion"), _l("none recorded")])
    s.append(_table(rows, [35 * mm, width - 35 * mm], header=False))
    for ov in r.overrides:
        d = ov["details"]
        s.append(
            _rich(
                _coloured(tr("Started with an eligibility override:") + " ", "#b71c1c")
                + _t(f'{when(ov["t"])} - {ov["actor"]}: "{d.get("reason", "")}"')
                + _t(" (" + tr("checklist was {0}", term("verdict", d.get("verdict", "?"))) + ")")
            )
        )

    if check is not None:
        verdict = check.verdict.value
        colour = {"eligible": "#1b5e20", "ineligible": "#b71c1c"}.get(verdict, "#8a6d00")
        at = when(r.eligibility_at)
        heading = (
            tr("Eligibility at infusion start ({0}):", at)
            if inf
            else tr("Eligibility at report time ({0}):", at)
        )
        s.append(_rich(_t(heading + " ") + _coloured(term("verdict", verdict), colour), H2))
        rows = [[_l("Criterion"), _l("Status"), _l("Value"), _l("Source")]]
        for i in check.items:
            value = " - ".join(x for x in (show(i.value), tr(i.detail) if i.detail else "") if x)
            rows.append(
                [
                    _p(tr(i.label)),
                    _rich(_coloured(term("status", i.status.value), _STATUS[i.status.value])),
                    _p(value),
                    _p(tr(i.source) if i.source else "", SMALL),
                ]
            )
        s.append(_table(rows, [62 * mm, 17 * mm, 55 * mm, width - 134 * mm]))

    s.append(_l("Blood gases", style=H2))
    if r.gases:
        heads = ("Time", "PaO2", "FiO2 (source)", "PEEP", PF_LABEL, OI_LABEL)
        rows = [[_l(h, style=SMALL if "=" in h else BODY) for h in heads]]
        for g in r.gases:
            rows.append(
                [
                    _p(when(g["t"])),
                    _p(num(g["pao2_mmhg"])),
                    _p(f"{num(g['fio2_pct'])} % ({tr(g['fio2_source'])})"),
                    _p(num(g["peep_cmh2o"])),
                    _p(num(g["pf_ratio"])),
                    _p(num(g["oxygenation_index"])),
                ]
            )
        s.append(_table(rows, [36 * mm, 15 * mm, width - 101 * mm, 15 * mm, 18 * mm, 17 * mm]))
    else:
        s.append(_l("No blood gas entered."))

    s.append(_l("Baseline (pre-infusion)", style=H2))
    if r.baseline:
        s.append(
            _l(
                "{0} of the usable samples before the infusion start, as the rules engine "
                "takes it; none when fewer samples than needed.",
                term("statistic", r.baseline[0]["statistic"]),
                style=SMALL,
            )
        )
        rows = [[_l(h) for h in ("Parameter", "Baseline", "Samples (needed)", "Look-back")]]
        for b in r.baseline:
            val = f"{num(b['value'])} {unit(b['unit'])}" if b["value"] is not None else tr("none")
            rows.append(
                [
                    _p(term("param", b["code"])),
                    _p(val),
                    _p(f"{b['samples']} ({b['needed']})"),
                    _p(f"{b['lookback_min']:g} min"),
                ]
            )
        s.append(_table(rows, [50 * mm, 40 * mm, 35 * mm, width - 125 * mm]))
    else:
        s.append(_l("No baseline."))

    s.append(_l("Alerts and infusion-associated events ({0})", len(r.alerts), style=H2))
    if r.alerts:
        rows = [[_l(h) for h in ("Onset", "Alert and evidence", "Acknowledged", "Ended")]]
        for a in r.alerts:
            head = (_coloured("IAE ", "#b71c1c") if a["iae"] else "") + _t(
                f"{term('category', a['category'])} - {term('priority', a['priority'])}: "
                f"{alert_text(a)}"
            )
            ev = _t(evidence(a["evidence"])).replace("\n", "<br/>")
            acked = (
                _t(f"{a['acked_by']} {when(a['acked_at'])}")
                if a["acked_by"]
                else _coloured(tr("not acknowledged"), "#8a6d00")
            )
            ended_by = a["final_evidence"].get("ended_by")
            ended = (
                _t(when(a["ended_at"]) + (" " + tr(str(ended_by)) if ended_by else ""))
                if a["ended_at"]
                else _coloured(tr("still active"), "#8a6d00")
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
        s.append(_rich(_coloured(tr("No alert in the window."), "#1b5e20")))

    s += _entries(r, width) + _safety(r, width)

    s.append(_l("Trends", style=H2))
    s.append(
        _rich(
            _coloured(tr("shaded: infusion"), "#1f4e79", bold=False)
            + " - "
            + _coloured(tr("dashed red: protocol IAE onset"), IAE_COLOUR, bold=False)
            + " - "
            + _coloured(tr("dashed amber: other alert onset"), WARN_COLOUR, bold=False),
            SMALL,
        )
    )
    for chart in report_charts(r):
        s.append(KeepTogether([chart_drawing(chart, width)]))

    s.append(_l("Data completeness (gaps longer than {0} s)", f"{r.gap_s:g}", style=H2))
    if r.coverage:
        rows = [[_l(h) for h in ("Device", "Coverage", "Samples", "Gaps")]]
        for c in r.coverage:
            gaps = "<br/>".join(
                _t(f"{when(g['from'])} -> {when(g['to'])} ({duration(g['s'])})")
                for g in c["gaps"][:8]
            ) or _t(tr("none"))
            if len(c["gaps"]) > 8:
                gaps += "<br/>" + _t(tr("... and {0} more", len(c["gaps"]) - 8))
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
        s.append(
            _rich(_coloured(tr("No device data stored for this bed in the window."), "#b71c1c"))
        )
    s.append(Spacer(1, 4 * mm))
    s.append(_p(footer_text(r.audit_rows, r.audit_head), SMALL))
    return s


def _entries(r: Report, width: float) -> list[Flowable]:
    """Clinician entries and device events of the window (cardioversion, signs, alarms)."""
    out: list[Flowable] = [_l("Clinician entries and device events ({0})", len(r.events), style=H2)]
    if not r.events:
        return [*out, _l("None in the window.")]
    rows = [[_l(h) for h in ("Time", "Entry or event", "Details", "From")]]
    for e in r.events:
        rows.append(
            [
                _p(when(e["t"])),
                _p(term("event", e["event"])),
                _p(event_fields(e), SMALL),
                _p(event_from(e)),
            ]
        )
    return [*out, _table(rows, [36 * mm, 36 * mm, width - 102 * mm, 30 * mm])]


def _safety(r: Report, width: float) -> list[Flowable]:
    """The adverse events with their CRF fields and signatures."""
    aes = r.safety.get("adverse_events", [])
    out: list[Flowable] = [_l("Adverse events ({0})", len(aes), style=H2)]
    if not aes:
        return [*out, _l("No adverse event recorded.")]
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
        canvas.drawString(12 * mm, 8 * mm, _latin(tr("iaewatch IAE report - {0}", sid)))
        canvas.drawRightString(A4[0] - 12 * mm, 8 * mm, _latin(tr("page {0}", doc.page)))
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
