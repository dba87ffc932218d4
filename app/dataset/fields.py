"""What an exported column is (`Column`) and how its values are written as text.

One list of columns per table feeds the CSV header, the data dictionary, the REDCap data
dictionary and the ODM ItemDefs, so they cannot disagree. Text values: numbers without
trailing zeros (at most 4 decimals), booleans 1/0, times ISO 8601 UTC with `Z`
(`core.records.format_time`), missing values empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from core.records import format_time

Kind = Literal["text", "integer", "float", "datetime", "boolean", "choice"]


@dataclass(frozen=True, slots=True)
class Column:
    """One exported field: name, label, kind, unit, coded choices and a note."""

    name: str
    label: str
    kind: Kind = "text"
    unit: str = ""
    choices: tuple[str, ...] = ()
    note: str = ""


def text(value: Any) -> str:
    """A value as exported text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        out = f"{value:.4f}".rstrip("0").rstrip(".")
        return "0" if out in ("-0", "") else out
    return str(value)


Row = dict[str, Any]
Getter = Callable[[Any], Any]
