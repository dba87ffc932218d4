"""Conditions (`when:`, `ends_on:`) from a rule set's YAML, checked as they are read.

Event names and the event fields a `match:` tests are checked against the vocabulary
(`core.vocabulary.EVENTS`), so `pump_alrm` is an error naming file, line and field, not a
rule that never fires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.check import Checker, describe, join
from core.model import EventSource
from core.params import VASOPRESSOR_CODES, parameter
from core.yamlfile import Marked, MarkedList
from monitors.rules.conditions import (
    AllOf,
    AnyOf,
    AtBaseline,
    BaselineChange,
    Cond,
    EventMatch,
    FieldMatch,
    Infusion,
    NoneOf,
    ParamRef,
    Rate,
    Stale,
    Threshold,
    Vasopressor,
)
from monitors.rules.read_params import Params, count, unit_of

KINDS = (
    "threshold",
    "baseline",
    "rate",
    "event",
    "stale",
    "vasopressor",
    "infusion",
    "all",
    "any",
    "none",
)
_BOUNDS = ("below", "at_most", "above", "at_least")
_DEFAULT_CADENCE_X = 3.0  # stale after 3 of the source's own intervals (if > after_s)
_DEFAULT_SMOOTH_S = 30.0  # rate rules compare 30 s means, so one noisy sample is no trend
# Default 'worse values' step per canonical unit (an update needs at least this much worse).
_STEP_BY_UNIT = {
    "%": 2.0,
    "mm[Hg]": 5.0,
    "Cel": 0.3,
    "/min": 5.0,
    "cm[H2O]": 2.0,
    "mL/h": 20.0,
    "1": 10.0,
}


class CondReader:
    """Reads one condition tree; `params` resolves the parameters it names."""

    def __init__(self, c: Checker, params: Params) -> None:
        self.c = c
        self.params = params

    def cond(self, obj: Any, line: int, path: str) -> Cond:
        """A condition: exactly one kind, with its body."""
        c = self.c
        m = c.mapping(obj, line, path)
        kinds = [k for k in m if k in KINDS]
        if len(kinds) != 1:
            c.fail(
                "needs exactly one of: "
                + ", ".join(KINDS)
                + (f" (found {', '.join(kinds)})" if kinds else ""),
                m.line,
                path,
            )
        kind = kinds[0]
        allowed = {kind, "within_s"} if kind in ("all", "any", "none") else {kind}
        c.keys(m, path, allowed)
        field = join(path, kind)
        line = m.line_of(kind)
        body = m[kind]
        if kind in ("all", "any", "none"):
            return self._composite(m, kind, body, line, path, field)
        if kind == "infusion":
            if body == "running":
                return Infusion()
            sub = c.mapping(body, line, field)
            c.keys(sub, field, {"running_longer_than_min"}, {"running_longer_than_min"})
            return Infusion(
                c.positive(
                    sub["running_longer_than_min"],
                    sub.line_of("running_longer_than_min"),
                    join(field, "running_longer_than_min"),
                )
            )
        sub = c.mapping(body, line, field)
        leaf: Callable[[Marked, str], Cond] = {
            "threshold": self._threshold,
            "baseline": self._baseline,
            "rate": self._rate,
            "event": self.event,
            "stale": self._stale,
            "vasopressor": self._vasopressor,
        }[kind]
        return leaf(sub, field)

    def _composite(self, m: Marked, kind: str, body: Any, line: int, path: str, field: str) -> Cond:
        c = self.c
        seq = c.seq(body, line, field)
        if not seq:
            c.fail("needs at least one condition", line, field)
        kids = tuple(
            self.cond(item, seq.item_lines[i], join(field, i)) for i, item in enumerate(seq)
        )
        within = c.get(m, "within_s", path, c.positive)
        cls = {"all": AllOf, "any": AnyOf, "none": NoneOf}[kind]
        cond: Cond = cls(kids, within)
        if kind == "any" and within is None and all(k.momentary for k in kids):
            cond.momentary = True
        elif (
            any(k.momentary for k in kids) and within is None and not all(k.momentary for k in kids)
        ):
            pass  # reported with the rule's line (read_rule.kind_of)
        elif kind != "any" and within is None and all(k.momentary for k in kids):
            c.fail(
                "events at one instant can only be combined with 'any' (or use within_s)",
                line,
                field,
            )
        return cond

    # -- leaves ------------------------------------------------------------------------------
    def _one_of(self, m: Marked, path: str, options: tuple[str, ...]) -> tuple[str, float]:
        found = [k for k in options if k in m]
        if len(found) != 1:
            self.c.fail("needs exactly one of: " + ", ".join(options), m.line, path)
        k = found[0]
        return k, self.c.number(m[k], m.line_of(k), join(path, k), minimum=None)

    def _step(self, m: Marked, path: str, ref: ParamRef, relative: bool = False) -> float:
        if "step" in m:
            return self.c.positive(m["step"], m.line_of("step"), join(path, "step"))
        if relative:
            return 5.0
        return _STEP_BY_UNIT.get(unit_of(ref.codes[0]), 1.0)

    def _param(self, m: Marked, path: str) -> ParamRef:
        return self.params.ref(m["param"], m.line_of("param"), join(path, "param"))

    def _threshold(self, m: Marked, path: str) -> Cond:
        c = self.c
        c.keys(m, path, {"param", *_BOUNDS, "hysteresis", "step", "at_baseline"}, {"param"})
        ref = self._param(m, path)
        op, limit = self._one_of(m, path, _BOUNDS)
        self._physical(ref, limit, m.line_of(op), join(path, op))
        hyst = c.get(m, "hysteresis", path, c.number, 0.0) or 0.0
        at_baseline = None
        if "at_baseline" in m:
            field = join(path, "at_baseline")
            ab = c.mapping(m["at_baseline"], m.line_of("at_baseline"), field)
            c.keys(ab, field, {"worse_by", "within"}, {"worse_by"})
            worse = c.positive(ab["worse_by"], ab.line_of("worse_by"), join(field, "worse_by"))
            if hyst >= worse:
                c.fail("must be larger than the hysteresis", ab.line_of("worse_by"), field)
            within = c.get(ab, "within", field, c.number, 0.0) or 0.0
            at_baseline = AtBaseline(worse, within)
        return Threshold(ref, op, limit, hyst, self._step(m, path, ref), at_baseline)

    def _physical(self, ref: ParamRef, limit: float, line: int, field: str) -> None:
        """A threshold a patient's value can never cross is a typo that switches a rule off."""
        for code in ref.codes:
            p = parameter(code)
            if p is not None and not p.low <= limit <= p.high:
                self.c.fail(
                    f"{limit:g} is outside what {p.label} can be ({p.low:g} to {p.high:g} "
                    f"{p.unit})",
                    line,
                    field,
                )

    def _change_opts(self, m: Marked, path: str) -> tuple[bool, float, bool]:
        k, amount = self._one_of(m, path, ("rise", "fall", "rise_pct", "fall_pct"))
        if amount <= 0:
            self.c.fail(
                f"must be > 0, got {amount:g} (choose rise or fall for the direction)",
                m.line_of(k),
                join(path, k),
            )
        return k.startswith("rise"), amount, k.endswith("_pct")

    def _baseline(self, m: Marked, path: str) -> Cond:
        c = self.c
        c.keys(
            m,
            path,
            {"param", "rise", "fall", "rise_pct", "fall_pct", "hysteresis", "step"},
            {"param"},
        )
        ref = self._param(m, path)
        rise, amount, relative = self._change_opts(m, path)
        hyst = c.get(m, "hysteresis", path, c.number, 0.0) or 0.0
        if hyst >= amount:
            c.fail(
                "hysteresis must be smaller than the change itself",
                m.line_of("hysteresis"),
                join(path, "hysteresis"),
            )
        return BaselineChange(ref, rise, amount, relative, hyst, self._step(m, path, ref, relative))

    def _rate(self, m: Marked, path: str) -> Cond:
        c = self.c
        c.keys(
            m,
            path,
            {"param", "rise", "fall", "rise_pct", "fall_pct", "within_s", "smooth_s", "step"},
            {"param", "within_s"},
        )
        ref = self._param(m, path)
        rise, amount, relative = self._change_opts(m, path)
        span = c.positive(m["within_s"], m.line_of("within_s"), join(path, "within_s"))
        smooth = c.get(m, "smooth_s", path, c.number, _DEFAULT_SMOOTH_S) or 0.0
        if smooth >= span:
            c.fail("must be shorter than within_s", m.line_of("smooth_s"), join(path, "smooth_s"))
        step = self._step(m, path, ref, relative)
        return Rate(ref, rise, amount, relative, span, step, smooth)

    def event(self, m: Marked, path: str) -> EventMatch:
        """`{name, match, source}`: names and matched fields checked against the vocabulary."""
        c = self.c
        c.keys(m, path, {"name", "match", "source"}, {"name"})
        names_obj = m["name"]
        if isinstance(names_obj, str):
            specs = [c.event(names_obj, m.line_of("name"), join(path, "name"))]
        else:
            seq = c.seq(names_obj, m.line_of("name"), join(path, "name"))
            specs = [
                c.event(x, line, field) for _i, x, line, field in c.items(seq, join(path, "name"))
            ]
        matches: list[FieldMatch] = []
        if "match" in m:
            mpath = join(path, "match")
            mm = c.mapping(m["match"], m.line_of("match"), mpath)
            for fname, want in mm.items():
                line, field = mm.line_of(fname), join(mpath, fname)
                for spec in specs:
                    c.event_field(spec, fname, line, field)
                matches.append(self._field_match(fname, want, line, field))
        source = None
        if "source" in m:
            allowed = [s.value for s in EventSource]
            line, field = m.line_of("source"), join(path, "source")
            source = EventSource(c.choice(m["source"], line, field, allowed))
        return EventMatch(tuple(s.name for s in specs), tuple(matches), source)

    def _field_match(self, fname: str, want: Any, line: int, field: str) -> FieldMatch:
        c = self.c
        if isinstance(want, Marked) and "not" in want:
            c.keys(want, field, {"not"})
            seq = c.seq(want["not"], want.line_of("not"), join(field, "not"))
            if not seq:
                c.fail("needs at least one value", line, field)
            return FieldMatch(fname, values=frozenset(_low(x) for x in seq), negate=True)
        if isinstance(want, Marked):
            op, lim = self._one_of(want, field, _BOUNDS)
            c.keys(want, field, _BOUNDS)
            return FieldMatch(fname, op=op, limit=lim)
        if isinstance(want, MarkedList):
            if not want:
                c.fail("needs at least one value", line, field)
            return FieldMatch(fname, values=frozenset(_low(x) for x in want))
        if isinstance(want, str | int | float | bool):
            return FieldMatch(fname, values=frozenset({_low(want)}))
        c.fail(f"must be a value, a list of values or a bound, got {describe(want)}", line, field)

    def _stale(self, m: Marked, path: str) -> Cond:
        c = self.c
        c.keys(m, path, {"params", "after_s", "cadence_x", "not_after"}, {"params", "after_s"})
        seq = c.seq(m["params"], m.line_of("params"), join(path, "params"))
        if not seq:
            c.fail("needs at least one parameter", seq.line, join(path, "params"))
        refs = tuple(
            self.params.ref(x, line, field)
            for _i, x, line, field in c.items(seq, join(path, "params"))
        )
        after = c.positive(m["after_s"], m.line_of("after_s"), join(path, "after_s"))
        cadence_x = c.get(m, "cadence_x", path, c.positive, _DEFAULT_CADENCE_X)
        not_after: list[str] = []
        if "not_after" in m:
            npath = join(path, "not_after")
            nseq = c.seq(m["not_after"], m.line_of("not_after"), npath)
            not_after = [c.event(x, line, f).name for _i, x, line, f in c.items(nseq, npath)]
        return Stale(refs, after, cadence_x or _DEFAULT_CADENCE_X, tuple(not_after))

    def _vasopressor(self, m: Marked, path: str) -> Cond:
        c = self.c
        c.keys(m, path, {"thresholds", "agents", "third_agent", "step_pct"}, {"thresholds"})
        tpath = join(path, "thresholds")
        tm = c.mapping(m["thresholds"], m.line_of("thresholds"), tpath)
        doses = set(VASOPRESSOR_CODES.values())
        thresholds: dict[str, float] = {}
        for key, val in tm.items():
            line, field = tm.line_of(key), join(tpath, key)
            for code in self.params.code(key, line, field):
                if code not in doses:
                    c.fail(f"{code} is not a vasopressor dose code", line, field)
                thresholds[code] = c.positive(val, line, field)
        agents: tuple[str, ...] = tuple(VASOPRESSOR_CODES.values())
        if "agents" in m:
            line, field = m.line_of("agents"), join(path, "agents")
            agents = self.params.code(m["agents"], line, field)
            for code in agents:
                if code not in doses:
                    c.fail(f"{code} is not a vasopressor dose code", line, field)
        third = None
        if "third_agent" in m and m["third_agent"] is not None:
            third = count(c, m, "third_agent", path, 3)
        step = c.get(m, "step_pct", path, c.positive, 10.0) or 10.0
        return Vasopressor(thresholds, agents, third, step)


def _low(x: Any) -> Any:
    return x.lower() if isinstance(x, str) else x
