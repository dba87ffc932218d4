"""YAML that remembers where things were written, so validation errors can name the line.

Config, rule-set, scenario and profile files are validated with errors that name file, line
and field. Mappings load as `Marked` (a dict with the line of the mapping and of each key)
and sequences as `MarkedList` (a list with the line of each item); lines are 1-based.
Scalar keys are kept as text (`{0: stopped}` has the key "0"). Duplicate keys, which PyYAML
would silently overwrite, are refused. Errors are `ConfigError` naming the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError


class Marked(dict[str, Any]):
    """A YAML mapping with line numbers: `line` for itself, `key_lines[k]` per key."""

    line: int = 0
    key_lines: dict[str, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}

    def line_of(self, key: str) -> int:
        """The line where `key` was written, or the mapping's own line."""
        return self.key_lines.get(key, self.line)


class MarkedList(list[Any]):
    """A YAML sequence with line numbers: `line` for itself, `item_lines[i]` per item."""

    line: int = 0
    item_lines: list[int]


MAX_DEPTH = 64
"""Deeper nesting is refused (no hand-written file nests this deep; Python's recursion would
end in a traceback)."""


class _Loader(yaml.SafeLoader):
    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", line=mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Marked:
    loader.flatten_mapping(node)  # resolve `<<` merge keys first
    out = Marked()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str | int | float | bool) or key is None:
            raise ConfigError(f"keys must be text, got {key!r}", line=line)
        key = str(key)
        if key in out:
            raise ConfigError(
                f"duplicate key (first at line {out.key_lines[key]})", line=line, field=key
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> MarkedList:
    out = MarkedList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_marked(text: str, *, file: str = "<input>") -> Any:
    """Parse YAML `text`; mappings and sequences carry their line numbers."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except ConfigError as exc:
        raise ConfigError(exc.message, file=file, line=exc.line, field=exc.field) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"not valid YAML: {exc.problem or exc}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=file) from None


def read_marked(path: str | Path) -> Any:
    """Read and parse a YAML file with line marks; unreadable files are a ConfigError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(p)) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=str(p)) from None
    return load_marked(text, file=str(p))
