"""Follow alert transitions other service instances commit to the same PostgreSQL database.

Two `iaewatch serve` on one PostgreSQL both serve stations: each commits its own transitions
and pushes them to its clients, and this service has the alert desk (`AlertDesk.catch_up`)
tell this instance's hub and rules engine what the other committed, in seq order, each once.
It wakes on the database's notification of each commit and also every `poll_s`, in case one
was missed while the listening connection was being replaced. On SQLite (one process owns the
database) there is nothing to follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from app.context import AppContext
from app.main import Service
from core.periodic import running

log = logging.getLogger(__name__)


def alert_follow_service(*, poll_s: float = 5.0, retry_s: float = 1.0) -> Service:
    """Keep this instance's desk up to date with the database (see the module docstring)."""

    @contextlib.asynccontextmanager
    async def run(ctx: AppContext) -> AsyncIterator[None]:
        if ctx.store.dialect == "sqlite":
            yield
            return
        async with running(_follow(ctx, poll_s, retry_s), "alert-follow"):
            yield

    return run


async def _follow(ctx: AppContext, poll_s: float, retry_s: float) -> None:
    wake = asyncio.Event()
    while True:
        try:
            async with ctx.store.alert_notifications(wake.set):
                while True:
                    await ctx.alerts.catch_up()
                    with contextlib.suppress(TimeoutError):
                        await ctx.clock.wait_for(wake.wait(), poll_s)
                    wake.clear()
        except Exception:  # a lost connection: listen again, and catch up meanwhile
            log.exception("alert follow: listening failed; again in %.1f s", retry_s)
            await ctx.clock.sleep(retry_s)
