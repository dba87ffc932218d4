"""The 24 h IAE report per patient: gathered from the store (`data`), rendered as a
self-contained printable HTML page (`html`), a PDF for the record (`pdf`), and CSV or JSON for
the trial database (`tabular`).
"""

from __future__ import annotations

from datetime import tzinfo
from enum import StrEnum

from app.report.data import Report, build_report


class ReportFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"
    CSV = "csv"
    JSON = "json"

    @property
    def media_type(self) -> str:
        return {
            "html": "text/html; charset=utf-8",
            "pdf": "application/pdf",
            "csv": "text/csv; charset=utf-8",
            "json": "application/json",
        }[self.value]


def render(
    report: Report, fmt: ReportFormat, *, lang: str = "en", tz: tzinfo | None = None
) -> bytes:
    """The report in `fmt`, as bytes (text formats in UTF-8). The PDF is written in `lang`
    (en, zh-CN); the PDF and HTML give times in `tz` with UTC beside them (default UTC)."""
    if fmt is ReportFormat.PDF:
        from app.report.pdf import to_pdf  # reportlab is imported only when a PDF is asked for

        return to_pdf(report, lang=lang, tz=tz)
    if fmt is ReportFormat.HTML:
        from app.report.html import to_html
        from app.report.locale import report_locale

        with report_locale(lang, tz):
            return to_html(report).encode("utf-8")
    from app.report.tabular import to_csv, to_json

    text = to_csv(report) if fmt is ReportFormat.CSV else to_json(report)
    return text.encode("utf-8")


__all__ = ["Report", "ReportFormat", "build_report", "render"]
