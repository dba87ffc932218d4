"""Reading device frames back: the streams of a bed, and their frames in a time range."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store._frames import Stream, micros, series_of
from app.store.schema import observation_frames, observation_streams

FrameRow = tuple[Stream, int, int, bytes, bytes | None]
"""A frame read back: its stream, t, id, vals and flags."""


async def streams_of(conn: AsyncConnection, bed: str) -> list[Stream]:
    """Every stream of `bed`, oldest first."""
    c = observation_streams.c
    rows = await conn.execute(select(c.id, c.device, c.series).where(c.bed == bed).order_by(c.id))
    return [Stream(r.id, bed, r.device, series_of(r.series)) for r in rows]


async def frame_rows(
    conn: AsyncConnection,
    bed: str,
    codes: set[str] | None,
    since: datetime | None,
    until: datetime | None,
    *,
    limit: int | None = None,
    newest_first: bool = False,
    end_open: bool = False,
) -> list[FrameRow]:
    """The frames of `bed`'s streams that carry any of `codes` (all when None) in
    [since, until] ([since, until) when `end_open`), oldest first, each with its stream."""
    streams = {s.id: s for s in await streams_of(conn, bed) if s.has_any(codes)}
    if not streams:
        return []
    c = observation_frames.c
    stmt = select(c.t, c.id, c.stream, c.vals, c.flags).where(c.stream.in_(list(streams)))
    if since is not None:
        stmt = stmt.where(c.t >= micros(since))
    if until is not None:
        stmt = stmt.where(c.t < micros(until) if end_open else c.t <= micros(until))
    order = (c.t.desc(), c.id.desc()) if newest_first else (c.t, c.id)
    stmt = stmt.order_by(*order)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(streams[s], t, i, vals, flags) for t, i, s, vals, flags in await conn.execute(stmt)]


async def last_usable_time(
    conn: AsyncConnection, bed: str, codes: set[str], until: datetime, page: int = 500
) -> int | None:
    """The time (microseconds) of the newest valid observation of any of `codes` at or
    before `until`: each stream read back from `until`, a page of frames at a time."""
    c = observation_frames.c
    newest: int | None = None
    for stream in await streams_of(conn, bed):
        positions = [i for i, (code, _) in enumerate(stream.series) if code in codes]
        if not positions:
            continue
        offset = 0
        while True:
            stmt = (
                select(c.t, c.flags)
                .where(c.stream == stream.id, c.t <= micros(until))
                .order_by(c.t.desc(), c.id.desc())
                .limit(page)
                .offset(offset)
            )
            rows = (await conn.execute(stmt)).all()
            hit = next((t for t, flags in rows if _any_valid(flags, positions)), None)
            if hit is not None or len(rows) < page:
                break
            offset += page
        if hit is not None and (newest is None or hit > newest):
            newest = hit
    return newest


def _any_valid(flags: bytes | None, positions: list[int]) -> bool:
    return flags is None or any(flags[i] == 0 for i in positions)
