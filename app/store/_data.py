"""Observations and events: append-only, written in batches, read as latest values, trends
and event lists. Observations are stored as device frames (`app.store._frames`)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store._frame_reads import frame_rows, streams_of
from app.store._frames import (
    Frame,
    frames,
    from_micros,
    micros,
    observations_of,
    series_text,
    usable_at,
)
from app.store.base import StoreBase
from app.store.schema import events as _events
from app.store.schema import observation_frames, observation_streams
from core.model import DeviceEvent, EventSource, Observation

StreamKey = tuple[str, str | None, str]


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
        # packed before the transaction starts, so the write lock is held for the database's
        # work only, and in a thread: a batch of 2,000 took the event loop 10-30 ms at once
        keyed, event_rows = await asyncio.to_thread(_pack, observations, events)
        known = self._stream_ids()
        missing = {key for key, _ in keyed if key not in known}
        found = await self._write_blocking(
            _append, keyed, missing, dict(known), event_rows, self._frame_sql()
        )
        known.update(found)  # only once committed: a rolled-back stream does not exist

    async def latest_values(self, bed: str) -> dict[str, Observation]:
        """The newest observation of each code at `bed` (whatever its status)."""
        c = observation_frames.c
        newest: dict[str, tuple[int, int, Observation]] = {}
        async with self._read() as conn:
            for stream in await streams_of(conn, bed):
                stmt = (
                    select(c.t, c.id, c.vals, c.flags)
                    .where(c.stream == stream.id)
                    .order_by(c.t.desc(), c.id.desc())
                    .limit(1)
                )
                row = (await conn.execute(stmt)).one_or_none()
                if row is None:
                    continue
                t, frame, vals, flags = row
                for o in observations_of(stream, t, vals, flags):
                    seen = newest.get(o.code)
                    if seen is None or (t, frame) >= seen[:2]:
                        newest[o.code] = (t, frame, o)
        return {code: o for code, (_, _, o) in newest.items()}

    async def observations(
        self,
        bed: str,
        codes: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100_000,
    ) -> list[Observation]:
        """Raw observations, oldest first (for reports and exports)."""
        async with self._read() as conn:
            return await read_observations(conn, bed, codes, since, until, limit=limit)

    async def trends(
        self,
        bed: str,
        codes: Sequence[str],
        since: datetime,
        until: datetime,
        points: int = 300,
    ) -> dict[str, list[tuple[datetime, float]]]:
        """Usable values of `codes` in [since, until], averaged into at most `points` equal
        time buckets per code. Each point is placed at the middle of the samples it averages
        (a bucket of one sample keeps that sample's time)."""
        if until <= since:
            raise ValueError("trends: `until` must be after `since`")
        if points < 1:
            raise ValueError("trends: `points` must be at least 1")
        out: dict[str, list[tuple[datetime, float]]] = {code: [] for code in codes}
        if not codes:
            return out
        lo, span = micros(since), micros(until) - micros(since)
        # per code and bucket (exact integer arithmetic): the values, first and last time
        buckets: dict[str, dict[int, list[Any]]] = {code: {} for code in codes}
        async with self._read() as conn:
            rows = await frame_rows(conn, bed, set(codes), since, until)
        wanted: dict[int, tuple[list[str], list[int]]] = {}
        for stream, t, _, vals, flags in rows:
            if stream.id not in wanted:
                at = [(c, i) for i, (c, _) in enumerate(stream.series) if c in buckets]
                wanted[stream.id] = ([c for c, _ in at], [i for _, i in at])
            names, positions = wanted[stream.id]
            b = min((t - lo) * points // span, points - 1)
            for code, value in zip(names, usable_at(vals, flags, positions), strict=True):
                if value is not None:
                    got = buckets[code].get(b)
                    if got is None:
                        buckets[code][b] = [[value], t, t]
                    else:
                        got[0].append(value)
                        got[2] = t  # rows come oldest first
        for code, by_bucket in buckets.items():
            for b in sorted(by_bucket):
                values, first, last = by_bucket[b]
                middle = from_micros(first) + (from_micros(last) - from_micros(first)) / 2
                out[code].append((middle, math.fsum(values) / len(values)))
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

    def _stream_ids(self) -> dict[StreamKey, int]:
        """Streams this store has written to (ids never change; rows are never deleted)."""
        if not hasattr(self, "_streams"):
            self._streams: dict[StreamKey, int] = {}
        return self._streams

    def _frame_sql(self) -> _FrameInsert:
        if not hasattr(self, "_frame_insert"):
            compiled = (
                insert(observation_frames)
                .inline()
                .compile(dialect=self._engine.dialect, column_keys=list(_FRAME_COLUMNS))
            )
            if tuple(compiled.positiontup or ()) != _FRAME_COLUMNS:
                raise RuntimeError(f"unexpected frame insert: {compiled.string}")
            self._frame_insert = _FrameInsert(compiled.string, multirow=self._sqlite)
        return self._frame_insert


_FRAME_COLUMNS = ("t", "stream", "vals", "flags")
ROWS_PER_INSERT = 200
"""SQLite: frames per multi-row INSERT (800 parameters: under the 999 of old SQLite builds)."""


class _FrameInsert(NamedTuple):
    """The frame INSERT as the driver takes it. On SQLite many rows go in one statement: one
    step of the database, so the writing thread gives up and takes back the GIL once, not once
    per row (each time waiting up to the switch interval behind a busy event loop)."""

    sql: str
    multirow: bool

    def run(self, conn: Connection, rows: list[tuple[int, int, bytes, bytes | None]]) -> None:
        if not self.multirow:
            conn.exec_driver_sql(self.sql, rows)
            return
        head, _, one_row = self.sql.partition(" VALUES ")
        for i in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[i : i + ROWS_PER_INSERT]
            values = ", ".join([one_row] * len(chunk))
            conn.exec_driver_sql(f"{head} VALUES {values}", tuple(v for r in chunk for v in r))


def _pack(
    observations: Sequence[Observation], events: Sequence[DeviceEvent]
) -> tuple[list[tuple[StreamKey, Frame]], list[dict[str, Any]]]:
    """A batch as rows: frames keyed by their stream, and events."""
    keyed = [((f.bed, f.device, series_text(f.series)), f) for f in frames(observations)]
    return keyed, [_event_row(e) for e in events]


def _append(
    conn: Connection,
    keyed: list[tuple[StreamKey, Frame]],
    missing: set[StreamKey],
    known: dict[StreamKey, int],
    event_rows: list[dict[str, Any]],
    frame_insert: _FrameInsert,
) -> dict[StreamKey, int]:
    """One batch's frames and events (blocking: `StoreBase._write_blocking`); the ids of the
    streams that were `missing`."""
    found = _stream_ids_for(conn, missing) if missing else {}
    if keyed:
        rows = [(f.t, known.get(k) or found[k], f.vals, f.flags) for k, f in keyed]
        frame_insert.run(conn, rows)
    if event_rows:
        conn.execute(_events.insert(), event_rows)
    return found


def _stream_ids_for(conn: Connection, keys: set[StreamKey]) -> dict[StreamKey, int]:
    """The ids of the streams `keys`, adding those no one has (a race between two instances
    adds one twice: harmless, readers take every stream of a bed)."""
    c = observation_streams.c
    stmt = select(c.id, c.bed, c.device, c.series).where(
        c.bed.in_(sorted({bed for bed, _, _ in keys}))
    )

    def existing() -> dict[StreamKey, int]:
        out: dict[StreamKey, int] = {}
        for i, bed, device, series in conn.execute(stmt.order_by(c.id)).all():
            out.setdefault((bed, device, series), i)
        return out

    found = existing()
    if keys - found.keys():
        conn.execute(
            observation_streams.insert(),
            [
                {"bed": b, "device": d, "series": s}
                for b, d, s in sorted(keys - found.keys(), key=str)
            ],
        )
        found = existing()
    return found


async def read_observations(
    conn: AsyncConnection,
    bed: str,
    codes: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    limit: int | None = None,
) -> list[Observation]:
    """Observations of `bed` (of `codes`, in [since, until]), oldest first, at most `limit`."""
    wanted = None if codes is None else set(codes)
    out: list[Observation] = []
    for stream, t, _, vals, flags in await frame_rows(conn, bed, wanted, since, until, limit=limit):
        out += observations_of(stream, t, vals, flags, wanted)
        if limit is not None and len(out) >= limit:
            return out[:limit]
    return out


def _event_row(e: DeviceEvent) -> dict[str, Any]:
    return {
        "t": e.t,
        "bed": e.bed,
        "name": e.event,
        "fields": e.fields,
        "device": e.device,
        "source": e.source.value,
    }


def _event(row: RowMapping) -> DeviceEvent:
    return DeviceEvent(
        t=row["t"],
        bed=row["bed"],
        event=row["name"],
        fields=dict(row["fields"] or {}),
        device=row["device"],
        source=EventSource(row["source"]),
    )
