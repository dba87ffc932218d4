"""The one composition of the engine: the trial's rules plus the study order check.

`build_engine` is what `serve`, the gateway's station, `replay`, `demo`, the report's sample
scenario and the benches all run, so a replay shows every alert the station would raise.
"""

from __future__ import annotations

from pathlib import Path

from monitors.rules.loader import default_ruleset, load_ruleset
from monitors.rules.ruleset import RuleSet
from monitors.trial.order_check import OrderCheck, TrialEngine


def build_engine(
    rules: RuleSet | str | Path | None = None,
    *,
    escalate_after_s: float | None = None,
    order_check: OrderCheck | None = None,
) -> TrialEngine:
    """The trial's engine for `rules` (a RuleSet, a rule-set file, or None: the shipped set)."""
    if rules is None:
        ruleset = default_ruleset()
    elif isinstance(rules, RuleSet):
        ruleset = rules
    else:
        ruleset = load_ruleset(rules)
    return TrialEngine(ruleset, escalate_after_s=escalate_after_s, order_check=order_check)
