"""The one checker for the YAML files users write: ICU configs, pump profiles, rule sets and
scenarios.

A `Checker` walks the line-keeping tree of `core.yamlfile` and raises `ConfigError` naming
the file, the line and the dotted field (`rules[3].when.event.name`). Every loader builds its
objects with these helpers, so a mistake reads the same whatever file it is in. Numbers are
finite (a NaN or an infinity is never a threshold), booleans are not numbers, text is not
empty, and an unknown key names the keys allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn, TypeVar

from core.errors import ConfigError
from core.vocabulary import EventField, EventSpec, event_field, event_spec, suggest
from core.yamlfile import Marked, MarkedList

T = TypeVar("T")


def describe(obj: Any) -> str:
    """What a YAML value is, for an error message ("text 'abc'", "a number (3)")."""
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


def join(path: str, key: str | int) -> str:
    """The dotted field path of `key` under `path` (`a.b`, `a[2]`)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Checker:
    """Validation of one file: helpers that check a value and raise with file, line, field."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, msg: str, line: int | None, field: str | None = None) -> NoReturn:
        raise ConfigError(msg, file=self.file, line=line, field=field)

    # -- containers ----------------------------------------------------------------------
    def mapping(self, obj: Any, line: int, field: str) -> Marked:
        if not isinstance(obj, Marked):
            self.fail(f"must be a mapping, got {describe(obj)}", line, field)
        return obj

    def seq(self, obj: Any, line: int, field: str) -> MarkedList:
        if not isinstance(obj, MarkedList):
            self.fail(f"must be a list, got {describe(obj)}", line, field)
        return obj

    def items(self, seq: MarkedList, path: str) -> Iterator[tuple[int, Any, int, str]]:
        """(index, item, line, field) for each item of a checked list."""
        for i, item in enumerate(seq):
            line = seq.item_lines[i] if i < len(seq.item_lines) else seq.line
            yield i, item, line, join(path, i)

    def keys(
        self, m: Marked, path: str, allowed: Iterable[str], required: Iterable[str] = ()
    ) -> None:
        """Refuse keys outside `allowed` (naming them, with a near miss) and missing ones."""
        allowed = set(allowed)
        for k in m:
            if k not in allowed:
                hint = ", ".join(sorted(allowed))
                self.fail(
                    f"unknown key{suggest(k, allowed)} (allowed: {hint})",
                    m.line_of(k),
                    join(path, k),
                )
        for k in sorted(required):
            if k not in m:
                self.fail("is required", m.line, join(path, k))

    def get(
        self,
        m: Marked,
        key: str,
        path: str,
        conv: Callable[[Any, int, str], T],
        default: T | None = None,
    ) -> T | None:
        """`conv(m[key])` with the key's line and field, or `default` when absent."""
        if key not in m:
            return default
        return conv(m[key], m.line_of(key), join(path, key))

    # -- scalars -------------------------------------------------------------------------
    def number(
        self,
        obj: Any,
        line: int,
        field: str,
        *,
        minimum: float | None = 0.0,
        maximum: float | None = None,
    ) -> float:
        """A finite number (not a boolean), within [minimum, maximum] when given."""
        if isinstance(obj, bool) or not isinstance(obj, int | float):
            self.fail(f"must be a number, got {describe(obj)}", line, field)
        if isinstance(obj, int) and abs(obj) > 1e15:
            self.fail("must be a number of at most 15 digits", line, field)
        if not math.isfinite(obj):
            self.fail(f"must be a finite number, got {obj}", line, field)
        if minimum is not None and obj < minimum:
            self.fail(f"must be ≥ {minimum:g}, got {obj}", line, field)
        if maximum is not None and obj > maximum:
            self.fail(f"must be ≤ {maximum:g}, got {obj}", line, field)
        return float(obj)

    def positive(self, obj: Any, line: int, field: str) -> float:
        v = self.number(obj, line, field)
        if v <= 0:
            self.fail(f"must be > 0, got {obj}", line, field)
        return v

    def integer(
        self,
        obj: Any,
        line: int,
        field: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        if isinstance(obj, bool) or not isinstance(obj, int):
            self.fail(f"must be a whole number, got {describe(obj)}", line, field)
        if minimum is not None and obj < minimum:
            self.fail(f"must be ≥ {minimum}, got {obj}", line, field)
        if maximum is not None and obj > maximum:
            self.fail(f"must be ≤ {maximum}, got {obj}", line, field)
        return obj

    def text(self, obj: Any, line: int, field: str) -> str:
        if not isinstance(obj, str) or not obj.strip():
            self.fail(f"must be non-empty text, got {describe(obj)}", line, field)
        return obj.strip()

    def boolean(self, obj: Any, line: int, field: str) -> bool:
        if not isinstance(obj, bool):
            self.fail(f"must be true or false, got {describe(obj)}", line, field)
        return obj

    def choice(self, obj: Any, line: int, field: str, choices: Iterable[str]) -> str:
        """One of `choices` (text), with a near miss suggested."""
        options = list(choices)
        if not isinstance(obj, str) or obj not in options:
            near = suggest(obj, options) if isinstance(obj, str) else ""
            self.fail(
                f"must be one of {', '.join(options)}, got {describe(obj)}{near}", line, field
            )
        return obj

    # -- vocabulary ----------------------------------------------------------------------
    def event(self, obj: Any, line: int, field: str) -> EventSpec:
        """A known event name (core.vocabulary), or an error naming the near miss."""
        name = self.text(obj, line, field)
        return event_spec(name, file=self.file, line=line, field=field)

    def event_field(self, spec: EventSpec, name: str, line: int, field: str) -> EventField:
        """A field that event `spec` declares."""
        return event_field(spec, name, file=self.file, line=line, field=field)
