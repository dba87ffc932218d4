"""The report's language and time zone, for one rendering.

`report_locale(lang, tz)` sets both for the code inside it (a context variable: renderings
in other tasks or threads are not affected). `tr(text)` gives the catalogue's translation of a
fixed English text of the report (`app/report/i18n/<lang>.json`; a key may hold `{0}` for a
number or name inside it), else the text itself. `local_time(t)` writes a time in the site's
zone with UTC beside it, or in UTC alone when no zone is set.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo
from pathlib import Path

CATALOGUES = Path(__file__).parent / "i18n"
LANGUAGES = ("en", "zh-CN")
_lang: ContextVar[str] = ContextVar("report_lang", default="en")
_tz: ContextVar[tzinfo | None] = ContextVar("report_tz", default=None)


@functools.cache
def _catalogue(lang: str) -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    path = CATALOGUES / f"{lang}.json"
    if not path.is_file():
        return {}, []
    texts: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    patterns = [
        (re.compile("^" + re.escape(k).replace(re.escape("{0}"), "(.+?)") + "$"), v)
        for k, v in texts.items()
        if "{0}" in k
    ]
    return texts, patterns


@contextlib.contextmanager
def report_locale(lang: str = "en", tz: tzinfo | None = None) -> Iterator[None]:
    """Render the report inside this in `lang` (one of LANGUAGES) and zone `tz`."""
    if lang not in LANGUAGES:
        raise ValueError(f"report language {lang!r}: one of {', '.join(LANGUAGES)}")
    lang_token, tz_token = _lang.set(lang), _tz.set(tz)
    try:
        yield
    finally:
        _lang.reset(lang_token)
        _tz.reset(tz_token)


def tr(text: str) -> str:
    """The current language's text for a fixed English `text` of the report."""
    if _lang.get() == "en":
        return text
    texts, patterns = _catalogue(_lang.get())
    if text in texts:
        return texts[text]
    for pattern, target in patterns:
        m = pattern.match(text)
        if m:
            return target.replace("{0}", m.group(1))
    return text


def local_time(t: datetime) -> str:
    """`2026-03-01 16:00:00 CST (08:00:00 UTC)` in the site's zone, else `... UTC`."""
    utc = t.astimezone(UTC)
    zone = _tz.get()
    if zone is None:
        return utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    local = t.astimezone(zone)
    return f"{local.strftime('%Y-%m-%d %H:%M:%S %Z')} ({utc.strftime('%H:%M:%S')} UTC)"
