"""Which parameter codes and events matter to which rules: worked out once per rule set.

The engine reads only the codes some rule, context, baseline or derived parameter needs
(`watched`); an observation of any other code is dropped at the door. A code arriving
re-evaluates only the state rules it can change (`by_trigger`), an event only the rules that
name it (`event_rules`, and `by_trigger["@name"]` for state rules with an event inside a
time span).
"""

from __future__ import annotations

from core.params import PARAMETERS, VASOPRESSOR_CODES, Parameter
from monitors.rules.conditions import walk
from monitors.rules.derived import DERIVED, Derived
from monitors.rules.ruleset import Rule, RuleSet

ART_LINE = ("MDC_PRESS_BLD_ART_SYS", "MDC_PRESS_BLD_ART_DIA", "MDC_PRESS_BLD_ART_MEAN")
"""The arterial line's systolic, diastolic and mean, screened together for artefacts."""


class Plan:
    """The rule set's needs, indexed for the engine's hot paths. Read-only once built."""

    def __init__(self, rs: RuleSet) -> None:
        by_trigger: dict[str, list[Rule]] = {}
        event_rules: dict[str, list[Rule]] = {}
        self.stale_rules: tuple[Rule, ...] = tuple(r for r in rs.rules if r.kind == "stale")
        self.timed_rules: tuple[Rule, ...] = tuple(
            r for r in rs.rules if r.kind == "state" and r.when.timed
        )
        watched: set[str] = set()
        extremes: dict[str, set[tuple[float, bool, float]]] = {}
        # baseline groups: codes -> (parameter name, ids of the rules comparing with it)
        baseline_groups: dict[tuple[str, ...], tuple[str, list[str]]] = {}
        for r in rs.rules:
            for ref in r.context:
                watched.update(ref.codes)
            for c in walk(r.when):
                for ref in c.refs():
                    watched.update(ref.codes)
                for ref in c.baseline_refs():
                    _name, ids = baseline_groups.setdefault(ref.codes, (ref.name, []))
                    if r.id not in ids:
                        ids.append(r.id)
                for code, span, is_max, smooth in c.extremes():
                    extremes.setdefault(code, set()).add((span, is_max, smooth))
            if r.kind == "event":
                for trig in r.when.triggers():
                    event_rules.setdefault(trig[1:], []).append(r)
                if r.ends_on is not None:
                    for trig in r.ends_on.triggers():
                        event_rules.setdefault(trig[1:], []).append(r)
            elif r.kind == "state":
                for trig in r.when.triggers():
                    by_trigger.setdefault(trig, []).append(r)
                    if not trig.startswith("@"):
                        watched.add(trig)
        self.baseline_groups = baseline_groups
        self.baseline_codes = frozenset(c for g in baseline_groups for c in g)
        watched |= self.baseline_codes
        # derived parameters in use, and what they need
        self.derived_by_trigger: dict[str, list[Derived]] = {}
        todo = sorted(c for c in watched if c in DERIVED)
        done: set[str] = set()
        while todo:  # a derived input may itself be derived
            d = DERIVED[todo.pop(0)]
            if d.code in done:
                continue
            done.add(d.code)
            watched.update(d.inputs)
            todo += [c for c in d.inputs if c in DERIVED]
            for trig in d.triggers:
                self.derived_by_trigger.setdefault(trig, []).append(d)
        if watched & set(ART_LINE):
            watched.update(ART_LINE)  # the three together tell a flush or zeroing
        watched.update(VASOPRESSOR_CODES.values())  # doses feed the agent count
        watched.add("MDC_VOL_FLUID_DELIV")  # volume delivered, checked at infusion_end
        self.watched = frozenset(watched)
        self.by_trigger = {k: tuple(dict.fromkeys(v)) for k, v in by_trigger.items()}
        self.shadow = _shadow(rs)
        self.event_rules = {k: tuple(dict.fromkeys(v)) for k, v in event_rules.items()}
        self.extremes = {k: tuple(sorted(v)) for k, v in extremes.items()}
        self.params: dict[str, Parameter] = {
            c: PARAMETERS[c] if c in PARAMETERS else DERIVED[c].param for c in watched
        }
        self.units = {c: p.unit for c, p in self.params.items()}
        self.keep = {c: rs.baseline.for_code(c)[0] for c in self.baseline_codes}
        self.fresh: dict[str, float] = {}
        default = rs.freshness.get("default") or 60.0
        for code in watched:
            f = rs.freshness.get(code, default)
            self.fresh[code] = float("inf") if f is None else f
        self.agents = tuple(VASOPRESSOR_CODES.values())
        self.feeds = rs.feeds
        hours = {r.window_h for r in rs.rules if r.window_h is not None}
        self.window_hours = tuple(sorted(hours | {rs.monitoring_window_h}))


def _shadow(rs: RuleSet) -> dict[str, tuple[str, ...]]:
    """Codes only ever a fallback (pulse behind ECG, cuff behind arterial line), with the codes
    preferred to them: such a code cannot change a rule's answer while a preferred one is
    fresh, so its arrival need not re-evaluate anything."""
    first: set[str] = set()
    behind: dict[str, set[str]] = {}
    for r in rs.rules:
        for c in walk(r.when):
            for ref in c.refs():
                first.add(ref.codes[0])
                for i, code in enumerate(ref.codes[1:], start=1):
                    behind.setdefault(code, set()).update(ref.codes[:i])
    return {code: tuple(sorted(prefs)) for code, prefs in behind.items() if code not in first}
