"""One rule from a rule set's YAML: what to call it, when it may fire, how long it holds."""

from __future__ import annotations

from typing import Any, Literal

from core.check import Checker, join
from core.model import Category, Priority
from core.vocabulary import EVENTS
from core.yamlfile import Marked
from monitors.rules.conditions import AllOf, AnyOf, Cond, EventMatch, NoneOf, ParamRef, Stale, walk
from monitors.rules.read_conditions import CondReader
from monitors.rules.read_params import ID
from monitors.rules.ruleset import Rule, RuleKind

_KEYS = {
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
    "iae",
}
_REQUIRED = {"id", "category", "priority", "title", "source", "when"}


def read_rule(c: Checker, conds: CondReader, m: Marked, path: str, monitoring_h: float) -> Rule:
    """The rule at `path`; `monitoring_h` bounds its window."""
    c.keys(m, path, _KEYS, _REQUIRED)
    rid = c.text(m["id"], m.line_of("id"), join(path, "id"))
    if not ID.match(rid):
        c.fail("rule ids are lower_case words (a-z, 0-9, _)", m.line_of("id"), join(path, "id"))
    category = _enum(c, Category, m, "category", path)
    priority = _enum(c, Priority, m, "priority", path)
    title = c.text(m["title"], m.line_of("title"), join(path, "title"))
    source = c.text(m["source"], m.line_of("source"), join(path, "source"))
    when = conds.cond(m["when"], m.line_of("when"), join(path, "when"))
    kind = _kind_of(c, when, m.line_of("when"), join(path, "when"))
    window_h, window_only, outside = _window(c, m, path, category, monitoring_h)
    warning_only = False
    if "iae" in m:
        line, field = m.line_of("iae"), join(path, "iae")
        if c.boolean(m["iae"], line, field) or not category.iae:
            c.fail(
                "iae: false only downgrades a rule of a protocol-IAE category to an early "
                "warning (the category says what is an IAE)",
                line,
                field,
            )
        warning_only = True
    persist, clear = _timing(c, m, path, kind)
    key, ends_on = _pairing(c, conds, m, path, kind, when)
    context: tuple[ParamRef, ...] = ()
    if "context" in m:
        cpath = join(path, "context")
        seq = c.seq(m["context"], m.line_of("context"), cpath)
        context = tuple(
            conds.params.ref(item, line, field) for _i, item, line, field in c.items(seq, cpath)
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
        window_only=window_only,
        outside_window=outside,
        persist_s=persist,
        clear_s=clear,
        key=key,
        ends_on=ends_on,
        context=context,
        line=m.line,
        warning_only=warning_only,
    )


def _window(
    c: Checker, m: Marked, path: str, category: Category, monitoring_h: float
) -> tuple[float | None, bool, Literal["ignore", "warn"]]:
    """window_h, window_only, outside_window: when after infusion start the rule counts."""
    window_h: float | None = None
    if "window_h" in m and m["window_h"] is not None:
        window_h = c.positive(m["window_h"], m.line_of("window_h"), join(path, "window_h"))
        if window_h > monitoring_h:
            c.fail(
                f"exceeds monitoring_window_h ({monitoring_h:g})",
                m.line_of("window_h"),
                join(path, "window_h"),
            )
    if category.iae and window_h is None:
        c.fail(
            f"{category.value} is a protocol IAE: it needs the hours after infusion start "
            "during which it counts",
            m.line_of("window_h") if "window_h" in m else m.line,
            join(path, "window_h"),
        )
    window_only = c.get(m, "window_only", path, c.boolean, category.iae)
    if category.iae and window_only is False:
        c.fail(
            "protocol IAEs never fire outside their window (use outside_window: warn "
            "to raise an early warning instead)",
            m.line_of("window_only"),
            join(path, "window_only"),
        )
    if window_only and window_h is None:
        c.fail("window_only needs window_h", m.line_of("window_only"), join(path, "window_h"))
    outside: Literal["ignore", "warn"] = "ignore"
    if "outside_window" in m:
        line, field = m.line_of("outside_window"), join(path, "outside_window")
        if c.choice(m["outside_window"], line, field, ("ignore", "warn")) == "warn":
            outside = "warn"
        if outside == "warn" and not window_only:
            c.fail("only a window_only rule can warn outside its window", line, field)
    return window_h, bool(window_only), outside


def _timing(c: Checker, m: Marked, path: str, kind: RuleKind) -> tuple[float, float | None]:
    """persist_s and clear_s (None: an event rule that never ends on its own)."""
    persist = c.get(m, "persist_s", path, c.number, 0.0) or 0.0
    clear: float | None = 300.0 if kind == "event" else 0.0
    if "clear_s" in m:
        if m["clear_s"] is None:
            if kind != "event":
                c.fail(
                    "only event rules may never clear (null)",
                    m.line_of("clear_s"),
                    join(path, "clear_s"),
                )
            clear = None
        else:
            clear = c.number(m["clear_s"], m.line_of("clear_s"), join(path, "clear_s"))
    if kind != "state" and "persist_s" in m and persist:
        c.fail(
            f"persistence does not apply to {kind} rules"
            + (" (after_s is the persistence)" if kind == "stale" else " (they fire on the event)"),
            m.line_of("persist_s"),
            join(path, "persist_s"),
        )
    return persist, clear


def _pairing(
    c: Checker, conds: CondReader, m: Marked, path: str, kind: RuleKind, when: Cond
) -> tuple[str | None, EventMatch | None]:
    """key and ends_on: an event rule's episode ends at the ending event with the same key.

    The key is a field every trigger and ending event declares, or `device` (the event's
    device field, else its sender)."""
    for k in ("key", "ends_on"):
        if k in m and kind != "event":
            c.fail(
                "only event rules pair a trigger with an ending event", m.line_of(k), join(path, k)
            )
    ends_on = None
    if "ends_on" in m:
        field = join(path, "ends_on")
        ends_on = conds.event(c.mapping(m["ends_on"], m.line_of("ends_on"), field), field)
    key = None
    if "key" in m:
        line, field = m.line_of("key"), join(path, "key")
        key = c.text(m["key"], line, field)
        if key != "device":
            leaves = [x for x in walk(when) if isinstance(x, EventMatch)]
            if ends_on is not None:
                leaves.append(ends_on)
            for name in sorted({n for leaf in leaves for n in leaf.names}):
                c.event_field(EVENTS[name], key, line, field)
    return key, ends_on


def _enum(c: Checker, enum: Any, m: Marked, key: str, path: str) -> Any:
    val = m[key]
    try:
        return enum(val)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        c.fail(f"unknown {key} {val!r} (allowed: {allowed})", m.line_of(key), join(path, key))


def _kind_of(c: Checker, when: Cond, line: int, field: str) -> RuleKind:
    """state, event or stale: how the engine runs the rule."""
    if isinstance(when, Stale):
        return "stale"
    if when.momentary:
        return "event"

    # an event outside a time-spanning composite would be true for an instant only
    def bare_events(x: Cond) -> bool:
        if isinstance(x, EventMatch):
            return True
        if isinstance(x, AllOf | AnyOf | NoneOf) and x.within is not None:
            return False
        return any(bare_events(k) for k in x.children())

    if bare_events(when):
        c.fail(
            "an event combined with values needs a composite with within_s "
            "(an event is true only at its instant)",
            line,
            field,
        )
    for x in walk(when):
        if isinstance(x, Stale):
            c.fail("stale must be the whole condition of its rule", line, field)
    return "state"
