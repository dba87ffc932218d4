"""One recording served two ways, for the tests that compare them: `replay_path` runs
`iaewatch replay`'s loop, `serve` runs the real app (bus → pipeline → alert desk → SQLite)
under a virtual clock. `tests/app/test_one_path.py` and `tests/app/test_restart*.py` use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from app.commands.replay import replay
from app.context import AppContext
from app.main import create_app
from app.pipeline import Pipeline, pipeline_service
from app.settings import Mode, Settings
from app.store import Store
from core.bus import InProcessBus
from core.clock import VirtualClock
from core.model import Alert, DeviceEvent, Observation
from core.records import alert_record
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
