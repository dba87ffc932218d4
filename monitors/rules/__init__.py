"""The rule language: rule sets and rules, condition kinds, derived parameters, the YAML
loader and the shipped rule set (`rulesets/ucmsc_ards.yaml`, docs/rules.md)."""

from monitors.rules.loader import default_ruleset, load_ruleset, parse_ruleset
from monitors.rules.ruleset import BaselineSpec, Rule, RuleSet

__all__ = ["BaselineSpec", "Rule", "RuleSet", "default_ruleset", "load_ruleset", "parse_ruleset"]
