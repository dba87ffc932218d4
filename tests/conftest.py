"""Shared fixtures: a virtual clock, and a guard that fails tests which leak asyncio tasks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from core.clock import VirtualClock

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def vclock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves tasks running behind it (pymodbus's habit, adopted)."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    leaked = [
        t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()
    ]
    for t in leaked:
        t.cancel()
    if leaked:
        names = ", ".join(t.get_name() + ":" + repr(t.get_coro()) for t in leaked[:5])
        pytest.fail(f"test leaked {len(leaked)} task(s): {names}")
