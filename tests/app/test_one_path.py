"""One recording, two paths, the same alerts: `iaewatch replay` and the service (bus →
pipeline → engine → alert desk → store) give equal alert transitions, order-check alerts
included (the replay runs the trial's engine, as the station does)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from app.commands.replay import replay
from app.context import AppContext
from app.main import create_app
from app.pipeline import Pipeline, pipeline_service
from app.settings import Settings
from app.store import Store
from app.store.migrate import upgrade
from core.bus import InProcessBus
from core.clock import VirtualClock
from core.model import Alert
from core.records import alert_record, parse_record
from monitors import build_engine

RECORDING = Path(__file__).parents[1] / "data" / "replay" / "two_beds.jsonl"
ESCALATE_S = 120.0

# The study pump's programme at ICU-3: first off the order (VTBI 250 mL), corrected, then
# paused for more than 5 min during the infusion (the order check's two rules).
PUMP = [
    {"t": "2026-03-01T07:55:00Z", "state": "stopped", "rate_ml_h": 133, "vtbi_ml": 250},
    {"t": "2026-03-01T07:58:00Z", "state": "stopped", "rate_ml_h": 133, "vtbi_ml": 100},
    {"t": "2026-03-01T08:03:00Z", "state": "paused", "rate_ml_h": 133, "vtbi_ml": 100},
    {"t": "2026-03-01T08:12:00Z", "state": "running", "rate_ml_h": 133, "vtbi_ml": 100},
]


def recording() -> list[str]:
    lines = [ln for ln in RECORDING.read_text().splitlines() if ln.strip()]
    extra = [
        json.dumps({**p, "bed": "ICU-3", "event": "pump_program", "device": "pump-study"})
        for p in PUMP
    ]
    merged = lines + extra
    # a stable sort by time keeps each instant's file order; the programme goes after
    return sorted(merged, key=lambda ln: json.loads(ln)["t"])


def comparable(alerts: list[Alert]) -> list[dict[str, Any]]:
    return [{k: v for k, v in alert_record(a).items() if k != "seq"} for a in alerts]


def replay_path(lines: list[str]) -> list[Alert]:
    out: list[Alert] = []
    replay((ln.encode() for ln in lines), build_engine(escalate_after_s=ESCALATE_S), out.append)
    return out


async def service_path(lines: list[str], db_url: str) -> list[Alert]:
    await upgrade(db_url)
    msgs = [parse_record(ln) for ln in lines]
    clock = VirtualClock(msgs[0].t)
    bus = InProcessBus()
    settings = Settings(mode="test", database_url=db_url, secret_key="s" * 48)
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
        pipeline = running[0]
        for msg in msgs:
            await bus.publish(msg)
        async with asyncio.timeout(60):  # a bound on a hung pipeline, not a verdict
            while pipeline.handled < len(msgs):
                await asyncio.sleep(0.01)
        # time moves on to the last record: the pipeline's own ticker adds nothing more
        last: datetime = msgs[-1].t
        clock.set(last)
        await clock.advance(0)
        store: Store = app.state.ctx.store
        return await store.transitions_after(0)


@pytest.mark.timeout(120)
async def test_replay_and_service_give_the_same_transitions(tmp_path: Path) -> None:
    lines = recording()
    replayed = replay_path(lines)
    served = await service_path(lines, f"sqlite+aiosqlite:///{tmp_path / 'one-path.db'}")
    rules = {a.rule for a in replayed}
    assert {"infusion_programme_off_order", "infusion_paused_long"} <= rules
    assert any(a.category.value == "arrhythmia" for a in replayed)
    assert len(replayed) > 5
    assert comparable(served) == comparable(replayed)
