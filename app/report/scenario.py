"""Run a simulator scenario into a store as the service's pipeline would, under virtual time:
for the sample report in docs/, demonstrations, and the report's end-to-end tests.

Records (`simulators.recording`) are stored (observations in batches, events one by one; a
pump's `infusion_start`/`infusion_end` opens and closes the infusion record), fed to the rules
engine, and the engine is ticked every virtual second; every alert transition is committed.
Optionally a nurse acknowledges each alert `ack_after_s` after its start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.store import Store
from core.model import Alert, DeviceEvent, EventSource, Observation, Phase
from monitors.engine import Engine
from simulators.recording import DEFAULT_INFUSION_AT, DEFAULT_UNTIL_S, records
from simulators.scenario import Scenario

_SECOND = timedelta(seconds=1)


@dataclass(slots=True)
class ReplayResult:
    records: int = 0
    transitions: list[Alert] = field(default_factory=list)
    last_t: datetime | None = None


async def replay_records(
    store: Store,
    stream: Iterable[Observation | DeviceEvent],
    engine: Engine,
    *,
    ack_after_s: float | None = None,
    ack_by: str = "nurse",
    batch: int = 5000,
) -> ReplayResult:
    """Store and evaluate `stream` (time-ordered) as the pipeline does."""
    result = ReplayResult()
    pending: list[Observation] = []
    next_tick: datetime | None = None
    acks: list[tuple[datetime, str]] = []

    async def flush() -> None:
        if pending:
            await store.add_observations(pending)
            pending.clear()

    async def commit(alerts: list[Alert]) -> None:
        for a in alerts:
            stored = await store.commit_alert(a)
            result.transitions.append(stored)
            if ack_after_s is not None and a.phase is Phase.START:
                acks.append((a.t + timedelta(seconds=ack_after_s), a.id))

    async def advance(to: datetime) -> None:
        nonlocal next_tick
        if next_tick is None:
            next_tick = to.replace(microsecond=0) + _SECOND
        while next_tick <= to:
            await commit(engine.tick(next_tick))
            due = [a for a in acks if a[0] <= next_tick]
            for t, aid in due:
                acks.remove((t, aid))
                await flush()
                await store.acknowledge(aid, by=ack_by, t=t)
                engine.acknowledge(aid, ack_by, t)
            next_tick += _SECOND

    for msg in stream:
        await advance(msg.t)
        result.records += 1
        result.last_t = msg.t
        if isinstance(msg, Observation):
            pending.append(msg)
            if len(pending) >= batch:
                await flush()
        else:
            await flush()
            await store.add_events([msg])
            if msg.source is not EventSource.CLINICIAN:
                if msg.event == "infusion_start":
                    f = msg.fields
                    await store.start_infusion(
                        bed=msg.bed,
                        t=msg.t,
                        weight_kg=_num(f.get("weight_kg")),
                        volume_ml=_num(f.get("volume_ml")),
                        planned_min=_num(f.get("planned_min")),
                        source=msg.device or "device",
                    )
                elif msg.event == "infusion_end":
                    await store.end_infusion(bed=msg.bed, t=msg.t)
        await commit(engine.feed(msg))
    await flush()
    if result.last_t is not None:
        await advance(result.last_t)
        await commit(engine.tick(result.last_t))
    return result


async def replay_scenario(
    store: Store,
    scenario: Scenario,
    engine: Engine,
    *,
    infusion_at: datetime = DEFAULT_INFUSION_AT,
    until_s: float = DEFAULT_UNTIL_S,
    period: float = 1.0,
    ack_after_s: float | None = None,
    ack_by: str = "nurse",
) -> ReplayResult:
    """Render `scenario` (every bed) and replay it into `store`; beds are created first."""
    for bed in scenario.beds:
        await store.upsert_bed(bed.name)
    stream = records(scenario, infusion_at=infusion_at, until_s=until_s, period=period)
    return await replay_records(store, stream, engine, ack_after_s=ack_after_s, ack_by=ack_by)


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
