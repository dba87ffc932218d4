"""A restarted service continues the episodes it interrupted (issue #12, in process).

The recording of `test_one_path` is served in two runs of the service on one SQLite database,
the second started from nothing but the store (a fresh engine, restored at pipeline start).
The transitions the two runs commit equal those of one uninterrupted replay: same ids, same
phases, the infusion start in the evidence; nothing raised twice. The real service under
`kill -9` is `tests/test_restart_kill.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.context import AppContext
from app.main import create_app
from app.pipeline import Pipeline, pipeline_service
from app.settings import Mode, Settings
from app.store import Store
from app.store.migrate import upgrade
from core.bus import InProcessBus
from core.clock import VirtualClock
from core.model import Alert, DeviceEvent, Observation, Phase
from core.records import parse_record
from tests.app.test_one_path import ESCALATE_S, comparable, recording, replay_path

Msg = Observation | DeviceEvent


async def serve(
    db_url: str,
    msgs: Sequence[Msg],
    start: datetime,
    until: datetime,
    *,
    ack_rule: str | None = None,
) -> list[Alert]:
    """One run of the service: the messages through the bus, time moved on to `until`; with
    `ack_rule`, a nurse acknowledges that rule's alerts before the run ends. The transitions
    this run committed."""
    clock = VirtualClock(start)
    bus = InProcessBus()
    settings = Settings(mode=Mode.TEST, database_url=db_url, secret_key=SecretStr("s" * 48))
    running: list[Pipeline] = []

    def capture(ctx: AppContext) -> contextlib.AbstractAsyncContextManager[Pipeline]:
        @contextlib.asynccontextmanager
        async def run() -> AsyncIterator[Pipeline]:
            async with pipeline_service(escalate_after_s=ESCALATE_S)(ctx) as pipeline:
                running.append(pipeline)
                yield pipeline

        return run()

    app = create_app(settings, clock=clock, bus=bus, services=[capture])
    async with app.router.lifespan_context(app):
        store: Store = app.state.ctx.store
        first = await store.max_seq()
        pipeline = running[0]
        for msg in msgs:
            await bus.publish(msg)
        async with asyncio.timeout(60):  # a bound on a hung pipeline, not a verdict
            while pipeline.handled < len(msgs):
                await asyncio.sleep(0.01)
        if ack_rule is not None:
            for a in await store.station_alerts():
                if a.rule == ack_rule:
                    await app.state.ctx.alerts.acknowledge(a.id, by="nurse", t=until)
        clock.set(until)
        await clock.advance(0)
        return await store.transitions_after(first)


def split(lines: list[str], cut: datetime) -> tuple[list[Msg], list[Msg]]:
    msgs = [parse_record(ln) for ln in lines]
    return [m for m in msgs if m.t <= cut], [m for m in msgs if m.t > cut]


CUT = datetime(2026, 3, 1, 8, 11, tzinfo=UTC)  # VTs open at two beds, a pause alert open


@pytest.mark.timeout(120)
@pytest.mark.parametrize("cut", [CUT, datetime(2026, 3, 1, 8, 13, 30, tzinfo=UTC)])
async def test_a_restarted_service_gives_the_uninterrupted_transitions(
    tmp_path: Path, cut: datetime
) -> None:
    lines = recording()
    replayed = replay_path(lines)
    url = f"sqlite+aiosqlite:///{tmp_path / 'restart.db'}"
    await upgrade(url)
    before, after = split(lines, cut)
    served = await serve(url, before, before[0].t, cut)
    served += await serve(url, after, cut, after[-1].t)
    assert comparable(served) == comparable(replayed)
    assert sum(1 for a in served if a.phase is Phase.START and a.rule == "baseline_missing") == 1
    vt = [a for a in served if a.rule == "arrhythmia" and a.bed == "ICU-3"]
    assert [a.phase.value for a in vt][-1] == "end" and len({a.id for a in vt}) == 1
    assert vt[-1].iae is True and vt[-1].evidence["infusion_start"] == "2026-03-01T08:00:00Z"


@pytest.mark.timeout(120)
async def test_an_acknowledged_alert_stays_acknowledged_across_a_restart(tmp_path: Path) -> None:
    lines = recording()
    url = f"sqlite+aiosqlite:///{tmp_path / 'restart.db'}"
    await upgrade(url)
    before, after = split(lines, CUT)
    first = await serve(url, before, before[0].t, CUT, ack_rule="arrhythmia")
    acked = {a.id for a in first if a.phase is Phase.ACK}
    assert len(acked) == 2  # both beds' VTs
    second = await serve(url, after, CUT, after[-1].t)
    vts = [a for a in second if a.rule == "arrhythmia"]
    assert {a.id for a in vts} == acked
    assert [a.phase.value for a in vts] == ["end", "end"]  # not escalated: acknowledged
    assert all(a.acked_by == "nurse" for a in vts)
