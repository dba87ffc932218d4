"""Rule sets from YAML, validated; every error names the file, the line and the field.

The format (docs/rules.md has the full reference; monitors/rules/rulesets/ucmsc_ards.yaml is
the shipped example):

    name: ucmsc_ards
    version: 1
    monitoring_window_h: 24
    latching: true
    baseline: {statistic: median, lookback_min: 30, min_samples: 5, overrides: {...}}
    freshness_s: {default: 60, MDC_PRESS_BLD_NONINV_SYS: 1800, IAEW_DOSE_NOREPINEPHRINE: null}
    params: {sbp: [MDC_PRESS_BLD_ART_SYS, MDC_PRESS_BLD_NONINV_SYS], ...}
    rules:
      - id: hypoxemia_spo2
        category: hypoxemia
        priority: medium
        title: SpO2 below 88 %
        source: Rheineck-Leyssius & Kalkman, Br J Anaesth 1997
        when: {threshold: {param: spo2, below: 88, hysteresis: 2}}
        persist_s: 15
        clear_s: 30

The reading is split by level: `read_params` (aliases, freshness, parameter references),
`read_rule` (one rule) and `read_conditions` (its condition tree); the checks are
`core.check.Checker`'s, so a mistake reads the same as in any other file of ours.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from core.check import Checker, describe, join
from core.yamlfile import Marked, load_marked, read_marked
from monitors.rules.read_conditions import CondReader
from monitors.rules.read_params import Params, count
from monitors.rules.read_rule import read_rule
from monitors.rules.ruleset import BaselineSpec, FeedChecks, Rule, RuleSet

_TOP_KEYS = {
    "name",
    "version",
    "description",
    "monitoring_window_h",
    "latching",
    "baseline",
    "freshness_s",
    "params",
    "feeds",
    "rules",
}
DEFAULT_RULESET = "ucmsc_ards.yaml"


def parse_ruleset(text: str, *, file: str = "<input>") -> RuleSet:
    """A RuleSet from YAML text; raises ConfigError naming file, line and field."""
    return _from_doc(load_marked(text, file=file), file)


def load_ruleset(path: str | Path) -> RuleSet:
    """Load and validate a rule set file; raises ConfigError naming file, line and field."""
    return _from_doc(read_marked(path), str(path))


def _from_doc(doc: object, file: str) -> RuleSet:
    c = Checker(file)
    if not isinstance(doc, Marked):
        c.fail(f"a rule set is a mapping at the top, got {describe(doc)}", 1, None)
    return _read(c, doc)


def default_ruleset() -> RuleSet:
    """The trial's shipped rule set (package data monitors/rules/rulesets/ucmsc_ards.yaml)."""
    ref = resources.files("monitors.rules.rulesets").joinpath(DEFAULT_RULESET)
    return parse_ruleset(
        ref.read_text(encoding="utf-8"), file=f"monitors/rules/rulesets/{DEFAULT_RULESET}"
    )


def _read(c: Checker, doc: Marked) -> RuleSet:
    c.keys(doc, "", _TOP_KEYS, {"name", "version", "rules"})
    name = c.text(doc["name"], doc.line_of("name"), "name")
    version = doc["version"]
    if version != 1:
        c.fail(f"only version 1 is known, got {version!r}", doc.line_of("version"), "version")
    if "description" in doc:
        c.text(doc["description"], doc.line_of("description"), "description")
    window = c.get(doc, "monitoring_window_h", "", c.positive, 24.0) or 24.0
    latching = c.get(doc, "latching", "", c.boolean, True)
    params = Params(c)
    if "params" in doc:
        params.read_aliases(c.mapping(doc["params"], doc.line_of("params"), "params"))
    if "freshness_s" in doc:
        fm = c.mapping(doc["freshness_s"], doc.line_of("freshness_s"), "freshness_s")
        params.read_freshness(fm)
    baseline = BaselineSpec()
    if "baseline" in doc:
        bm = c.mapping(doc["baseline"], doc.line_of("baseline"), "baseline")
        baseline = _baseline(c, params, bm)
    feeds = FeedChecks()
    if "feeds" in doc:
        feeds = _feeds(c, c.mapping(doc["feeds"], doc.line_of("feeds"), "feeds"))
    rules_node = c.seq(doc["rules"], doc.line_of("rules"), "rules")
    if not rules_node:
        c.fail("a rule set needs at least one rule", rules_node.line, "rules")
    conds = CondReader(c, params)
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, item, line, path in c.items(rules_node, "rules"):
        rule = read_rule(c, conds, c.mapping(item, line, path), path, window)
        if rule.id in seen:
            c.fail(
                f"duplicate rule id {rule.id!r} (first at line {seen[rule.id]})",
                item.line_of("id"),
                f"rules[{i}].id",
            )
        seen[rule.id] = item.line_of("id")
        rules.append(rule)
    return RuleSet(
        name=name,
        file=c.file,
        rules=tuple(rules),
        baseline=baseline,
        monitoring_window_h=window,
        latching=bool(latching),
        freshness={**params.fresh, "default": params.fresh_default},
        params=dict(params.aliases),
        feeds=feeds,
    )


def _feeds(c: Checker, m: Marked) -> FeedChecks:
    names = ("slow_feed_s", "outlier_jump_pct", "art_zero_mmhg", "art_flat_mmhg")
    c.keys(m, "feeds", set(names))
    d = FeedChecks()
    got = {k: c.get(m, k, "feeds", c.positive, getattr(d, k)) for k in names}
    return FeedChecks(**{k: float(v) for k, v in got.items() if v is not None})


def _baseline(c: Checker, params: Params, m: Marked) -> BaselineSpec:
    c.keys(m, "baseline", {"statistic", "lookback_min", "min_samples", "overrides"})
    stat = c.get(m, "statistic", "baseline", c.text, "median")
    if stat != "median":
        c.fail(
            f"only 'median' is supported, got {stat!r}",
            m.line_of("statistic"),
            "baseline.statistic",
        )
    lookback = (c.get(m, "lookback_min", "baseline", c.positive, 30.0) or 30.0) * 60.0
    min_samples = count(c, m, "min_samples", "baseline", 5)
    overrides: dict[str, tuple[float, int]] = {}
    if "overrides" in m:
        om = c.mapping(m["overrides"], m.line_of("overrides"), "baseline.overrides")
        for key, val in om.items():
            line, field = om.line_of(key), join("baseline.overrides", key)
            codes = params.code(key, line, field)
            sub = c.mapping(val, line, field)
            c.keys(sub, field, {"lookback_min", "min_samples"})
            lb = (c.get(sub, "lookback_min", field, c.positive, lookback / 60.0) or 30.0) * 60.0
            ms = count(c, sub, "min_samples", field, min_samples)
            for code in codes:
                overrides[code] = (lb, ms)
    return BaselineSpec(
        statistic="median", lookback_s=lookback, min_samples=min_samples, overrides=overrides
    )
