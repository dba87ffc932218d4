"""The station page's catalogues (app/station/i18n/*.json): the same keys in every language,
no empty text, the same placeholders, and every key the page's code names is in them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.station import STATION_DIR

PAGE_PREFIX = "trial"  # the trial page's own catalogues and code: tests/app/trial/test_page_i18n.py
CATALOGUES = sorted(
    p for p in (STATION_DIR / "i18n").glob("*.json") if not p.name.startswith(PAGE_PREFIX)
)
# t("key" / tOr(`prefix.${...}` / data-i18n="key" in the page's modules and HTML
STATIC_KEY = re.compile(r"""\bt\(\s*"([\w.\-]+)"|data-i18n(?:-title)?="([\w.\-]+)\"""")
DYNAMIC_PREFIX = re.compile(r"""\b(?:t|tOr)\(\s*`([\w\-]+\.)\$\{""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _load(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _sources() -> str:
    files = [
        *(p for p in STATION_DIR.glob("*.js") if not p.name.startswith(PAGE_PREFIX)),
        STATION_DIR / "index.html",
    ]
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


def test_both_languages_are_shipped() -> None:
    assert [p.stem for p in CATALOGUES] == ["en", "zh-CN"]


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.stem)
def test_no_string_is_missing_or_empty_in_either_language(path: Path) -> None:
    english = _load(STATION_DIR / "i18n" / "en.json")
    other = _load(path)
    assert sorted(other) == sorted(english), "keys differ from en.json"
    for key, text in other.items():
        assert isinstance(text, str) and text.strip(), f"{path.name}: {key} is empty"
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), (
            f"{path.name}: {key} has other placeholders than en.json"
        )


def test_every_key_the_page_uses_is_in_the_catalogues() -> None:
    keys = set(_load(STATION_DIR / "i18n" / "en.json"))
    src = _sources()
    used = {a or b for a, b in STATIC_KEY.findall(src)}
    assert used, "no key found: the pattern no longer matches the page's code"
    assert sorted(used - keys) == []
    for prefix in set(DYNAMIC_PREFIX.findall(src)):
        assert any(k.startswith(prefix) for k in keys), f"no key for the prefix {prefix!r}"


def test_chinese_catalogue_is_chinese() -> None:
    zh = _load(STATION_DIR / "i18n" / "zh-CN.json")
    han = re.compile(r"[\u4e00-\u9fff]")
    assert sum(bool(han.search(v)) for v in zh.values()) > 0.8 * len(zh) - 40
    assert zh["outage.title"] == "未在接收报警"
