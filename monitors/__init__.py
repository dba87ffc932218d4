"""The IAE rules engine, rule-set loading and validation, and the trial's default rule set.

Imports only `core`. `Engine` is pure and synchronous: messages in, alert transitions out.
"""

from monitors.engine import BedSummary, Engine
from monitors.loader import default_ruleset, load_ruleset, parse_ruleset
from monitors.ruleset import BaselineSpec, Rule, RuleSet

__all__ = [
    "BaselineSpec",
    "BedSummary",
    "Engine",
    "Rule",
    "RuleSet",
    "default_ruleset",
    "load_ruleset",
    "parse_ruleset",
]
