"""The IAE rules engine, the rule language and the trial's own checks. Imports only `core`.

Three subpackages, one job each:

- `monitors.engine` — runs rules: `Engine` (pure and synchronous: observations and events in,
  alert transitions out; it never reads a clock), split by job into `plan` (which codes and
  events matter to which rules), `intake` (observations into series), `infusion` (infusion
  start and end, baseline, windows), `episodes` (rules evaluated, alert episodes opened,
  updated, ended, escalated) over the per-bed `state`; `lifecycle` is the alert episodes'
  state table and the one `EpisodeBook` both the engine and the order check keep episodes
  in; `Stepper` drives an engine through time; `build_engine` is the one composition
  (the rules plus the study order check) that the service, replay and the benches run.
- `monitors.rules` — the rule language: `RuleSet`/`Rule` dataclasses, the condition kinds
  (`conditions`), derived parameters, the YAML loader (every error names file, line and
  field; event names and fields are checked against `core.vocabulary`), and the shipped
  rule set (`rules/rulesets/ucmsc_ards.yaml`).
- `monitors.trial` — the trial's pure checks: eligibility checklist, oxygenation and
  mechanics indices, the study order and the pump programme check (`TrialEngine`: the
  engine with the order check folded in).
"""

from monitors.engine import BedSummary, Engine, Stepper, build_engine
from monitors.rules import (
    BaselineSpec,
    Rule,
    RuleSet,
    default_ruleset,
    load_ruleset,
    parse_ruleset,
)
from monitors.trial.order_check import TrialEngine

__all__ = [
    "BaselineSpec",
    "BedSummary",
    "Engine",
    "Rule",
    "RuleSet",
    "Stepper",
    "TrialEngine",
    "build_engine",
    "default_ruleset",
    "load_ruleset",
    "parse_ruleset",
]
