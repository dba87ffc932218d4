"""YAML loading that remembers where every mapping key was written.

Config, rule-set, scenario and profile files are validated with errors that name file, line
and field. `load_yaml` returns plain data whose mappings are `MarkedDict`s: ordinary dicts that
also know the line of each key (1-based), so a validator can say `file:12: rate.scale: ...`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError


class MarkedDict(dict[str, Any]):
    """A dict that knows its own line and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}

    def line_of(self, key: str) -> int:
        """The line where `key` was written, or the mapping's own line."""
        return self.key_lines.get(key, self.line)


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> MarkedDict:
    result = MarkedDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool):
            raise ConfigError("mapping keys must be scalars", line=key_node.start_mark.line + 1)
        skey = str(key)
        if skey in result:
            raise ConfigError(
                f"duplicate key {skey!r}", line=key_node.start_mark.line + 1, field=skey
            )
        result[skey] = loader.construct_object(value_node, deep=True)
        result.key_lines[skey] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_text(text: str, *, file: str = "<input>") -> Any:
    """Parse YAML text; syntax errors become ConfigError with file and line."""
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader derives from SafeLoader
    except ConfigError as exc:
        raise ConfigError(exc.message, file=file, line=exc.line, field=exc.field) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"YAML syntax: {exc.problem or exc}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML: {exc}", file=file) from None


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a missing/unreadable file or bad syntax is a ConfigError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(p)) from None
    return load_yaml_text(text, file=str(p))
