"""Rules that cannot assess, said aloud: at infusion start and whenever it changes (checked
every `CHECK_S`), each bed with an infusion lists the rules whose inputs it lacks — a
parameter never seen at the bed, a baseline that does not exist, a rise the parameter's
range cannot hold (FiO2 + 20 over a baseline above 80 %), a vasopressor whose pre-infusion
dose nobody knows. The list is the evidence of one technical episode per bed
(`rules_cannot_assess`, low priority): opened, updated when the list changes, ended when
every rule can assess again. It never passes silently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.model import Alert, Phase
from core.records import format_time
from monitors.engine.episodes import Episodes
from monitors.engine.infusion import engine_rule
from monitors.engine.state import BedState
from monitors.rules.ruleset import RuleSet

CHECK_S = 60.0
"""How often a bed's inputs are checked again (and at every infusion start)."""

CANNOT_ASSESS = engine_rule(
    "rules_cannot_assess",
    "Rules that cannot assess with the inputs this bed has",
    "iaewatch (issue 13): a rule that cannot assess says so, never passes silently",
)


class Assessor:
    """Keeps each bed's list of rules that cannot assess, as one technical episode."""

    def __init__(self, ruleset: RuleSet, episodes: Episodes) -> None:
        self._rules = [r for r in ruleset.rules if r.kind == "state"]
        self._episodes = episodes
        self._monitoring_s = ruleset.monitoring_window_h * 3600.0
        episodes.register(CANNOT_ASSESS, "every rule has the inputs it needs")

    def listing(self, bed: BedState, ts: float) -> dict[str, list[str]]:
        """Rule id -> what it lacks, for the rules in their window at `bed` now."""
        out: dict[str, list[str]] = {}
        for rule in self._rules:
            if rule.window_h is not None and not bed.in_window(ts, rule.window_h):
                continue
            lacks = rule.when.missing(bed, ts)
            if lacks:
                out[rule.id] = sorted(set(lacks))
        return out

    def check(
        self, bed: BedState, ts: float, dt: datetime, out: list[Alert], *, force: bool = False
    ) -> None:
        """Open, update or end the bed's episode when its list changed (every CHECK_S)."""
        start = bed.infusion_start
        if start is None or ts >= start + self._monitoring_s:
            return
        if not force and ts < bed.assess_due:
            return
        bed.assess_due = ts + CHECK_S
        listing = self.listing(bed, ts)
        bed.cannot_assess = listing
        episodes = self._episodes
        rr = bed.run(CANNOT_ASSESS.id)
        ep = rr.episode
        if ep is not None and ep.evidence.get("cannot_assess") == listing:
            return
        if not listing:
            episodes.end(bed, CANNOT_ASSESS, rr, ts, dt, out, "every rule can assess")
            return
        ev: dict[str, Any] = {
            "condition": "every rule has the inputs it needs",
            "cannot_assess": listing,
            "infusion_start": format_time(bed.infusion_start_dt) if bed.infusion_start_dt else None,
            "notes": ["watch what these rules cover clinically until their inputs are there"],
        }
        phase = Phase.UPDATE
        if ep is None:
            ep = episodes.open(bed, CANNOT_ASSESS, rr, ts, dt, iae=False)
            phase = Phase.START
        ep.evidence = ev
        out.append(episodes.alert(ep, CANNOT_ASSESS, phase, dt, ev))
