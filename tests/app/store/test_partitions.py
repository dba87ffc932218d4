"""PostgreSQL: day partitions of `observation_frames` are made ahead by the retention round,
take over their rows from the default partition, and are dropped whole once past retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from app.store import Store
from app.store._partitions import DEFAULT, day_partitions
from app.store._retention import RetentionRule
from core.model import Observation

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 3, 1, tzinfo=UTC)
RULE = RetentionRule(full=timedelta(days=1), aggregates=timedelta(days=30))


@pytest.fixture
def dialect() -> str:
    return "postgresql"


async def where_rows_are(store: Store) -> dict[str, int]:
    async with store._engine.connect() as conn:  # the test looks inside
        names = [DEFAULT, *(await day_partitions(conn)).values()]
        counts = {n: await conn.scalar(text(f"SELECT count(*) FROM {n}")) for n in names}
    return {n: int(c or 0) for n, c in counts.items()}


async def test_days_are_made_ahead_filled_from_default_and_dropped_whole(store: Store) -> None:
    rows = [
        Observation(
            t=T0 + timedelta(minutes=m), bed="ICU-1", code="HR", value=60.0 + m % 7, unit="/min"
        )
        for m in range(0, 4 * 24 * 60, 10)
    ]
    await store.add_observations(rows)
    assert await where_rows_are(store) == {DEFAULT: len(rows)}  # no day partition yet

    day2 = T0 + timedelta(days=2)
    await store.prune(day2, RULE)
    # today and the next two days now have partitions, holding their rows
    per_day = 24 * 6
    assert await where_rows_are(store) == {
        DEFAULT: per_day,  # day 1 (day 0 is folded: past a day of full resolution)
        "observation_frames_20260303": per_day,
        "observation_frames_20260304": per_day,
        "observation_frames_20260305": 0,
    }
    assert (await store.observations("ICU-1"))[0].t == T0 + timedelta(days=1)

    # two days later, 3 March is past full resolution: folded into minutes, dropped whole
    result = await store.prune(T0 + timedelta(days=4), RULE)
    assert result.folded_rows == 2 * per_day
    left = await where_rows_are(store)
    assert "observation_frames_20260303" not in left
    assert left[DEFAULT] == 0 and left["observation_frames_20260304"] == per_day
    minutes = await store.minute_aggregates("ICU-1", "HR", T0, T0 + timedelta(days=3))
    assert len(minutes) == 3 * per_day
    assert [m.max for m in minutes] == [o.value for o in rows[: 3 * per_day]]
    async with store._engine.connect() as conn:
        assert date(2026, 3, 7) in await day_partitions(conn)
