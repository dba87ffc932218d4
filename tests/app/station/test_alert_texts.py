"""The station writes an alert's text from its rule and evidence through the catalogues
(`alertText` in app/station/format.js): every rule that can raise an alert, and every rhythm,
sign and pump alarm kind its evidence can carry, has a text in both languages."""

from __future__ import annotations

import json

import pytest

from app import pipeline, product_check, sae_clock, storage_watch, watchdog
from app.station import STATION_DIR
from core.vocabulary import PUMP_ALARM_KINDS, RHYTHMS, SIGNS
from monitors import default_ruleset
from monitors.engine.assess import CANNOT_ASSESS
from monitors.engine.infusion import BASELINE_MISSING
from monitors.trial.order_check import RULES as ORDER_RULES

TECHNICAL = {
    watchdog.RULE,
    storage_watch.RULE,
    sae_clock.RULE,
    product_check.RULE,
    pipeline.NOT_RESTORED_RULE,
    CANNOT_ASSESS.id,
    BASELINE_MISSING.id,
    *ORDER_RULES,
}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_rule_and_detail_has_a_text(lang: str) -> None:
    texts = json.loads((STATION_DIR / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    rules = {r.id for r in default_ruleset().rules} | TECHNICAL
    assert sorted(r for r in rules if f"rule.{r}" not in texts) == []
    assert sorted(v for v in (*RHYTHMS, *SIGNS) if f"said.{v}" not in texts) == []
    assert sorted(k for k in PUMP_ALARM_KINDS if f"pump.{k}" not in texts) == []
    # each shipped rule's category is named too
    categories = {r.category for r in default_ruleset().rules}
    assert sorted(c for c in categories if f"category.{c}" not in texts) == []


def test_chinese_rule_texts_are_not_the_english_ones() -> None:
    en = json.loads((STATION_DIR / "i18n" / "en.json").read_text(encoding="utf-8"))
    zh = json.loads((STATION_DIR / "i18n" / "zh-CN.json").read_text(encoding="utf-8"))
    same = [k for k in en if k.startswith(("rule.", "said.")) and en[k] == zh[k]]
    assert same == []
