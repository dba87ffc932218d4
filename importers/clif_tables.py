"""Reading CLIF parquet tables (Common Longitudinal ICU data Format, clif-icu.com, v2.1):
`clif_<table>.parquet` in one folder. Each table is checked for the columns we use and their
types; a row is a dict with its 1-based row number, grouped by hospitalization. Times are
UTC (CLIF's rule; a naive time is read as UTC)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from importers.common import SourceError, as_utc

Kind = Literal["id", "time", "number", "text", "bool"]

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Table:
    """One CLIF table as read: its file and its rows by hospitalization (row number, row)."""

    path: Path
    rows: dict[str, list[tuple[int, Row]]]

    def of(self, hospitalization_id: str) -> list[tuple[int, Row]]:
        """The rows of one hospitalization (none: an empty list)."""
        return self.rows.get(hospitalization_id, [])


def _type_ok(kind: Kind, t: pa.DataType) -> bool:
    if pa.types.is_null(t):
        return True  # an all-null column: every value is missing
    if kind == "id":
        return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t))
    if kind == "time":
        return bool(pa.types.is_timestamp(t))
    if kind == "number":
        return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))
    if kind == "bool":
        return bool(pa.types.is_boolean(t))
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t))


def read_table(
    folder: Path, name: str, columns: dict[str, Kind], *, key: str = "hospitalization_id"
) -> Table:
    """`clif_<name>.parquet` with `columns` checked, rows grouped by `key` (an id column)."""
    path = folder / f"clif_{name}.parquet"
    file = str(path)
    if not path.is_file():
        raise SourceError(f"missing: the CLIF table clif_{name}.parquet is needed", file=file)
    try:
        schema = pq.read_schema(path)
        table = pq.read_table(path, columns=[c for c in columns if c in schema.names])
    except (OSError, pa.ArrowException) as exc:
        raise SourceError(f"not a readable parquet file ({exc})", file=file) from None
    for col, kind in columns.items():
        if col not in schema.names:
            raise SourceError("missing column", file=file, field=col)
        t = schema.field(col).type
        if not _type_ok(kind, t):
            raise SourceError(f"column type {t} is not a {kind}", file=file, field=col)
    rows: dict[str, list[tuple[int, Row]]] = defaultdict(list)
    for n, row in enumerate(table.to_pylist(), start=1):
        k = row.get(key)
        if k is None:
            raise SourceError("missing value", file=file, line=n, field=key)
        rows[str(k)].append((n, row))
    return Table(path, dict(rows))


def row_time(table: Table, n: int, row: Row, col: str) -> datetime:
    """The row's time in `col` (UTC); SourceError naming file, row and column when missing."""
    t = row.get(col)
    if not isinstance(t, datetime):
        raise SourceError("missing time", file=str(table.path), line=n, field=col)
    return as_utc(t)


def number(row: Row, col: str) -> float | None:
    """A numeric cell, None when missing (CLIF writes a missing value as null or NaN)."""
    v = row.get(col)
    if v is None or isinstance(v, bool):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def text(row: Row, col: str) -> str:
    """A text cell, lower case and stripped ('' when missing)."""
    v = row.get(col)
    return str(v).strip().lower() if v is not None else ""
