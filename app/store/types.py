"""Column types that behave the same on SQLite and PostgreSQL.

`UTCDateTime` stores aware datetimes and always gives back aware UTC ones: PostgreSQL keeps
`timestamptz`; SQLite keeps text in UTC (so text order is time order) and loses the zone, which
is put back on the way out. `JSONDoc` is JSONB on PostgreSQL and JSON text elsewhere.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that refuses naive values and returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not UTC:  # the common case (UTC already) skips two calls
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"naive datetime given to the store: {value!r}")
            value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite's DATETIME writes the wall-clock fields and drops the zone: give it UTC.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONDoc = JSON().with_variant(JSONB(), "postgresql")
"""A JSON document column: evidence, event fields, audit details."""


def json_default(value: Any) -> Any:
    """Make values JSON can't carry (times, enums, dataclasses, sets) into ones it can."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_dumps(value: Any) -> str:
    """The engines' JSON serialiser. JSON has no NaN or infinity: those become null, so one odd
    number in an alert's evidence can never stop the alert from being stored."""
    try:
        return json.dumps(value, default=json_default, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_finite(value), default=json_default, separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_finite(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return _finite(asdict(value))
    return value
