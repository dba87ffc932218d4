"""The SQLite lane: an alert's commit runs on the event loop itself when the write lock is
free, and in the lane (which waits for the lock) when another process holds it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from factories import make_alert

from app.store import Store, upgrade


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> AsyncIterator[tuple[Store, Path]]:
    path = tmp_path / "lane.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    store = await Store.open(url)
    try:
        yield store, path
    finally:
        await store.close()


async def test_an_alert_commits_on_the_loop_when_the_lock_is_free(
    sqlite_file: tuple[Store, Path],
) -> None:
    store, _ = sqlite_file
    lane = store._lane
    assert lane is not None
    committed = await store.commit_alerts([make_alert(1), make_alert(2)])
    assert [a.seq for a in committed] == [1, 2]
    assert lane.here == 1
    assert (await store.alert("alert-2")) == committed[1]


async def test_an_alert_waits_in_the_lane_while_another_process_writes(
    sqlite_file: tuple[Store, Path],
) -> None:
    store, path = sqlite_file
    lane = store._lane
    assert lane is not None
    other = sqlite3.connect(path, isolation_level=None)  # stands for another process
    other.execute("BEGIN IMMEDIATE")
    try:
        commit = asyncio.create_task(store.commit_alert(make_alert(1)))
        await asyncio.sleep(0.3)
        assert not commit.done()  # waiting for the lock, in the lane: the loop runs on
    finally:
        other.execute("COMMIT")
        other.close()
    committed = await asyncio.wait_for(commit, 10)
    assert committed.seq == 1 and lane.here == 0
