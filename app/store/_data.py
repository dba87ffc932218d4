"""Observations and events: append-only, written in batches, read as latest values, trends
(downsampled in SQL) and event lists."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, cast, func, literal, select, text
from sqlalchemy.engine import Dialect, RowMapping
from sqlalchemy.sql.elements import ColumnElement

from app.store.base import StoreBase
from app.store.schema import events as _events
from app.store.schema import observations as _observations
from core.model import DeviceEvent, EventSource, Observation, ValueStatus

# The id of the newest row of each code of one bed, found with a loose index scan over
# (bed, code, t): a recursive walk from one code to the next instead of reading every row
# of a bed that has a day of 1 Hz data.
_LATEST_IDS = text(
    """
    WITH RECURSIVE codes(code) AS (
        SELECT min(code) FROM observations WHERE bed = :bed
        UNION ALL
        SELECT (SELECT min(o.code) FROM observations o WHERE o.bed = :bed AND o.code > codes.code)
        FROM codes WHERE codes.code IS NOT NULL
    )
    SELECT (SELECT o.id FROM observations o
            WHERE o.bed = :bed AND o.code = codes.code
            ORDER BY o.t DESC, o.id DESC LIMIT 1) AS id
    FROM codes WHERE codes.code IS NOT NULL
    """
)


class DataQueries(StoreBase):
    async def add_observations(self, batch: Sequence[Observation]) -> None:
        """Append observations in one multi-row insert, in one transaction."""
        await self.add_messages(batch, ())

    async def add_events(self, batch: Sequence[DeviceEvent]) -> None:
        """Append events in one multi-row insert, in one transaction."""
        await self.add_messages((), batch)

    async def add_messages(
        self, observations: Sequence[Observation], events: Sequence[DeviceEvent]
    ) -> None:
        """Append observations and events together, in one transaction."""
        if not observations and not events:
            return
        # rows are built before the transaction starts, so the write lock is held for the
        # database's work only
        fast = self._observation_insert() if observations else None
        fast_rows = fast.rows(observations) if fast else []
        core_rows = [] if fast else [_obs_row(o) for o in observations]
        event_rows = [_event_row(e) for e in events]
        async with self._write() as conn:
            if fast is not None:
                await conn.exec_driver_sql(fast.sql, fast_rows)
            elif core_rows:
                await conn.execute(_observations.insert(), core_rows)
            if event_rows:
                await conn.execute(_events.insert(), event_rows)

    async def latest_values(self, bed: str) -> dict[str, Observation]:
        """The newest observation of each code at `bed` (whatever its status)."""
        async with self._read() as conn:
            ids = [i for i in (await conn.scalars(_LATEST_IDS, {"bed": bed})) if i is not None]
            if not ids:
                return {}
            rows = (
                await conn.execute(select(_observations).where(_observations.c.id.in_(ids)))
            ).mappings()
            return {row["code"]: row_observation(row) for row in rows}

    async def observations(
        self,
        bed: str,
        codes: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100_000,
    ) -> list[Observation]:
        """Raw observations, oldest first (for reports and exports)."""
        c = _observations.c
        stmt = select(_observations).where(c.bed == bed).order_by(c.t, c.id).limit(limit)
        if codes is not None:
            stmt = stmt.where(c.code.in_(list(codes)))
        if since is not None:
            stmt = stmt.where(c.t >= since)
        if until is not None:
            stmt = stmt.where(c.t <= until)
        async with self._read() as conn:
            return [row_observation(r) for r in (await conn.execute(stmt)).mappings()]

    async def trends(
        self,
        bed: str,
        codes: Sequence[str],
        since: datetime,
        until: datetime,
        points: int = 300,
    ) -> dict[str, list[tuple[datetime, float]]]:
        """Usable values of `codes` in [since, until], averaged in SQL into at most `points`
        equal time buckets per code. Each point is placed at the middle of the samples it
        averages (a bucket of one sample keeps that sample's time)."""
        if until <= since:
            raise ValueError("trends: `until` must be after `since`")
        if points < 1:
            raise ValueError("trends: `points` must be at least 1")
        out: dict[str, list[tuple[datetime, float]]] = {code: [] for code in codes}
        if not codes:
            return out
        width = (until - since).total_seconds() / points
        c = _observations.c
        offset = (self._epoch(c.t) - literal(since.timestamp())) / literal(width)
        raw_bucket = cast(offset, Integer) if self._sqlite else func.floor(offset)
        # a sample exactly at `until` belongs to the last bucket, not a bucket of its own
        bucket = case((raw_bucket >= points, points - 1), else_=raw_bucket).label("bucket")
        stmt = (
            select(
                c.code,
                bucket,
                func.avg(c.value).label("mean"),
                func.min(c.t).label("first"),
                func.max(c.t).label("last"),
            )
            .where(
                c.bed == bed,
                c.code.in_(list(codes)),
                c.t >= since,
                c.t <= until,
                c.value.is_not(None),
                c.status == ValueStatus.VALID.value,
            )
            .group_by(c.code, bucket)
            .order_by(c.code, bucket)
        )
        async with self._read() as conn:
            for row in (await conn.execute(stmt)).mappings():
                first: datetime = row["first"]
                last: datetime = row["last"]
                out[row["code"]].append((first + (last - first) / 2, float(row["mean"])))
        return out

    async def events(
        self,
        bed: str,
        since: datetime | None = None,
        until: datetime | None = None,
        names: Sequence[str] | None = None,
    ) -> list[DeviceEvent]:
        """Events of `bed` in [since, until], oldest first."""
        c = _events.c
        stmt = select(_events).where(c.bed == bed).order_by(c.t, c.id)
        if since is not None:
            stmt = stmt.where(c.t >= since)
        if until is not None:
            stmt = stmt.where(c.t <= until)
        if names is not None:
            stmt = stmt.where(c.name.in_(list(names)))
        async with self._read() as conn:
            return [_event(r) for r in (await conn.execute(stmt)).mappings()]

    def _observation_insert(self) -> _ObservationInsert | None:
        if not hasattr(self, "_obs_insert"):
            self._obs_insert = _ObservationInsert.build(self._engine.dialect)
        return self._obs_insert

    def _epoch(self, column: Any) -> ColumnElement[Any]:
        """Seconds since 1970 of a timestamp column, in SQL."""
        if self._sqlite:
            # stored as UTC text; julianday() reads it (2440587.5 is the julian day of 1970).
            # SQLite keeps milliseconds exactly but julianday() is a double: round back to
            # whole milliseconds so a sample on a bucket boundary lands in the right bucket.
            return func.round((func.julianday(column) - 2440587.5) * 86400.0, 3)
        return func.extract("epoch", column)


class _ObservationInsert:
    """The observation insert, compiled once, fed tuples made with the columns' own bind
    processors: the same values SQLAlchemy would send, without building and re-reading a
    dict per row (the hot path: a 500-bed unit writes ~7,500 rows a second)."""

    COLUMNS = ("t", "bed", "code", "value", "unit", "device", "status")

    def __init__(
        self, sql: str, t: Callable[[Any], Any], value: Callable[[Any], Any] | None
    ) -> None:
        self.sql = sql
        self._t = t
        self._value = value

    @classmethod
    def build(cls, dialect: Dialect) -> _ObservationInsert | None:
        """None when the dialect needs more than this fast path knows (then Core is used)."""
        compiled = (
            _observations.insert().inline().compile(dialect=dialect, column_keys=list(cls.COLUMNS))
        )
        procs = {
            name: _observations.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in cls.COLUMNS
        }
        order = tuple(compiled.positiontup or ())
        others = [procs[n] for n in cls.COLUMNS if n not in ("t", "value")]
        t_proc = procs["t"]
        if order != cls.COLUMNS or t_proc is None or any(p is not None for p in others):
            return None
        return cls(compiled.string, t_proc, procs["value"])

    def rows(self, batch: Sequence[Observation]) -> list[tuple[Any, ...]]:
        t, value = self._t, self._value
        out: list[tuple[Any, ...]] = []
        append = out.append
        # one device frame gives many values the same time (the same object from a driver,
        # equal ones once decoded from MQTT): convert it once
        last_t: object = None
        last_bound: Any = None
        for o in batch:
            if o.t != last_t:
                last_t, last_bound = o.t, t(o.t)
            v = o.value if value is None else value(o.value)
            append((last_bound, o.bed, o.code, v, o.unit, o.device, o.status.value))
        return out


def _obs_row(o: Observation) -> dict[str, Any]:
    return {
        "t": o.t,
        "bed": o.bed,
        "code": o.code,
        "value": o.value,
        "unit": o.unit,
        "device": o.device,
        "status": o.status.value,
    }


def _event_row(e: DeviceEvent) -> dict[str, Any]:
    return {
        "t": e.t,
        "bed": e.bed,
        "name": e.event,
        "fields": e.fields,
        "device": e.device,
        "source": e.source.value,
    }


def row_observation(row: RowMapping) -> Observation:
    """An `observations` row as the value type."""
    return Observation(
        t=row["t"],
        bed=row["bed"],
        code=row["code"],
        value=row["value"],
        unit=row["unit"],
        device=row["device"],
        status=ValueStatus(row["status"]),
    )


def _event(row: RowMapping) -> DeviceEvent:
    return DeviceEvent(
        t=row["t"],
        bed=row["bed"],
        event=row["name"],
        fields=dict(row["fields"] or {}),
        device=row["device"],
        source=EventSource(row["source"]),
    )
