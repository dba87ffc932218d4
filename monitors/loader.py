"""Rule sets from YAML, validated; every error names the file, the line and the field.

The format (docs/rules.md has the full reference; monitors/rulesets/ucmsc_ards.yaml is the
shipped example):

    name: ucmsc_ards
    version: 1
    monitoring_window_h: 24
    latching: true
    baseline: {statistic: median, lookback_min: 30, min_samples: 5, overrides: {...}}
    freshness_s: {default: 60, MDC_PRESS_BLD_NONINV_SYS: 1800, IAEW_DOSE_NOREPINEPHRINE: null}
    params: {sbp: [MDC_PRESS_BLD_ART_SYS, MDC_PRESS_BLD_NONINV_SYS], ...}
    rules:
      - id: hypoxemia_spo2
        category: hypoxemia
        priority: medium
        title: SpO2 below 88 %
        source: Rheineck-Leyssius & Kalkman, Br J Anaesth 1997
        when: {threshold: {param: spo2, below: 88, hysteresis: 2}}
        persist_s: 15
        clear_s: 30
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar

from core.errors import ConfigError
from core.model import Category, EventSource, Priority
from core.params import PARAMETERS, VASOPRESSOR_CODES
from core.yamlfile import Marked, MarkedList, load_marked
from monitors.conditions import (
    AllOf,
    AnyOf,
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
    walk,
)
from monitors.derived import DERIVED
from monitors.ruleset import BaselineSpec, Rule, RuleKind, RuleSet

T = TypeVar("T")

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_DEFAULT_FRESH_S = 60.0
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


def _unit_of(code: str) -> str:
    p = PARAMETERS.get(code) or (DERIVED[code].param if code in DERIVED else None)
    return p.unit if p is not None else ""


class _V:
    """Validation context: the file name, and helpers that raise ConfigError with line+field."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, msg: str, line: int | None, field: str | None) -> NoReturn:
        raise ConfigError(msg, file=self.file, line=line, field=field)

    def mapping(self, obj: Any, line: int, field: str) -> Marked:
        if not isinstance(obj, Marked):
            self.fail(f"must be a mapping, got {_kind(obj)}", line, field)
        return obj

    def seq(self, obj: Any, line: int, field: str) -> MarkedList:
        if not isinstance(obj, MarkedList):
            self.fail(f"must be a list, got {_kind(obj)}", line, field)
        return obj

    def keys(
        self, m: Marked, path: str, allowed: set[str], required: set[str] | None = None
    ) -> None:
        for k in m:
            if k not in allowed:
                hint = ", ".join(sorted(allowed))
                self.fail(f"unknown key (allowed: {hint})", m.line_of(k), _join(path, k))
        for k in sorted(required or ()):
            if k not in m:
                self.fail("is required", m.line, _join(path, k))

    def get(
        self,
        m: Marked,
        key: str,
        path: str,
        conv: Callable[[Any, int, str], T],
        default: T | None = None,
    ) -> T | None:
        if key not in m:
            return default
        return conv(m[key], m.line_of(key), _join(path, key))

    def number(self, obj: Any, line: int, field: str, *, minimum: float | None = 0.0) -> float:
        if isinstance(obj, bool) or not isinstance(obj, int | float):
            self.fail(f"must be a number, got {_kind(obj)}", line, field)
        if minimum is not None and obj < minimum:
            self.fail(f"must be ≥ {minimum:g}, got {obj}", line, field)
        return float(obj)

    def positive(self, obj: Any, line: int, field: str) -> float:
        v = self.number(obj, line, field)
        if v <= 0:
            self.fail(f"must be > 0, got {obj}", line, field)
        return v

    def text(self, obj: Any, line: int, field: str) -> str:
        if not isinstance(obj, str) or not obj.strip():
            self.fail(f"must be non-empty text, got {_kind(obj)}", line, field)
        return obj.strip()

    def boolean(self, obj: Any, line: int, field: str) -> bool:
        if not isinstance(obj, bool):
            self.fail(f"must be true or false, got {_kind(obj)}", line, field)
        return obj


def _kind(obj: Any) -> str:
    if obj is None:
        return "nothing"
    if isinstance(obj, bool):
        return f"a boolean ({obj})"
    if isinstance(obj, str):
        return f"text {obj!r}"
    if isinstance(obj, int | float):
        return f"a number ({obj})"
    if isinstance(obj, list):
        return "a list"
    if isinstance(obj, dict):
        return "a mapping"
    return type(obj).__name__


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Builder:
    """Turns the checked YAML tree into a RuleSet."""

    def __init__(self, v: _V, doc: Marked) -> None:
        self.v = v
        self.doc = doc
        self.aliases: dict[str, tuple[str, ...]] = {}
        self.fresh: dict[str, float | None] = {}
        self.fresh_default = _DEFAULT_FRESH_S

    # -- top level ---------------------------------------------------------------------------
    def build(self) -> RuleSet:
        v, doc = self.v, self.doc
        v.keys(
            doc,
            "",
            {
                "name",
                "version",
                "description",
                "monitoring_window_h",
                "latching",
                "baseline",
                "freshness_s",
                "params",
                "rules",
            },
            {"name", "version", "rules"},
        )
        name = v.text(doc["name"], doc.line_of("name"), "name")
        version = doc["version"]
        if version != 1:
            v.fail(f"only version 1 is known, got {version!r}", doc.line_of("version"), "version")
        if "description" in doc:
            v.text(doc["description"], doc.line_of("description"), "description")
        window = v.get(doc, "monitoring_window_h", "", v.positive, 24.0) or 24.0
        latching = v.get(doc, "latching", "", v.boolean, True)
        if "params" in doc:
            self._params(v.mapping(doc["params"], doc.line_of("params"), "params"))
        if "freshness_s" in doc:
            self._freshness(
                v.mapping(doc["freshness_s"], doc.line_of("freshness_s"), "freshness_s")
            )
        baseline = BaselineSpec()
        if "baseline" in doc:
            baseline = self._baseline(
                v.mapping(doc["baseline"], doc.line_of("baseline"), "baseline")
            )
        rules_node = v.seq(doc["rules"], doc.line_of("rules"), "rules")
        if not rules_node:
            v.fail("a rule set needs at least one rule", rules_node.line, "rules")
        rules: list[Rule] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(rules_node):
            line = rules_node.item_lines[i]
            rule = self._rule(v.mapping(item, line, f"rules[{i}]"), f"rules[{i}]", window)
            if rule.id in seen:
                v.fail(
                    f"duplicate rule id {rule.id!r} (first at line {seen[rule.id]})",
                    item.line_of("id"),
                    f"rules[{i}].id",
                )
            seen[rule.id] = item.line_of("id")
            rules.append(rule)
        return RuleSet(
            name=name,
            file=v.file,
            rules=tuple(rules),
            baseline=baseline,
            monitoring_window_h=window,
            latching=bool(latching),
            freshness={**self.fresh, "default": self.fresh_default},
            params=dict(self.aliases),
        )

    def _code(self, obj: Any, line: int, field: str) -> tuple[str, ...]:
        """A parameter reference: a code, an alias, or a list of codes."""
        if isinstance(obj, str):
            if obj in self.aliases:
                return self.aliases[obj]
            if obj in PARAMETERS or obj in DERIVED:
                return (obj,)
            self.v.fail(
                f"unknown parameter {obj!r} (not a code or an alias in 'params')", line, field
            )
        if isinstance(obj, MarkedList) and obj:
            codes: list[str] = []
            for i, item in enumerate(obj):
                codes += self._code(item, obj.item_lines[i], _join(field, i))
            return tuple(dict.fromkeys(codes))
        self.v.fail(
            f"must be a parameter code, an alias or a list of codes, got {_kind(obj)}", line, field
        )

    def _params(self, m: Marked) -> None:
        for name, codes in m.items():
            line, field = m.line_of(name), _join("params", name)
            if not _ID.match(name):
                self.v.fail("alias names are lower_case words", line, field)
            if name in PARAMETERS:
                self.v.fail("an alias cannot shadow a parameter code", line, field)
            self.aliases[name] = self._code(codes, line, field)

    def _freshness(self, m: Marked) -> None:
        for key, val in m.items():
            line, field = m.line_of(key), _join("freshness_s", key)
            if key == "default":
                self.fresh_default = self.v.positive(val, line, field)
                continue
            secs = None if val is None else self.v.positive(val, line, field)
            for code in self._code(key, line, field):
                self.fresh[code] = secs

    def _baseline(self, m: Marked) -> BaselineSpec:
        v = self.v
        v.keys(m, "baseline", {"statistic", "lookback_min", "min_samples", "overrides"})
        stat = v.get(m, "statistic", "baseline", v.text, "median")
        if stat != "median":
            v.fail(
                f"only 'median' is supported, got {stat!r}",
                m.line_of("statistic"),
                "baseline.statistic",
            )
        lookback = (v.get(m, "lookback_min", "baseline", v.positive, 30.0) or 30.0) * 60.0
        min_samples = self._count(m, "min_samples", "baseline", 5)
        overrides: dict[str, tuple[float, int]] = {}
        if "overrides" in m:
            om = v.mapping(m["overrides"], m.line_of("overrides"), "baseline.overrides")
            for key, val in om.items():
                line, field = om.line_of(key), _join("baseline.overrides", key)
                codes = self._code(key, line, field)
                sub = v.mapping(val, line, field)
                v.keys(sub, field, {"lookback_min", "min_samples"})
                lb = (v.get(sub, "lookback_min", field, v.positive, lookback / 60.0) or 30.0) * 60.0
                ms = self._count(sub, "min_samples", field, min_samples)
                for code in codes:
                    overrides[code] = (lb, ms)
        return BaselineSpec(
            statistic="median", lookback_s=lookback, min_samples=min_samples, overrides=overrides
        )

    def _count(self, m: Marked, key: str, path: str, default: int) -> int:
        if key not in m:
            return default
        val = m[key]
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            self.v.fail(
                f"must be a whole number ≥ 1, got {_kind(val)}", m.line_of(key), _join(path, key)
            )
        return val

    def _ref(self, obj: Any, line: int, field: str) -> ParamRef:
        codes = self._code(obj, line, field)
        fresh = tuple(
            float("inf")
            if self.fresh.get(c, self.fresh_default) is None
            else float(self.fresh.get(c, self.fresh_default) or self.fresh_default)
            for c in codes
        )
        name = obj if isinstance(obj, str) else "/".join(codes)
        return ParamRef(name=name, codes=codes, fresh=fresh)

    # -- rules -------------------------------------------------------------------------------
    def _rule(self, m: Marked, path: str, monitoring_h: float) -> Rule:
        v = self.v
        v.keys(
            m,
            path,
            {
                "id",
                "category",
                "priority",
                "title",
                "source",
                "when",
                "window_h",
                "window_only",
                "outside_window",
                "persist_s",
                "clear_s",
                "key",
                "ends_on",
                "context",
            },
            {"id", "category", "priority", "title", "source", "when"},
        )
        rid = v.text(m["id"], m.line_of("id"), _join(path, "id"))
        if not _ID.match(rid):
            v.fail(
                "rule ids are lower_case words (a-z, 0-9, _)", m.line_of("id"), _join(path, "id")
            )
        category = self._enum(Category, m, "category", path)
        priority = self._enum(Priority, m, "priority", path)
        title = v.text(m["title"], m.line_of("title"), _join(path, "title"))
        source = v.text(m["source"], m.line_of("source"), _join(path, "source"))
        when = self._cond(m["when"], m.line_of("when"), _join(path, "when"), top=True)
        kind = self._kind_of(when, m.line_of("when"), _join(path, "when"))

        window_h: float | None = None
        if "window_h" in m and m["window_h"] is not None:
            window_h = v.positive(m["window_h"], m.line_of("window_h"), _join(path, "window_h"))
            if window_h > monitoring_h:
                v.fail(
                    f"exceeds monitoring_window_h ({monitoring_h:g})",
                    m.line_of("window_h"),
                    _join(path, "window_h"),
                )
        if category.iae and window_h is None:
            v.fail(
                f"{category.value} is a protocol IAE: it needs the hours after infusion start "
                "during which it counts",
                m.line_of("window_h") if "window_h" in m else m.line,
                _join(path, "window_h"),
            )
        window_only = v.get(m, "window_only", path, v.boolean, category.iae)
        if category.iae and window_only is False:
            v.fail(
                "protocol IAEs never fire outside their window (use outside_window: warn "
                "to raise an early warning instead)",
                m.line_of("window_only"),
                _join(path, "window_only"),
            )
        if window_only and window_h is None:
            v.fail("window_only needs window_h", m.line_of("window_only"), _join(path, "window_h"))
        outside: Literal["ignore", "warn"] = "ignore"
        if "outside_window" in m:
            outside = m["outside_window"]
            if outside not in ("ignore", "warn"):
                v.fail(
                    "must be 'ignore' or 'warn'",
                    m.line_of("outside_window"),
                    _join(path, "outside_window"),
                )
            if outside == "warn" and not window_only:
                v.fail(
                    "only a window_only rule can warn outside its window",
                    m.line_of("outside_window"),
                    _join(path, "outside_window"),
                )

        persist = v.get(m, "persist_s", path, v.number, 0.0) or 0.0
        clear_default: float | None = 300.0 if kind == "event" else 0.0
        clear: float | None = clear_default
        if "clear_s" in m:
            if m["clear_s"] is None:
                if kind != "event":
                    v.fail(
                        "only event rules may never clear (null)",
                        m.line_of("clear_s"),
                        _join(path, "clear_s"),
                    )
                clear = None
            else:
                clear = v.number(m["clear_s"], m.line_of("clear_s"), _join(path, "clear_s"))
        if kind != "state" and "persist_s" in m and persist:
            v.fail(
                f"persistence does not apply to {kind} rules"
                + (
                    " (after_s is the persistence)"
                    if kind == "stale"
                    else " (they fire on the event)"
                ),
                m.line_of("persist_s"),
                _join(path, "persist_s"),
            )
        key = None
        ends_on = None
        for k in ("key", "ends_on"):
            if k in m and kind != "event":
                v.fail(
                    "only event rules pair a trigger with an ending event",
                    m.line_of(k),
                    _join(path, k),
                )
        if "key" in m:
            key = v.text(m["key"], m.line_of("key"), _join(path, "key"))
        if "ends_on" in m:
            field = _join(path, "ends_on")
            node = self._event(v.mapping(m["ends_on"], m.line_of("ends_on"), field), field)
            assert isinstance(node, EventMatch)
            ends_on = node
        context: tuple[ParamRef, ...] = ()
        if "context" in m:
            seq = v.seq(m["context"], m.line_of("context"), _join(path, "context"))
            context = tuple(
                self._ref(item, seq.item_lines[i], _join(_join(path, "context"), i))
                for i, item in enumerate(seq)
            )
        return Rule(
            id=rid,
            category=category,
            priority=priority,
            title=title,
            source=source,
            when=when,
            kind=kind,
            window_h=window_h,
            window_only=bool(window_only),
            outside_window=outside,
            persist_s=persist,
            clear_s=clear,
            key=key,
            ends_on=ends_on,
            context=context,
            line=m.line,
        )

    def _enum(self, enum: Any, m: Marked, key: str, path: str) -> Any:
        val = m[key]
        try:
            return enum(val)
        except ValueError:
            allowed = ", ".join(e.value for e in enum)
            self.v.fail(
                f"unknown {key} {val!r} (allowed: {allowed})", m.line_of(key), _join(path, key)
            )

    def _kind_of(self, when: Cond, line: int, field: str) -> RuleKind:
        if isinstance(when, Stale):
            return "stale"
        if when.momentary:
            return "event"

        # an event outside a time-spanning composite would be true for an instant only
        def bare_events(c: Cond) -> bool:
            if isinstance(c, EventMatch):
                return True
            if isinstance(c, AllOf | AnyOf | NoneOf) and c.within is not None:
                return False
            return any(bare_events(k) for k in c.children())

        if bare_events(when):
            self.v.fail(
                "an event combined with values needs a composite with within_s "
                "(an event is true only at its instant)",
                line,
                field,
            )
        for c in walk(when):
            if isinstance(c, Stale):
                self.v.fail("stale must be the whole condition of its rule", line, field)
        return "state"

    # -- conditions --------------------------------------------------------------------------
    _KINDS = (
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

    def _cond(self, obj: Any, line: int, path: str, *, top: bool = False) -> Cond:
        v = self.v
        m = v.mapping(obj, line, path)
        kinds = [k for k in m if k in self._KINDS]
        if len(kinds) != 1:
            v.fail(
                "needs exactly one of: "
                + ", ".join(self._KINDS)
                + (f" (found {', '.join(kinds)})" if kinds else ""),
                m.line,
                path,
            )
        kind = kinds[0]
        allowed = {kind, "within_s"} if kind in ("all", "any", "none") else {kind}
        v.keys(m, path, allowed)
        field = _join(path, kind)
        line = m.line_of(kind)
        body = m[kind]
        if kind in ("all", "any", "none"):
            seq = v.seq(body, line, field)
            if not seq:
                v.fail("needs at least one condition", line, field)
            kids = tuple(
                self._cond(item, seq.item_lines[i], _join(field, i)) for i, item in enumerate(seq)
            )
            within = v.get(m, "within_s", path, v.positive)
            cls = {"all": AllOf, "any": AnyOf, "none": NoneOf}[kind]
            cond: Cond = cls(kids, within)
            if kind == "any" and within is None and all(k.momentary for k in kids):
                cond.momentary = True
            elif (
                any(k.momentary for k in kids)
                and within is None
                and not all(k.momentary for k in kids)
            ):
                pass  # reported by _kind_of with the rule's line
            elif kind != "any" and within is None and all(k.momentary for k in kids):
                v.fail(
                    "events at one instant can only be combined with 'any' (or use within_s)",
                    line,
                    field,
                )
            return cond
        if kind == "infusion":
            if body == "running":
                return Infusion()
            sub = v.mapping(body, line, field)
            v.keys(sub, field, {"running_longer_than_min"}, {"running_longer_than_min"})
            return Infusion(
                v.positive(
                    sub["running_longer_than_min"],
                    sub.line_of("running_longer_than_min"),
                    _join(field, "running_longer_than_min"),
                )
            )
        sub = v.mapping(body, line, field)
        leaf: Callable[[Marked, str], Cond] = {
            "threshold": self._threshold,
            "baseline": self._baseline_leaf,
            "rate": self._rate,
            "event": self._event,
            "stale": self._stale,
            "vasopressor": self._vasopressor,
        }[kind]
        return leaf(sub, field)

    def _one_of(self, m: Marked, path: str, options: tuple[str, ...]) -> tuple[str, float]:
        found = [k for k in options if k in m]
        if len(found) != 1:
            self.v.fail("needs exactly one of: " + ", ".join(options), m.line, path)
        k = found[0]
        return k, self.v.number(m[k], m.line_of(k), _join(path, k), minimum=None)

    def _step(self, m: Marked, path: str, ref: ParamRef, relative: bool = False) -> float:
        if "step" in m:
            return self.v.positive(m["step"], m.line_of("step"), _join(path, "step"))
        if relative:
            return 5.0
        return _STEP_BY_UNIT.get(_unit_of(ref.codes[0]), 1.0)

    def _threshold(self, m: Marked, path: str) -> Cond:
        v = self.v
        v.keys(
            m,
            path,
            {"param", "below", "at_most", "above", "at_least", "hysteresis", "step"},
            {"param"},
        )
        ref = self._ref(m["param"], m.line_of("param"), _join(path, "param"))
        op, limit = self._one_of(m, path, ("below", "at_most", "above", "at_least"))
        hyst = v.get(m, "hysteresis", path, v.number, 0.0) or 0.0
        return Threshold(ref, op, limit, hyst, self._step(m, path, ref))

    def _change_opts(self, m: Marked, path: str) -> tuple[bool, float, bool]:
        k, amount = self._one_of(m, path, ("rise", "fall", "rise_pct", "fall_pct"))
        if amount <= 0:
            self.v.fail(
                f"must be > 0, got {amount:g} (choose rise or fall for the direction)",
                m.line_of(k),
                _join(path, k),
            )
        return k.startswith("rise"), amount, k.endswith("_pct")

    def _baseline_leaf(self, m: Marked, path: str) -> Cond:
        v = self.v
        v.keys(
            m,
            path,
            {"param", "rise", "fall", "rise_pct", "fall_pct", "hysteresis", "step"},
            {"param"},
        )
        ref = self._ref(m["param"], m.line_of("param"), _join(path, "param"))
        rise, amount, relative = self._change_opts(m, path)
        hyst = v.get(m, "hysteresis", path, v.number, 0.0) or 0.0
        if hyst >= amount:
            v.fail(
                "hysteresis must be smaller than the change itself",
                m.line_of("hysteresis"),
                _join(path, "hysteresis"),
            )
        return BaselineChange(ref, rise, amount, relative, hyst, self._step(m, path, ref, relative))

    def _rate(self, m: Marked, path: str) -> Cond:
        v = self.v
        v.keys(
            m,
            path,
            {"param", "rise", "fall", "rise_pct", "fall_pct", "within_s", "smooth_s", "step"},
            {"param", "within_s"},
        )
        ref = self._ref(m["param"], m.line_of("param"), _join(path, "param"))
        rise, amount, relative = self._change_opts(m, path)
        span = v.positive(m["within_s"], m.line_of("within_s"), _join(path, "within_s"))
        smooth = v.get(m, "smooth_s", path, v.number, _DEFAULT_SMOOTH_S) or 0.0
        if smooth >= span:
            v.fail("must be shorter than within_s", m.line_of("smooth_s"), _join(path, "smooth_s"))
        step = self._step(m, path, ref, relative)
        return Rate(ref, rise, amount, relative, span, step, smooth)

    def _event(self, m: Marked, path: str) -> Cond:
        v = self.v
        v.keys(m, path, {"name", "match", "source"}, {"name"})
        names_obj = m["name"]
        if isinstance(names_obj, str):
            names: tuple[str, ...] = (v.text(names_obj, m.line_of("name"), _join(path, "name")),)
        else:
            seq = v.seq(names_obj, m.line_of("name"), _join(path, "name"))
            names = tuple(
                v.text(x, seq.item_lines[i], _join(_join(path, "name"), i))
                for i, x in enumerate(seq)
            )
        matches: list[FieldMatch] = []
        if "match" in m:
            mm = v.mapping(m["match"], m.line_of("match"), _join(path, "match"))
            for fname, want in mm.items():
                line, field = mm.line_of(fname), _join(_join(path, "match"), fname)
                if isinstance(want, Marked):
                    op, lim = self._one_of(want, field, ("below", "at_most", "above", "at_least"))
                    v.keys(want, field, {"below", "at_most", "above", "at_least"})
                    matches.append(FieldMatch(fname, op=op, limit=lim))
                elif isinstance(want, MarkedList):
                    if not want:
                        v.fail("needs at least one value", line, field)
                    matches.append(FieldMatch(fname, values=frozenset(_low(x) for x in want)))
                elif isinstance(want, str | int | float | bool):
                    matches.append(FieldMatch(fname, values=frozenset({_low(want)})))
                else:
                    v.fail(
                        f"must be a value, a list of values or a bound, got {_kind(want)}",
                        line,
                        field,
                    )
        source = None
        if "source" in m:
            try:
                source = EventSource(m["source"])
            except ValueError:
                allowed = ", ".join(s.value for s in EventSource)
                v.fail(
                    f"unknown source {m['source']!r} (allowed: {allowed})",
                    m.line_of("source"),
                    _join(path, "source"),
                )
        return EventMatch(names, tuple(matches), source)

    def _stale(self, m: Marked, path: str) -> Cond:
        v = self.v
        v.keys(m, path, {"params", "after_s"}, {"params", "after_s"})
        seq = v.seq(m["params"], m.line_of("params"), _join(path, "params"))
        if not seq:
            v.fail("needs at least one parameter", seq.line, _join(path, "params"))
        refs = tuple(
            self._ref(x, seq.item_lines[i], _join(_join(path, "params"), i))
            for i, x in enumerate(seq)
        )
        after = v.positive(m["after_s"], m.line_of("after_s"), _join(path, "after_s"))
        return Stale(refs, after)

    def _vasopressor(self, m: Marked, path: str) -> Cond:
        v = self.v
        v.keys(m, path, {"thresholds", "agents", "third_agent", "step_pct"}, {"thresholds"})
        tm = v.mapping(m["thresholds"], m.line_of("thresholds"), _join(path, "thresholds"))
        doses = set(VASOPRESSOR_CODES.values())
        thresholds: dict[str, float] = {}
        for key, val in tm.items():
            line, field = tm.line_of(key), _join(_join(path, "thresholds"), key)
            codes = self._code(key, line, field)
            for code in codes:
                if code not in doses:
                    v.fail(f"{code} is not a vasopressor dose code", line, field)
                thresholds[code] = v.positive(val, line, field)
        agents: tuple[str, ...] = tuple(VASOPRESSOR_CODES.values())
        if "agents" in m:
            agents = self._code(m["agents"], m.line_of("agents"), _join(path, "agents"))
            for code in agents:
                if code not in doses:
                    v.fail(
                        f"{code} is not a vasopressor dose code",
                        m.line_of("agents"),
                        _join(path, "agents"),
                    )
        third = None
        if "third_agent" in m and m["third_agent"] is not None:
            third = self._count(m, "third_agent", path, 3)
        step = v.get(m, "step_pct", path, v.positive, 10.0) or 10.0
        return Vasopressor(thresholds, agents, third, step)


def _low(x: Any) -> Any:
    return x.lower() if isinstance(x, str) else x


def parse_ruleset(text: str, *, file: str = "<input>") -> RuleSet:
    """A RuleSet from YAML text; raises ConfigError naming file, line and field."""
    doc = load_marked(text, file=file)
    v = _V(file)
    if not isinstance(doc, Marked):
        v.fail(f"a rule set is a mapping at the top, got {_kind(doc)}", 1, None)
    return _Builder(v, doc).build()


def load_ruleset(path: str | Path) -> RuleSet:
    """Load and validate a rule set file; raises ConfigError naming file, line and field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(p)) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=str(p)) from None
    return parse_ruleset(text, file=str(p))


DEFAULT_RULESET = "ucmsc_ards.yaml"


def default_ruleset() -> RuleSet:
    """The trial's shipped rule set (package data monitors/rulesets/ucmsc_ards.yaml)."""
    ref = resources.files("monitors.rulesets").joinpath(DEFAULT_RULESET)
    return parse_ruleset(
        ref.read_text(encoding="utf-8"), file=f"monitors/rulesets/{DEFAULT_RULESET}"
    )
