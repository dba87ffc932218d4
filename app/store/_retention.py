"""Retention: observations past their full-resolution time become per-minute aggregates, and
aggregates past theirs are deleted. Batched, so no transaction holds the database for long.

An observation is kept at full resolution while it is younger than `full` or lies in a
monitoring window (the pre-infusion baseline look-back through the end of the window) that
ended less than `full` ago. Older ones are folded, a bed and `chunk` of time per
transaction, into `observation_minutes`: per minute and series (code, unit, device) the number
of rows, the number with a value, and their minimum, median and maximum. Chunk edges fall on
whole minutes, so a minute is folded once.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from app.store.base import StoreBase
from app.store.schema import infusions, observation_minutes, observations

_MINUTE = timedelta(minutes=1)
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
        folded = written = 0
        for bed, first in await self._beds_with_data_before(cutoff):
            protected = await self._protected_spans(bed, now, rule)
            for a, b in _chunks(_minus((_floor_minute(first), cutoff), protected), rule.chunk):
                rows, minutes = await self._fold(bed, a, b)
                folded += rows
                written += minutes
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
        c = observations.c
        stmt = select(c.bed, func.min(c.t)).where(c.t < cutoff).group_by(c.bed).order_by(c.bed)
        async with self._read() as conn:
            return [(bed, first) for bed, first in (await conn.execute(stmt)).all()]

    async def _protected_spans(self, bed: str, now: datetime, rule: RetentionRule) -> list[Span]:
        """The monitoring windows of `bed` whose full-resolution time has not run out."""
        c = infusions.c
        stmt = select(c.started_at).where(c.bed == bed).order_by(c.started_at)
        async with self._read() as conn:
            starts = [_utc(s) for s in (await conn.scalars(stmt)).all()]
        return [
            (_floor_minute(s - rule.lookback), _ceil_minute(s + rule.window))
            for s in starts
            if s + rule.window + rule.full > now
        ]

    async def _fold(self, bed: str, since: datetime, until: datetime) -> tuple[int, int]:
        """Fold the observations of `bed` in [since, until) into minutes, in one transaction."""
        c = observations.c
        where = (c.bed == bed, c.t >= since, c.t < until)
        async with self._write() as conn:
            rows = (
                await conn.execute(select(c.t, c.code, c.unit, c.device, c.value).where(*where))
            ).all()
            if not rows:
                return 0, 0
            minutes = _aggregate(bed, rows)
            await conn.execute(observation_minutes.insert(), minutes)
            await conn.execute(delete(observations).where(*where))
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


def _aggregate(
    bed: str, rows: Sequence[tuple[datetime, str, str, str | None, float | None]]
) -> list[dict[str, object]]:
    groups: dict[tuple[datetime, str, str, str | None], list[float | None]] = defaultdict(list)
    for t, code, unit, device, value in rows:
        groups[(_floor_minute(_utc(t)), code, unit, device)].append(value)
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


def _chunks(spans: Sequence[Span], size: timedelta) -> Iterator[Span]:
    for a, b in spans:
        while a < b:
            yield a, min(a + size, b)
            a += size


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _floor_minute(t: datetime) -> datetime:
    return _utc(t).replace(second=0, microsecond=0)


def _ceil_minute(t: datetime) -> datetime:
    floor = _floor_minute(t)
    return floor if floor == _utc(t) else floor + _MINUTE
