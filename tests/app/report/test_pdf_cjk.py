"""The PDF report embeds a CJK TrueType font and prints 中文, SpO₂, ≥ and µ as written
(not as '?'): the font file is in the PDF, and its ToUnicode map covers those characters."""

from __future__ import annotations

import re
import zlib
from dataclasses import replace

from app.report import ReportFormat, render
from app.report.fonts import UNICODE
from app.report.sample import sample_report
from monitors import default_ruleset

WANTED = "中文SpO₂≥µ"


def _streams(pdf: bytes) -> list[bytes]:
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            out.append(zlib.decompressobj().decompress(m.group(1)))
        except zlib.error:
            out.append(m.group(1))
    return out


def _mapped(pdf: bytes) -> set[str]:
    """Every character some embedded font's ToUnicode CMap maps a glyph to."""
    chars: set[str] = set()
    for s in _streams(pdf):
        if b"beginbfchar" in s or b"beginbfrange" in s:
            for hexcode in re.findall(rb"<([0-9A-Fa-f]{4})>", s):
                chars.add(chr(int(hexcode[-4:], 16)))
    return chars


async def test_pdf_embeds_a_cjk_font_and_prints_chinese() -> None:
    assert UNICODE, "no CJK font: apt-get install fonts-wqy-microhei (see .ci/run)"
    rep = await sample_report("ventilatory_escalation", default_ruleset(), period=60.0)
    rep = replace(rep, notes=[*rep.notes, "中文备注：SpO₂ ≥ 90 %，剂量 0.05 µg/kg/min"])
    pdf = render(rep, ReportFormat.PDF)
    assert pdf.startswith(b"%PDF")
    assert re.search(rb"/BaseFont /[A-Z]{6}\+WenQuanYi", pdf) or b"/FontFile2" in pdf
    assert b"/FontFile2" in pdf, "the TrueType font program is embedded"
    missing = [c for c in WANTED if c not in _mapped(pdf)]
    assert missing == [], f"not printable from the embedded font: {missing}"
