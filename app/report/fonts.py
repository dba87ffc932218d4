"""The PDF report's fonts: a CJK TrueType font so that 中文, SpO₂, ≥ and µ print as written.

The font comes from Debian (`fonts-wqy-microhei`, or `fonts-wqy-zenhei`; `.ci/run` installs
the first) or from `IAEWATCH_CJK_FONT` (a .ttf or .ttc path). reportlab embeds the subset used.
Without one, the PDF falls back to the base fonts and their Latin-1 text (`UNICODE` is False),
and says so in the log.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

log = logging.getLogger(__name__)

CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)
NAME = "IaewCJK"


def _find() -> Path | None:
    own = os.environ.get("IAEWATCH_CJK_FONT")
    if own:
        return Path(own)
    return next((p for p in CANDIDATES if p.is_file()), None)


def _register() -> bool:
    path = _find()
    if path is None:
        log.warning(
            "no CJK font found (apt-get install fonts-wqy-microhei): the PDF report "
            "will print Chinese text as '?'"
        )
        return False
    pdfmetrics.registerFont(TTFont(NAME, str(path), subfontIndex=0))
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(NAME, bold, italic, NAME)  # one weight: <b> stays legible
    return True


UNICODE = _register()
"""True when the CJK font is registered: text goes into the PDF as written."""
FONT_FILE = _find() if UNICODE else None
BODY_FONT = NAME if UNICODE else "Helvetica"
BOLD_FONT = NAME if UNICODE else "Helvetica-Bold"
MONO_FONT = NAME if UNICODE else "Courier"
