"""The condition kinds a rule is built from. Pure: they read a `BedState` and the time.

Kinds: `Threshold` (absolute), `BaselineChange` (absolute or relative change from the bed's
pre-infusion baseline), `Rate` (change within a sliding span) — in `values`; `EventMatch` (a
device or clinician event), `Infusion` (the study infusion's state), `Vasopressor` (the
trial's vasopressor escalation), `Stale` (a parameter stopped arriving) — in `bedside`; and
the composites `AllOf`, `AnyOf`, `NoneOf` (optionally "each true at some time within a
span") — in `composites`. `base` holds what they share. Persistence and clearing belong to
the rule (monitors/engine/episodes.py), not to conditions.
"""

from monitors.rules.conditions.base import Cond, Evidence, ParamRef, walk
from monitors.rules.conditions.bedside import EventMatch, FieldMatch, Infusion, Stale, Vasopressor
from monitors.rules.conditions.composites import AllOf, AnyOf, NoneOf
from monitors.rules.conditions.values import AtBaseline, BaselineChange, Rate, Threshold

__all__ = [
    "AllOf",
    "AnyOf",
    "AtBaseline",
    "BaselineChange",
    "Cond",
    "EventMatch",
    "Evidence",
    "FieldMatch",
    "Infusion",
    "NoneOf",
    "ParamRef",
    "Rate",
    "Stale",
    "Threshold",
    "Vasopressor",
    "walk",
]
