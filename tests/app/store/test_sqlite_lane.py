"""The SQLite lane: an alert's commit runs on the event loop itself when the write lock is
free, and in the lane (which waits for the lock) when another process holds it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from factories import make_alert

from app.store import Store, upgrade
from app.store.sqlite_lane import SqliteLane


@dataclass
class OnFile:
    """A store on a SQLite file, its lane, and the file."""

    store: Store
    lane: SqliteLane
    path: Path


@pytest.fixture
async def on_file(tmp_path: Path) -> AsyncIterator[OnFile]:
    path = tmp_path / "lane.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    store = await Store.open(url)
    assert store._lane is not None
    try:
        yield OnFile(store, store._lane, path)
    finally:
        await store.close()


async def test_an_alert_commits_on_the_loop_when_the_lock_is_free(on_file: OnFile) -> None:
    store, lane = on_file.store, on_file.lane
    committed = await store.commit_alerts([make_alert(1), make_alert(2)])
    assert [a.seq for a in committed] == [1, 2]
    assert lane.here == 1
    assert (await store.alert("alert-2")) == committed[1]


async def test_an_alert_waits_in_the_lane_while_another_process_writes(on_file: OnFile) -> None:
    store, lane = on_file.store, on_file.lane
    other = sqlite3.connect(on_file.path, isolation_level=None)  # stands for another process
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
