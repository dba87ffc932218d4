"""The report's language and time zone, for one rendering.

`report_locale(lang, tz)` sets both for the code inside it (a context variable: renderings
in other tasks or threads are not affected). `tr(text)` gives the catalogue's translation of a
fixed English text of the report and `term(kind, name)` a name of the data (category, rule,
event, field, CRF value) from `app/report/i18n/<lang>.json` (en.json and zh-CN.json hold the
same keys; a text may hold `{0}`, `{1}` for numbers or names inside it). `local_time(t)`
writes a time in the site's zone with UTC beside it, or in UTC alone when no zone is set.
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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CATALOGUES = Path(__file__).parent / "i18n"
LANGUAGES = ("en", "zh-CN")
_PLACE = re.compile(r"\\\{(\d)\\\}")
_lang: ContextVar[str] = ContextVar("report_lang", default="en")
_tz: ContextVar[tzinfo | None] = ContextVar("report_tz", default=None)
_missing: ContextVar[set[str] | None] = ContextVar("report_missing", default=None)


@functools.cache
def _catalogue(lang: str) -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    path = CATALOGUES / f"{lang}.json"
    texts: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    patterns = [
        (re.compile("^" + _PLACE.sub(r"(?P<p\1>.+?)", re.escape(k)) + "$", re.S), v)
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


@contextlib.contextmanager
def missing_texts() -> Iterator[set[str]]:
    """Collect, inside this, every text and term the current catalogue lacks (for tests)."""
    found: set[str] = set()
    token = _missing.set(found)
    try:
        yield found
    finally:
        _missing.reset(token)


def _miss(key: str) -> None:
    found = _missing.get()
    if found is not None:
        found.add(key)


def _lookup(text: str) -> str | None:
    """`text` in the current language: its entry, or a pattern it fills (`Exclusion absent:
    {0}`) with each filled-in part looked up the same way; None when the catalogue lacks it."""
    texts, patterns = _catalogue(_lang.get())
    if text in texts:
        return texts[text]
    for pattern, target in patterns:
        m = pattern.match(text)
        if m:
            for name, value in m.groupdict().items():
                target = target.replace(f"{{{name[1:]}}}", _lookup(value) or _time(value))
            return target
    return None


_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def _time(value: str) -> str:
    """A filled-in ISO 8601 time (`confirmed by dr.lee at 2026-03-01T07:15:00Z`) as
    `local_time` writes it; any other value as it is."""
    if not _ISO.fullmatch(value):
        return value
    return local_time(datetime.fromisoformat(value))


def tr(text: str, *args: object) -> str:
    """The current language's text for a fixed English `text` of the report, its `{0}`,
    `{1}`... filled from `args`. Without `args`, a text already filled in (a note written
    when the report was gathered) is matched against the catalogue's patterns, its times
    written in the report's zone."""
    texts, _ = _catalogue(_lang.get())
    if args and text in texts:
        out = texts[text]
    else:
        found = None if args else _lookup(text)
        if found is not None:
            return found
        _miss(text)
        out = text
    for i, a in enumerate(args):
        out = out.replace(f"{{{i}}}", str(a))
    return out


def tr_data(value: str) -> str:
    """A value of the data (a consenter, a source) in the current language when the catalogue
    has a text for it, else as stored."""
    return _lookup(value) or value


def term(kind: str, name: object) -> str:
    """The current language's word for a name of the data (`term("category", "fever")`: the
    catalogue's `category.fever`), else the name with its underscores as spaces."""
    key = f"{kind}.{name}"
    texts, _ = _catalogue(_lang.get())
    if key in texts:
        return texts[key]
    _miss(key)
    return str(name).replace("_", " ")


def pick_language(asked: str | None, accept_language: str | None = None) -> str:
    """The report's language: `asked` (one of LANGUAGES, else ValueError naming them), else
    the first of the user's preferred languages (an Accept-Language header) we have, else en."""
    if asked is not None:
        if asked not in LANGUAGES:
            raise ValueError(f"lang {asked!r}: one of {', '.join(LANGUAGES)}")
        return asked
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"


def pick_zone(name: str | None, site_zone: str | None = None) -> tzinfo | None:
    """The IANA zone `name`, else the site's zone (None: UTC alone); ValueError naming a zone
    that does not exist."""
    chosen = name if name is not None else site_zone
    if chosen is None or chosen == "UTC":
        return None
    try:
        return ZoneInfo(chosen)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"tz {chosen!r}: not an IANA time zone (e.g. Asia/Shanghai)") from None


def language() -> str:
    return _lang.get()


def zone_name() -> str | None:
    """The report's time zone (its IANA name), None for UTC alone."""
    zone = _tz.get()
    return None if zone is None else str(zone)


def local_time(t: datetime) -> str:
    """`2026-03-01 16:00:00 CST (08:00:00 UTC)` in the site's zone, else `... UTC`."""
    utc = t.astimezone(UTC)
    zone = _tz.get()
    if zone is None:
        return utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    local = t.astimezone(zone)
    return f"{local.strftime('%Y-%m-%d %H:%M:%S %Z')} ({utc.strftime('%H:%M:%S')} UTC)"
