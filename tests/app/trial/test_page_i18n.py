"""The trial page's catalogues (app/station/i18n/trial-*.json, merged over the station's):
the same keys in both languages, no empty text, the same placeholders, Chinese in zh-CN, and
every key the page's code names is in the station's catalogue or the page's own."""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.station import STATION_DIR

I18N = STATION_DIR / "i18n"
STATIC_KEY = re.compile(r"""\bt\(\s*"([\w.\-]+)"|data-i18n(?:-title)?="([\w.\-]+)\"""")
DYNAMIC_PREFIX = re.compile(r"""\b(?:t|tOr)\(\s*`([\w\-.]+\.)\$\{""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _load(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_both_languages_have_the_same_strings() -> None:
    en, zh = _load(I18N / "trial-en.json"), _load(I18N / "trial-zh-CN.json")
    assert sorted(zh) == sorted(en)
    for key, text in zh.items():
        assert text.strip() and en[key].strip(), key
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(en[key])), key
    translated = [k for k, v in zh.items() if HAN.search(v)]
    assert len(translated) > 0.8 * len(zh)


def test_every_key_the_page_uses_is_in_its_catalogues() -> None:
    keys = set(_load(I18N / "en.json")) | set(_load(I18N / "trial-en.json"))
    files = [*STATION_DIR.glob("trial*.js"), STATION_DIR / "trial.html"]
    src = "\n".join(p.read_text(encoding="utf-8") for p in files)
    used = {a or b for a, b in STATIC_KEY.findall(src)}
    assert len(used) > 50, "the pattern no longer matches the page's code"
    assert sorted(used - keys) == []
    prefixes = set(DYNAMIC_PREFIX.findall(src))
    assert prefixes >= {"trial.status.", "trial.verdict.", "trial.choice."}
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in keys), prefix
