"""Parameter references in a rule set: codes, aliases (`params:`) and freshness."""

from __future__ import annotations

import re
from typing import Any

from core.check import Checker, describe, join
from core.params import PARAMETERS
from core.yamlfile import Marked, MarkedList
from monitors.rules.conditions import ParamRef
from monitors.rules.derived import DERIVED

ID = re.compile(r"^[a-z][a-z0-9_]*$")
"""Rule ids and alias names: lower_case words."""
DEFAULT_FRESH_S = 60.0


def unit_of(code: str) -> str:
    """The canonical unit of a parameter or derived code ("" when unknown)."""
    p = PARAMETERS.get(code) or (DERIVED[code].param if code in DERIVED else None)
    return p.unit if p is not None else ""


class Params:
    """The aliases and freshness a rule set declares, and references resolved with them."""

    def __init__(self, c: Checker) -> None:
        self.c = c
        self.aliases: dict[str, tuple[str, ...]] = {}
        self.agree: dict[str, float] = {}  # alias -> the most its codes may differ
        self.fresh: dict[str, float | None] = {}
        self.fresh_default = DEFAULT_FRESH_S

    def code(self, obj: Any, line: int, field: str) -> tuple[str, ...]:
        """A parameter reference: a code, an alias, or a list of codes."""
        if isinstance(obj, str):
            if obj in self.aliases:
                return self.aliases[obj]
            if obj in PARAMETERS or obj in DERIVED:
                return (obj,)
            self.c.fail(
                f"unknown parameter {obj!r} (not a code or an alias in 'params')", line, field
            )
        if isinstance(obj, MarkedList) and obj:
            codes: list[str] = []
            for i, item in enumerate(obj):
                codes += self.code(item, obj.item_lines[i], join(field, i))
            return tuple(dict.fromkeys(codes))
        self.c.fail(
            f"must be a parameter code, an alias or a list of codes, got {describe(obj)}",
            line,
            field,
        )

    def ref(self, obj: Any, line: int, field: str) -> ParamRef:
        """A reference as conditions read it, with each code's freshness."""
        codes = self.code(obj, line, field)
        fresh = tuple(
            float("inf")
            if self.fresh.get(c, self.fresh_default) is None
            else float(self.fresh.get(c, self.fresh_default) or self.fresh_default)
            for c in codes
        )
        name = obj if isinstance(obj, str) else "/".join(codes)
        return ParamRef(name=name, codes=codes, fresh=fresh, agree_within=self.agree.get(name))

    def read_aliases(self, m: Marked) -> None:
        """`params:` — alias name: code or list of codes, or `{codes, agree_within}` (a
        group whose fresh codes further apart than `agree_within` cannot tell)."""
        c = self.c
        for name, codes in m.items():
            line, field = m.line_of(name), join("params", name)
            if not ID.match(name):
                c.fail("alias names are lower_case words", line, field)
            if name in PARAMETERS:
                c.fail("an alias cannot shadow a parameter code", line, field)
            if isinstance(codes, Marked):
                c.keys(codes, field, {"codes", "agree_within"}, {"codes"})
                agree = c.get(codes, "agree_within", field, c.positive)
                if agree is not None:
                    self.agree[name] = agree
                line, field, codes = codes.line_of("codes"), join(field, "codes"), codes["codes"]
            self.aliases[name] = self.code(codes, line, field)

    def read_freshness(self, m: Marked) -> None:
        """`freshness_s:` — default, and per code or alias (null: never stale)."""
        for key, val in m.items():
            line, field = m.line_of(key), join("freshness_s", key)
            if key == "default":
                self.fresh_default = self.c.positive(val, line, field)
                continue
            secs = None if val is None else self.c.positive(val, line, field)
            for code in self.code(key, line, field):
                self.fresh[code] = secs


def count(c: Checker, m: Marked, key: str, path: str, default: int) -> int:
    """`m[key]`, a whole number ≥ 1, or `default` when absent."""
    if key not in m:
        return default
    return c.integer(m[key], m.line_of(key), join(path, key), minimum=1)
