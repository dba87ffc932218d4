"""Every text of the HTML and PDF report comes from the catalogues (app/report/i18n): both
languages hold the same keys, every name the data can carry has its text, and a zh-CN report
of a shipped scenario asks for no text the catalogue lacks and shows no English label."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app import pipeline, product_check, sae_clock, storage_watch, watchdog
from app.api.adjudication import NotIaeReason
from app.api.adverse_events import Action, Causality, Outcome, Seriousness
from app.report import Report, ReportFormat, locale, render
from app.report.data import _EVENT_NAMES, BASELINE_CODES, PANELS
from app.report.locale import missing_texts, pick_language, pick_zone
from app.report.sample import sample_report
from core.model import Category, Priority
from core.vocabulary import PUMP_ALARM_KINDS, RHYTHMS, SIGNS
from monitors import default_ruleset
from monitors.engine.assess import CANNOT_ASSESS
from monitors.engine.infusion import BASELINE_MISSING
from monitors.trial.eligibility import EXCLUSIONS
from monitors.trial.order_check import RULES as ORDER_RULES

PLACEHOLDER = re.compile(r"\{(\d)\}")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _catalogue(lang: str) -> dict[str, str]:
    data = json.loads((locale.CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_both_languages_hold_the_same_keys_and_placeholders() -> None:
    en, zh = _catalogue("en"), _catalogue("zh-CN")
    assert sorted(set(en) ^ set(zh)) == []
    for key in en:
        assert en[key].strip() and zh[key].strip(), key
        assert set(PLACEHOLDER.findall(en[key])) == set(PLACEHOLDER.findall(zh[key])), key
        if not re.match(r"[a-z_]+\.\S", key):  # a fixed text is its own English
            assert en[key] == key


def test_every_name_the_data_can_carry_has_a_text() -> None:
    rules = {r.id for r in default_ruleset().rules}
    rules |= {watchdog.RULE, storage_watch.RULE, sae_clock.RULE, product_check.RULE}
    rules |= {pipeline.NOT_RESTORED_RULE, CANNOT_ASSESS.id, BASELINE_MISSING.id, *ORDER_RULES}
    names: dict[str, Any] = {
        "rule": rules,
        "param": BASELINE_CODES,
        "category": [c.value for c in Category],
        "priority": [p.value for p in Priority],
        "event": _EVENT_NAMES,
        "pump_alarm": PUMP_ALARM_KINDS,
        "said": (*RHYTHMS, *SIGNS),
        "seriousness": [s.value for s in Seriousness],
        "causality": [c.value for c in Causality],
        "action": [a.value for a in Action],
        "outcome": [o.value for o in Outcome],
        "not_iae_reason": [r.value for r in NotIaeReason],
        "status": ("met", "not_met", "unknown"),
        "verdict": ("eligible", "ineligible", "incomplete"),
    }
    texts = [p.title for p in PANELS] + [label for _, label in EXCLUSIONS]
    for lang in ("en", "zh-CN"):
        cat = _catalogue(lang)
        lacking = [f"{k}.{n}" for k, ns in names.items() for n in ns if f"{k}.{n}" not in cat]
        assert lacking == [], lang
        assert [t for t in texts if t not in cat] == [], lang


@pytest.fixture(scope="module")
def report() -> Report:
    import asyncio

    return asyncio.run(sample_report("embolism_pattern", default_ruleset(), period=60.0))


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_rendered_report_asks_for_nothing_the_catalogue_lacks(report: Report, lang: str) -> None:
    with missing_texts() as missing:
        html = render(report, ReportFormat.HTML, lang=lang, tz=SHANGHAI)
        pdf = render(report, ReportFormat.PDF, lang=lang, tz=SHANGHAI)
    assert sorted(missing) == []
    assert pdf.startswith(b"%PDF") and b"<html" in html


def _visible(html: str) -> str:
    """The page's text without its style, its evidence blocks (data: codes and values) and
    its tags. Single words are left to the missing-text test: free text a clinician typed
    ("infusion stopped") and user names ("nurse.kim") would match them."""
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    html = re.sub(r'<div class="ev">.*?</div>', " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_a_zh_cn_report_shows_no_english_label(report: Report) -> None:
    en, zh = _catalogue("en"), _catalogue("zh-CN")
    text = _visible(render(report, ReportFormat.HTML, lang="zh-CN", tz=SHANGHAI).decode())
    english = {
        en[k]
        for k in en
        if en[k] != zh[k] and "{" not in en[k] and " " in en[k] and re.search("[a-z]{3}", en[k])
    }
    shown = sorted(e for e in english if re.search(rf"(?<![\w-]){re.escape(e)}(?![\w-])", text))
    assert shown == []
    # filled-in texts are matched as well: "41 min (order 30–60)" → "41 分钟（医嘱 30–60）"
    assert "分钟（医嘱 30–60）" in text and "(order" not in text
    assert "室速" in text or "心动过速" in text or "低血压" in text
    assert "CST (" in text  # local time, UTC beside it
    assert re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text) == []  # no bare UTC time left


def test_language_and_zone_choice() -> None:
    assert pick_language(None, "zh-CN,zh;q=0.9") == "zh-CN"
    assert pick_language(None, "de-DE,en;q=0.5") == "en"
    assert pick_language(None, None) == "en"
    assert pick_language("en", "zh-CN") == "en"
    with pytest.raises(ValueError, match="lang 'fr': one of en, zh-CN"):
        pick_language("fr")
    assert pick_zone(None, "Asia/Shanghai") == SHANGHAI
    assert pick_zone(None, None) is None and pick_zone(None, "UTC") is None
    with pytest.raises(ValueError, match="not an IANA time zone"):
        pick_zone("Mars/Olympus_Mons", "Asia/Shanghai")
