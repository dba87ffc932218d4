"""The IAE rules engine, rule-set loading and validation, and the trial's default rule set.

Imports only `core`. `Engine` is pure and synchronous: messages in, alert transitions out.
"""

from monitors.engine import BedSummary, Engine
from monitors.factory import build_engine
from monitors.loader import default_ruleset, load_ruleset, parse_ruleset
from monitors.ruleset import BaselineSpec, Rule, RuleSet
from monitors.stepper import Stepper

__all__ = [
    "BaselineSpec",
    "BedSummary",
    "Engine",
    "Rule",
    "RuleSet",
    "Stepper",
    "build_engine",
    "default_ruleset",
    "load_ruleset",
    "parse_ruleset",
]
