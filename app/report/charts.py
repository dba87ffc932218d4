"""Trend charts as geometry (pure), drawn as inline SVG here and as reportlab drawings in
`app.report.pdf`, so the HTML and the PDF show the same picture.

A chart spans the report window on x (hours from its start); the infusion is a shaded band,
every alert onset a vertical mark (red for protocol IAEs, amber for the others).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from app.report.locale import local_time, term, tr

if TYPE_CHECKING:
    from app.report.data import Report

WIDTH, HEIGHT = 720.0, 120.0
LEFT, RIGHT, TOP, BOTTOM = 48.0, 8.0, 16.0, 20.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Mark:
    x: float
    iae: bool
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    """A chart in its own coordinates: (0, 0) top left, `WIDTH` × `HEIGHT`."""

    title: str
    unit: str
    lines: tuple[tuple[tuple[float, float], ...], ...]  # polylines (broken at data gaps)
    dots: tuple[tuple[float, float], ...]
    y_ticks: tuple[tuple[float, str], ...]  # (y, label)
    x_ticks: tuple[tuple[float, str], ...]
    band: tuple[float, float] | None  # infusion, x from..to
    marks: tuple[Mark, ...]
    width: float = WIDTH
    height: float = HEIGHT


def _nice_step(span: float, target: int = 4) -> float:
    raw = span / target
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * mag:
            return float(m * mag)
    return float(10.0 * mag)


def _fmt(v: float, step: float) -> str:
    decimals = 0 if step >= 1 else 1 if step >= 0.1 else 2
    return f"{v:.{decimals}f}"


def build_chart(
    *,
    title: str,
    unit: str,
    points: Sequence[tuple[datetime, float]],
    since: datetime,
    until: datetime,
    points_only: bool = False,
    infusion: tuple[datetime, datetime | None] | None = None,
    marks: Sequence[tuple[datetime, bool, str]] = (),
    gap_s: float | None = None,
) -> Chart:
    """Scale `points` into a chart; a line breaks where samples are more than `gap_s` apart
    (default: 3 % of the window), so missing data never looks like a straight trend."""
    span_s = max(1.0, (until - since).total_seconds())
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x_of(t: datetime) -> float:
        frac = (t - since).total_seconds() / span_s
        return LEFT + max(0.0, min(1.0, frac)) * plot_w

    values = [v for _, v in points if math.isfinite(v)]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    step = _nice_step(hi - lo)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step

    def y_of(v: float) -> float:
        return TOP + (1.0 - (v - lo) / (hi - lo)) * plot_h

    gap = gap_s if gap_s is not None else span_s * 0.03
    lines: list[tuple[tuple[float, float], ...]] = []
    dots: list[tuple[float, float]] = []
    if points_only:
        dots = [(x_of(t), y_of(v)) for t, v in points if math.isfinite(v)]
    else:
        current: list[tuple[float, float]] = []
        last: datetime | None = None
        for t, v in points:
            if not math.isfinite(v):
                continue
            if last is not None and (t - last).total_seconds() > gap and current:
                lines.append(tuple(current))
                current = []
            current.append((x_of(t), y_of(v)))
            last = t
        if current:
            lines.append(tuple(current))
        dots = [line[0] for line in lines if len(line) == 1]
    y_ticks = []
    n = round((hi - lo) / step)
    for k in range(n + 1):
        v = lo + k * step
        y_ticks.append((y_of(v), _fmt(v, step)))
    hours = span_s / 3600.0
    h_step = 1.0 if hours <= 6 else 2.0 if hours <= 12 else 4.0
    x_ticks = []
    h = 0.0
    while h <= hours + 1e-9:
        x_ticks.append((LEFT + h / hours * plot_w, f"{h:g} h"))
        h += h_step
    band = None
    if infusion is not None:
        start, end = infusion
        band = (x_of(start), x_of(end or until))
        if band[1] - band[0] < 1.5:
            band = (band[0], band[0] + 1.5)
    return Chart(
        title=title,
        unit=unit,
        lines=tuple(lines),
        dots=tuple(dots),
        y_ticks=tuple(y_ticks),
        x_ticks=tuple(x_ticks),
        band=band,
        marks=tuple(Mark(x=x_of(t), iae=iae, label=label) for t, iae, label in marks),
    )


IAE_COLOUR, WARN_COLOUR, LINE_COLOUR, BAND_COLOUR = "#c62828", "#ef8f00", "#1f4e79", "#d6e6f5"


def svg(chart: Chart) -> str:
    """The chart as an inline SVG element (no script, no external reference)."""
    w, h = chart.width, chart.height
    parts = [
        f'<svg class="chart" viewBox="0 0 {w:g} {h:g}" width="100%" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(chart.title)}">'
    ]
    parts.append(
        f'<text x="{LEFT:g}" y="11" class="ct">{escape(chart.title)}'
        + (f" ({escape(chart.unit)})" if chart.unit else "")
        + "</text>"
    )
    if chart.band is not None:
        a, b = chart.band
        parts.append(
            f'<rect x="{a:.1f}" y="{TOP:g}" width="{b - a:.1f}" height="{h - TOP - BOTTOM:g}" '
            f'fill="{BAND_COLOUR}"><title>{escape(tr("infusion"))}</title></rect>'
        )
    for y, label in chart.y_ticks:
        parts.append(
            f'<line x1="{LEFT:g}" x2="{w - RIGHT:g}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 4:g}" y="{y + 3:.1f}" class="yt">{escape(label)}</text>'
        )
    for x, label in chart.x_ticks:
        parts.append(f'<text x="{x:.1f}" y="{h - 6:g}" class="xt">{escape(label)}</text>')
    for m in chart.marks:
        colour = IAE_COLOUR if m.iae else WARN_COLOUR
        parts.append(
            f'<line x1="{m.x:.1f}" x2="{m.x:.1f}" y1="{TOP:g}" y2="{h - BOTTOM:g}" '
            f'stroke="{colour}" stroke-width="1" stroke-dasharray="3 2">'
            f"<title>{escape(m.label)}</title></line>"
        )
    for line in chart.lines:
        if len(line) < 2:
            continue
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in line)
        parts.append(
            f'<polyline points="{pts}" fill="none" stroke="{LINE_COLOUR}" stroke-width="1.2"/>'
        )
    for x, y in chart.dots:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{LINE_COLOUR}"/>')
    if not chart.lines and not chart.dots:
        parts.append(
            f'<text x="{w / 2:g}" y="{h / 2:g}" class="nodata">'
            f"{escape(tr('no data in the window'))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def report_charts(report: Report) -> list[Chart]:
    """One chart per trend of the report, with the infusion and every alert onset marked."""
    inf = report.infusion
    band = None if inf is None else (inf["started_at"], inf["ended_at"])
    marks = [
        (a["onset"], bool(a["iae"]), f"{term('category', a['category'])} {local_time(a['onset'])}")
        for a in report.alerts
        if report.since <= a["onset"] <= report.until
    ]
    return [
        build_chart(
            title=tr(title),
            unit=s["unit"],
            points=s["points"],
            since=report.since,
            until=report.until,
            points_only=s["points_only"],
            infusion=band,
            marks=marks,
        )
        for title, s in report.trends.items()
    ]
