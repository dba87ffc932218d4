"""Two service instances on one PostgreSQL database: each tells its listeners (the hub, the
rules engine) every alert transition, its own and the other's, once and in seq order, and an
acknowledgement made on one reaches the other's engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pgschema import pg_schema_or_skip

from app.alert_desk import AlertDesk
from app.store import Store
from core.model import Alert, AlertState, Category, Phase, Priority

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
pytestmark = pytest.mark.postgres


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with pg_schema_or_skip(migrated=True) as url:
        yield url


def alert(i: int, bed: str) -> Alert:
    return Alert(
        id=f"a-{bed}-{i}",
        bed=bed,
        category=Category.HYPOXEMIA,
        rule="hypoxemia_spo2",
        priority=Priority.HIGH,
        phase=Phase.START,
        state=AlertState.ACTIVE,
        onset=T0 + timedelta(seconds=i),
        t=T0 + timedelta(seconds=i),
        message=f"SpO2 low ({i})",
        evidence={},
        iae=False,
    )


class Instance:
    """One service instance's desk over its own store, with its listeners' records."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.desk = AlertDesk(store)
        self.published: list[int] = []
        self.acked: list[str] = []

        async def published(a: Alert) -> None:
            assert a.seq is not None
            self.published.append(a.seq)

        async def acked(a: Alert) -> None:
            self.acked.append(a.id)

        self.desk.on_published(published)
        self.desk.on_acknowledged(acked)

    async def follow(self, stop: asyncio.Event) -> None:
        wake = asyncio.Event()
        async with self.store.alert_notifications(wake.set) as listening:
            assert listening
            while not stop.is_set():
                await self.desk.catch_up()
                try:
                    async with asyncio.timeout(0.2):
                        await wake.wait()
                except TimeoutError:
                    pass
                wake.clear()


async def test_each_instance_tells_every_transition_once_in_order(url: str) -> None:
    stores = [await Store.open(url), await Store.open(url)]
    a, b = Instance(stores[0]), Instance(stores[1])
    for i in (a, b):
        await i.desk.start()
    stop = asyncio.Event()
    followers = [asyncio.create_task(i.follow(stop)) for i in (a, b)]
    try:
        # both commit at once, interleaved, as two pipelines would
        await asyncio.gather(
            *(a.desk.commit(alert(n, "ICU-1")) for n in range(20)),
            *(b.desk.commit(alert(n, "ICU-2")) for n in range(20)),
        )
        await b.desk.acknowledge("a-ICU-1-3", by="nurse-b", t=T0 + timedelta(minutes=1))
        await a.desk.acknowledge("a-ICU-2-5", by="nurse-a", t=T0 + timedelta(minutes=1))
        newest = await stores[0].max_seq()
        async with asyncio.timeout(10):  # a bound on a hung test, not a verdict
            while (a.published or [0])[-1] < newest or (b.published or [0])[-1] < newest:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*followers)
        for s in stores:
            await s.close()
    everything = list(range(1, newest + 1))
    assert a.published == everything
    assert b.published == everything
    # each engine heard both acknowledgements, the other instance's included
    assert sorted(a.acked) == sorted(b.acked) == ["a-ICU-1-3", "a-ICU-2-5"]
