"""Migration 0011 on a database filled at 0010 (a row per value): every observation comes back
the same, in the same order, through the store; downgrade gives the rows back."""

from __future__ import annotations

import importlib
import random
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from app.store import Store
from app.store.engine import make_engine
from app.store.migrate import alembic_config, upgrade
from core.model import Observation, ValueStatus

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MIGRATION = importlib.import_module("migrations.versions.0011_compact_observations")
OLD = MIGRATION.OLD
"""The 0010 `observations` table, as the migration reads it."""


def old_rows() -> list[Observation]:
    """Frames of several devices, interleaved, some values odd, absent or flagged."""
    rnd = random.Random(11)
    out: list[Observation] = []
    for s in range(300):
        for bed in ("ICU-1", "ICU-2"):
            t = T0 + timedelta(seconds=s, microseconds=rnd.randrange(1_000_000))
            for device, codes in (("mon", ("HR", "SPO2", "ABP")), (None, ("TEMP",))):
                for code in codes:
                    value: float | None = rnd.choice(
                        [float(rnd.randrange(40, 140)), rnd.random() * 100, 0.1, 5e-324, 1e300]
                    )
                    status = rnd.choice([ValueStatus.VALID] * 8 + [ValueStatus.QUESTIONABLE])
                    if rnd.random() < 0.05:
                        value, status = None, ValueStatus.UNAVAILABLE
                    out.append(
                        Observation(
                            t=t,
                            bed=bed,
                            code=code,
                            value=value,
                            unit="u",
                            device=device,
                            status=status,
                        )
                    )
    # the same time from two devices, and a later batch back in time
    out.append(Observation(t=T0, bed="ICU-1", code="HR", value=61.0, unit="/min", device="x"))
    return out


async def fill_at_0010(url: str, rows: list[Observation]) -> None:
    assert await upgrade(url, "0010") == ("0010",)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                OLD.insert(),
                [
                    {
                        "t": o.t,
                        "bed": o.bed,
                        "code": o.code,
                        "value": o.value,
                        "unit": o.unit,
                        "device": o.device,
                        "status": o.status.value,
                    }
                    for o in rows
                ],
            )
    finally:
        await engine.dispose()


def expected(rows: list[Observation], bed: str) -> list[Observation]:
    """What the store read before 0011: by time, then as inserted."""
    return sorted((o for o in rows if o.bed == bed), key=lambda o: o.t)


async def test_every_observation_survives_the_upgrade(empty_url: str) -> None:
    rows = old_rows()
    await fill_at_0010(empty_url, rows)
    await upgrade(empty_url)
    store = await Store.open(empty_url)
    try:
        for bed in ("ICU-1", "ICU-2"):
            back = await store.observations(bed, limit=10**6)
            assert back == expected(rows, bed)
            assert [repr(o.value) for o in back] == [repr(o.value) for o in expected(rows, bed)]
        latest = await store.latest_values("ICU-1")
        assert latest["HR"] == expected(rows, "ICU-1")[-4]  # the last monitor frame's HR
        # new frames go on after the moved ones
        later = Observation(t=T0 + timedelta(hours=1), bed="ICU-1", code="HR", value=1.5, unit="u")
        await store.add_observations([later])
        assert (await store.observations("ICU-1", ["HR"], since=later.t)) == [later]
    finally:
        await store.close()


async def test_downgrade_gives_the_rows_back(empty_url: str) -> None:
    rows = old_rows()
    await fill_at_0010(empty_url, rows)
    await upgrade(empty_url, "0011")
    engine = make_engine(empty_url)

    def down(conn: Connection) -> None:
        cfg = alembic_config(empty_url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")

    try:
        async with engine.connect() as conn:
            await conn.run_sync(down)
            await conn.commit()
        async with engine.connect() as conn:
            got = (await conn.execute(sa.select(OLD).order_by(OLD.c.id))).mappings().all()
    finally:
        await engine.dispose()
    back = [MIGRATION.old_observation(r) for r in got]
    assert back == sorted(rows, key=lambda o: o.t)
