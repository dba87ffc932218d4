"""Run a simulator scenario into a store as the service's pipeline would, under virtual time:
for the sample report in docs/, demonstrations, and the report's end-to-end tests.

Records (`simulators.recording`) are stored (observations in batches, events one by one; a
pump's `infusion_start`/`infusion_end` opens and closes the infusion record, as in the
pipeline), fed to the engine through the service's `monitors.Stepper`; every alert transition
is committed.
Optionally a nurse acknowledges each alert `ack_after_s` after its start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.infusions import record_device_infusion
from app.store import Store
from core.model import Alert, DeviceEvent, Observation, Phase
from monitors import Stepper, TrialEngine
from simulators.recording import DEFAULT_INFUSION_AT, DEFAULT_UNTIL_S, records
from simulators.scenario import Scenario


@dataclass(slots=True)
class ReplayResult:
    records: int = 0
    transitions: list[Alert] = field(default_factory=list)
    last_t: datetime | None = None


async def replay_records(
    store: Store,
    stream: Iterable[Observation | DeviceEvent],
    engine: TrialEngine,
    *,
    ack_after_s: float | None = None,
    ack_by: str = "nurse",
    batch: int = 5000,
) -> ReplayResult:
    """Store and evaluate `stream` (time-ordered) as the pipeline does: the same stepper
    drives the engine, the same `record_device_infusion` records a pump's infusion."""
    result = ReplayResult()
    stepper = Stepper(engine)
    pending: list[Observation] = []
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

    async def acknowledge_due(now: datetime) -> None:
        for t, aid in sorted(a for a in acks if a[0] <= now):
            acks.remove((t, aid))
            await flush()
            await store.acknowledge(aid, by=ack_by, t=t)
            engine.acknowledge(aid, ack_by, t)

    for msg in stream:
        await acknowledge_due(msg.t)
        result.records += 1
        result.last_t = msg.t
        if isinstance(msg, Observation):
            pending.append(msg)
            if len(pending) >= batch:
                await flush()
        else:
            await flush()
            await store.add_events([msg])
            await record_device_infusion(store, msg)
        await commit(stepper.feed(msg))
    await flush()
    if result.last_t is not None:
        await acknowledge_due(result.last_t)
        await commit(stepper.advance(result.last_t))
    return result


async def replay_scenario(
    store: Store,
    scenario: Scenario,
    engine: TrialEngine,
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
