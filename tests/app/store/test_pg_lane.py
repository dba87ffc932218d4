"""The PostgreSQL lane: an alert's commit runs in a thread of its own, on its own loop, in one
transaction under the advisory lock that orders alert commits across instances; the caller's
loop waits for a quick one and awaits a slow one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pgschema import PG_DATABASE, PG_HOST, PG_PORT, migrated_database
from sqlalchemy import Connection, text

from app.store.base import ALERT_LOCK_KEY
from app.store.pg_lane import PgLane

pytestmark = pytest.mark.postgres

_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = 0 AND objid = :key"
)


@pytest.fixture
async def lane(tmp_path: Path) -> AsyncIterator[PgLane]:
    async with migrated_database("postgresql", tmp_path) as url:
        lane = PgLane(url, ALERT_LOCK_KEY)
        try:
            yield lane
        finally:
            await lane.close()


def _where(conn: Connection) -> tuple[str, int]:
    """The thread running the transaction, and whether it holds the alert lock."""
    held = conn.execute(_HELD, {"key": ALERT_LOCK_KEY}).scalar_one()
    return threading.current_thread().name, int(held)


async def test_a_commit_runs_in_the_lane_under_the_advisory_lock(lane: PgLane) -> None:
    assert await lane.write(_where) == ("pg-lane", 1)
    thread = lane._thread
    assert thread is not None and thread.is_alive()
    assert await lane.write(_where) == ("pg-lane", 1)  # the same thread, loop and connection
    assert lane._thread is thread
    await lane.close()
    assert not thread.is_alive()


async def test_an_error_rolls_back_and_reaches_the_caller(lane: PgLane) -> None:
    def fails(conn: Connection) -> None:
        conn.execute(text("CREATE TABLE lane_probe (a integer)"))
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await lane.write(fails)

    def probe(conn: Connection) -> object:
        return conn.execute(text("SELECT to_regclass('lane_probe')")).scalar()

    assert await lane.write(probe) is None  # the table went with the transaction


async def test_a_commit_waits_while_another_instance_holds_the_lock(lane: PgLane) -> None:
    other = await asyncpg.connect(host=PG_HOST, port=PG_PORT, database=PG_DATABASE, user="postgres")
    try:
        await other.execute("BEGIN")
        await other.execute("SELECT pg_advisory_xact_lock($1)", ALERT_LOCK_KEY)
        commit = asyncio.create_task(lane.write(_where))
        await asyncio.sleep(0.3)
        assert not commit.done()
        await other.execute("COMMIT")
        assert await asyncio.wait_for(commit, 10) == ("pg-lane", 1)
    finally:
        await other.close()


@pytest.mark.parametrize(("wait_here_s", "turns"), [(30.0, 0), (0.0, 1)])
async def test_the_loop_waits_for_a_quick_commit_and_awaits_a_slow_one(
    lane: PgLane, wait_here_s: float, turns: int
) -> None:
    await lane.write(_where)  # connected
    lane._wait_here_s = wait_here_s
    ran: list[int] = []
    asyncio.get_running_loop().call_soon(ran.append, 1)
    assert await lane.write(_where) == ("pg-lane", 1)
    assert len(ran) == turns  # waited here: no turn of the loop; awaited: turns ran meanwhile


async def test_closing_a_lane_never_used_is_nothing() -> None:
    lane = PgLane("postgresql+asyncpg://nobody@127.0.0.1:1/none", ALERT_LOCK_KEY)
    await lane.close()
    assert lane._thread is None
