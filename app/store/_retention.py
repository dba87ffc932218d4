"""Retention: observations past their full-resolution time become per-minute aggregates, and
aggregates past theirs are deleted. Batched, so no transaction holds the database for long.

An observation is kept at full resolution while it is younger than `full` or lies in a
monitoring window (the pre-infusion baseline look-back through the end of the window) that
ended less than `full` ago. Older ones are folded, a bed and `chunk` of time per
transaction, into `observation_minutes`: per minute and series (code, unit, device) the number
of rows, the number with a value, and their minimum, median and maximum. Chunk edges fall on
whole minutes; a fold replaces the minutes it writes, so folding a minute again (after a
round that stopped half-way) gives the same rows, never twice as many.

SQLite: each chunk's frames are deleted in the transaction that folds them. PostgreSQL: each
round first makes the partitions of today and the next two days (`app.store._partitions`);
a day partition wholly past full resolution and outside every kept monitoring window is folded
without deleting rows, then dropped whole; the rest is deleted chunk by chunk as on SQLite.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, select

from app.store import _partitions as partitions
from app.store._frame_reads import frame_rows
from app.store._frames import from_micros, micros, observations_of
from app.store.base import StoreBase
from app.store.schema import infusions, observation_frames, observation_minutes, observation_streams
from core.model import Observation

_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionRule:
    """How long data stays at each resolution."""

    full: timedelta
    """Full resolution: from the sample, or from the end of its monitoring window."""
    aggregates: timedelta
    """Per-minute aggregates: from the minute; deleted after."""
    window: timedelta = timedelta(hours=24)
    """The monitoring window after an infusion start."""
    lookback: timedelta = timedelta(hours=24)
    """Before an infusion start: the pre-infusion baseline the window is judged against."""
    chunk: timedelta = timedelta(minutes=30)
    """Folded per transaction (whole minutes)."""

    def __post_init__(self) -> None:
        if self.full < timedelta(days=1):
            raise ValueError("full resolution must be kept at least a day (restarts read it)")
        if self.aggregates < self.full:
            raise ValueError("aggregates must be kept at least as long as full resolution")
        if self.chunk < _MINUTE or self.chunk % _MINUTE:
            raise ValueError("the chunk must be whole minutes")


@dataclass(frozen=True, slots=True)
class PruneResult:
    folded_rows: int
    minutes_written: int
    minutes_deleted: int


@dataclass(frozen=True, slots=True)
class MinuteAggregate:
    minute: datetime
    code: str
    unit: str
    device: str | None
    samples: int
    n: int
    min: float | None
    median: float | None
    max: float | None


class RetentionQueries(StoreBase):
    async def prune(self, now: datetime, rule: RetentionRule) -> PruneResult:
        """Fold what is past full resolution into minutes; delete minutes past theirs."""
        cutoff = _floor_minute(now - rule.full)
        protected = await self._protected_spans(now, rule)
        droppable: dict[date, str] = {}
        if not self._sqlite:
            droppable = await self._day_partitions(now, cutoff, protected)
        edges = [_day_start(day) for day in droppable] + [_day_start(d) + _DAY for d in droppable]
        folded = written = 0
        for bed, first in await self._beds_with_data_before(cutoff):
            span = _minus((_floor_minute(first), cutoff), protected.get(bed, []))
            for a, b in _chunks(_split(span, edges), rule.chunk):
                rows, minutes = await self._fold(bed, a, b, keep_frames=a.date() in droppable)
                folded += rows
                written += minutes
        if droppable:
            async with self._write() as conn:
                await partitions.lock(conn)
                for name in droppable.values():
                    await partitions.drop_day(conn, name)
        deleted = await self._delete_minutes_before(_floor_minute(now - rule.aggregates))
        return PruneResult(folded, written, deleted)

    async def minute_aggregates(
        self, bed: str, code: str, since: datetime, until: datetime
    ) -> list[MinuteAggregate]:
        """The per-minute aggregates of `code` at `bed` in [since, until], oldest first."""
        c = observation_minutes.c
        stmt = (
            select(observation_minutes)
            .where(c.bed == bed, c.code == code, c.minute >= since, c.minute <= until)
            .order_by(c.minute, c.id)
        )
        async with self._read() as conn:
            return [
                MinuteAggregate(
                    minute=r["minute"],
                    code=r["code"],
                    unit=r["unit"],
                    device=r["device"],
                    samples=r["samples"],
                    n=r["n"],
                    min=r["min"],
                    median=r["median"],
                    max=r["max"],
                )
                for r in (await conn.execute(stmt)).mappings()
            ]

    async def _beds_with_data_before(self, cutoff: datetime) -> list[tuple[str, datetime]]:
        f, st = observation_frames.c, observation_streams.c
        stmt = (
            select(st.bed, func.min(f.t))
            .select_from(observation_frames.join(observation_streams, st.id == f.stream))
            .where(f.t < micros(cutoff))
            .group_by(st.bed)
            .order_by(st.bed)
        )
        async with self._read() as conn:
            return [(bed, from_micros(first)) for bed, first in (await conn.execute(stmt)).all()]

    async def _protected_spans(self, now: datetime, rule: RetentionRule) -> dict[str, list[Span]]:
        """Per bed, its monitoring windows whose full-resolution time has not run out."""
        c = infusions.c
        stmt = select(c.bed, c.started_at).order_by(c.bed, c.started_at)
        out: dict[str, list[Span]] = {}
        async with self._read() as conn:
            for bed, start in (await conn.execute(stmt)).all():
                s = _utc(start)
                if s + rule.window + rule.full > now:
                    span = (_floor_minute(s - rule.lookback), _ceil_minute(s + rule.window))
                    out.setdefault(bed, []).append(span)
        return out

    async def _day_partitions(
        self, now: datetime, cutoff: datetime, protected: dict[str, list[Span]]
    ) -> dict[date, str]:
        """Make the partitions of today and the next two days; return the day partitions
        wholly before `cutoff` that no kept window touches (to be folded and dropped)."""
        today = now.astimezone(UTC).date()
        async with self._write() as conn:
            await partitions.lock(conn)
            existing = await partitions.day_partitions(conn)
            for day in (today + k * _DAY for k in range(3)):
                if day not in existing:
                    await partitions.create_day(conn, day)
        kept = [span for spans in protected.values() for span in spans]
        return {
            day: name
            for day, name in existing.items()
            if _day_start(day) + _DAY <= cutoff
            and not any(a < _day_start(day) + _DAY and b > _day_start(day) for a, b in kept)
        }

    async def _fold(
        self, bed: str, since: datetime, until: datetime, *, keep_frames: bool
    ) -> tuple[int, int]:
        """Fold the observations of `bed` in [since, until) into minutes, in one transaction
        (replacing those minutes' aggregates), and delete the frames unless `keep_frames` (their
        partition is dropped whole)."""
        f, m = observation_frames.c, observation_minutes.c
        async with self._write() as conn:
            got = await frame_rows(conn, bed, None, since, until, end_open=True)
            if not got:
                return 0, 0
            rows = [o for stream, t, _, v, fl in got for o in observations_of(stream, t, v, fl)]
            minutes = _aggregate(bed, rows)
            await conn.execute(
                delete(observation_minutes).where(
                    m.bed == bed,
                    m.code.in_(sorted({o.code for o in rows})),
                    m.minute.in_(sorted({row["minute"] for row in minutes})),
                )
            )
            await conn.execute(observation_minutes.insert(), minutes)
            if not keep_frames:
                await conn.execute(
                    observation_frames.delete().where(
                        f.stream.in_(sorted({stream.id for stream, *_ in got})),
                        f.t >= micros(since),
                        f.t < micros(until),
                    )
                )
        return len(rows), len(minutes)

    async def _delete_minutes_before(self, cutoff: datetime, batch: int = 50_000) -> int:
        c = observation_minutes.c
        deleted = 0
        while True:
            async with self._write() as conn:
                ids = (await conn.scalars(select(c.id).where(c.minute < cutoff).limit(batch))).all()
                if not ids:
                    return deleted
                await conn.execute(delete(observation_minutes).where(c.id.in_(ids)))
            deleted += len(ids)


def _aggregate(bed: str, rows: Sequence[Observation]) -> list[dict[str, object]]:
    groups: dict[tuple[datetime, str, str, str | None], list[float | None]] = defaultdict(list)
    for o in rows:
        groups[(_floor_minute(o.t), o.code, o.unit, o.device)].append(o.value)
    out: list[dict[str, object]] = []
    for (minute, code, unit, device), values in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3] or "")
    ):
        numbers = [v for v in values if v is not None]
        out.append(
            {
                "minute": minute,
                "bed": bed,
                "code": code,
                "unit": unit,
                "device": device,
                "samples": len(values),
                "n": len(numbers),
                "min": min(numbers) if numbers else None,
                "median": statistics.median(numbers) if numbers else None,
                "max": max(numbers) if numbers else None,
            }
        )
    return out


def _minus(span: Span, holes: Sequence[Span]) -> list[Span]:
    """`span` without `holes`, as ordered non-empty spans."""
    pieces = [span]
    for h0, h1 in holes:
        cut: list[Span] = []
        for a, b in pieces:
            if h1 <= a or h0 >= b:
                cut.append((a, b))
                continue
            if a < h0:
                cut.append((a, h0))
            if h1 < b:
                cut.append((h1, b))
        pieces = cut
    return [(a, b) for a, b in pieces if a < b]


def _split(spans: Sequence[Span], edges: Sequence[datetime]) -> list[Span]:
    """`spans` cut at each of `edges`."""
    out = list(spans)
    for edge in edges:
        out = [p for a, b in out for p in (((a, edge), (edge, b)) if a < edge < b else ((a, b),))]
    return out


def _chunks(spans: Sequence[Span], size: timedelta) -> Iterator[Span]:
    for a, b in spans:
        while a < b:
            yield a, min(a + size, b)
            a += size


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _floor_minute(t: datetime) -> datetime:
    return _utc(t).replace(second=0, microsecond=0)


def _ceil_minute(t: datetime) -> datetime:
    floor = _floor_minute(t)
    return floor if floor == _utc(t) else floor + _MINUTE
