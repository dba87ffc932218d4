"""A pump's repeated `infusion_start`: the store's record and the rules engine agree (both
keep the first start), also for an engine restored from the store after a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.infusions import record_device_infusion
from app.pipeline import load_snapshot
from app.store import Store
from core.model import DeviceEvent
from monitors import build_engine

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
WINDOW_H = 24.0


def pump(event: str, hours: float) -> DeviceEvent:
    fields = (
        {"weight_kg": 70, "volume_ml": 100, "planned_min": 45} if event == "infusion_start" else {}
    )
    return DeviceEvent(
        t=T0 + timedelta(hours=hours), bed="ICU-1", event=event, fields=fields, device="pump-1"
    )


@pytest.mark.parametrize(
    ("events", "second_h"),
    [
        ([("infusion_start", 0.0), ("infusion_end", 1.0)], 2.0),  # ended, inside the window
        ([("infusion_start", 0.0)], 30.0),  # still running (no end), past the window
    ],
)
async def test_a_repeated_start_is_kept_out_of_both(
    store: Store, events: list[tuple[str, float]], second_h: float, caplog: pytest.LogCaptureFixture
) -> None:
    await store.upsert_bed("ICU-1")
    engine = build_engine()
    for name, h in events:
        ev = pump(name, h)
        assert await record_device_infusion(store, ev, monitoring_window_h=WINDOW_H)
        engine.feed(ev)
    again = pump("infusion_start", second_h)
    # a fresh engine restored from the store must take the same decision
    restored = build_engine()
    restored.restore(await load_snapshot(store, restored, again.t))
    assert not await record_device_infusion(store, again, monitoring_window_h=WINDOW_H)
    (said,) = [r.getMessage() for r in caplog.records if r.name == "app.infusions"]
    assert "not recorded, and the rules engine ignores it too" in said
    for e in (engine, restored):
        e.feed(again)
        (bed,) = e.beds()
        assert bed.infusion_start == T0
        assert e.warnings["infusion_start_repeated:ICU-1"] == 1
    current = await store.current_infusion("ICU-1")
    assert current is not None and current.started_at == T0
    assert len(await store.infusions(bed="ICU-1")) == 1


async def test_after_the_window_a_new_infusion_is_recorded_by_both(store: Store) -> None:
    await store.upsert_bed("ICU-1")
    engine = build_engine()
    for ev in (pump("infusion_start", 0), pump("infusion_end", 1), pump("infusion_start", 25)):
        assert await record_device_infusion(store, ev, monitoring_window_h=WINDOW_H)
        engine.feed(ev)
    (bed,) = engine.beds()
    assert bed.infusion_start == T0 + timedelta(hours=25)
    current = await store.current_infusion("ICU-1")
    assert current is not None and current.started_at == bed.infusion_start
