"""A validated rule set: rules, baseline statistic, freshness of samples, windows.

Built only by `monitors.loader` from YAML, so a `RuleSet` that exists is valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.model import Category, Priority
from monitors.rules.conditions import Cond, EventMatch, ParamRef

RuleKind = Literal["state", "event", "stale"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineSpec:
    """Median of the usable samples in the `lookback_s` before `infusion_start`.

    Fewer than `min_samples` samples: no baseline (reported, never guessed). `overrides`
    holds (lookback_s, min_samples) per code for sparse parameters (blood gases, entered
    temperatures).
    """

    statistic: str = "median"
    lookback_s: float = 1800.0
    min_samples: int = 5
    overrides: dict[str, tuple[float, int]] = field(default_factory=dict)

    def for_code(self, code: str) -> tuple[float, int]:
        return self.overrides.get(code, (self.lookback_s, self.min_samples))


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedChecks:
    """How real feeds are screened before rules read them (`feeds:` in the YAML).

    On a slow feed (learned cadence ≥ `slow_feed_s`) a sample more than `outlier_jump_pct`
    away from the previous one is held until the next sample confirms it; arterial-line
    flushes and zeroing (systolic ≤ `art_zero_mmhg`, or a pulse pressure below
    `art_flat_mmhg`) are artefacts, not pressures.
    """

    slow_feed_s: float = 30.0
    outlier_jump_pct: float = 20.0
    art_zero_mmhg: float = 10.0
    art_flat_mmhg: float = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One rule: a condition, what to call it, how long it must hold, when it may fire."""

    id: str
    category: Category
    priority: Priority
    title: str
    source: str
    when: Cond
    kind: RuleKind
    window_h: float | None  # hours from infusion start
    window_only: bool  # never fires outside its window (protocol IAEs)
    outside_window: Literal["ignore", "warn"]  # warn: fire outside as an early warning
    persist_s: float = 0.0
    clear_s: float | None = 0.0  # event rules: None = never ends on its own
    key: str | None = None  # event rules: field pairing a trigger with its `ends_on`
    ends_on: EventMatch | None = None
    context: tuple[ParamRef, ...] = ()
    line: int = 0
    warning_only: bool = False  # `iae: false`: an early warning in an IAE category
    iae: bool = field(init=False)  # a protocol IAE (from the category)

    def __post_init__(self) -> None:
        object.__setattr__(self, "iae", self.category.iae and not self.warning_only)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    """The whole rule set as loaded from one file."""

    name: str
    file: str
    rules: tuple[Rule, ...]
    baseline: BaselineSpec
    monitoring_window_h: float = 24.0
    latching: bool = True
    freshness: dict[str, float | None] = field(default_factory=dict)
    params: dict[str, tuple[str, ...]] = field(default_factory=dict)
    feeds: FeedChecks = field(default_factory=FeedChecks)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def summary(self) -> str:
        iae = sum(1 for r in self.rules if r.iae)
        tech = sum(1 for r in self.rules if r.category is Category.TECHNICAL)
        warn = len(self.rules) - iae - tech
        cats = len({r.category for r in self.rules})
        return (
            f"{len(self.rules)} rules in {cats} categories "
            f"({iae} protocol IAE, {warn} early warning, {tech} technical)"
        )
