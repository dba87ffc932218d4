"""An infusion start's certainty (the pump's own time, or seen at reconnection with the gap)
is kept by the store and handed on by the REST infusion shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.infusions import start_infusion
from app.live.views import infusion_dict
from app.schemas import InfusionOut
from app.store import Store
from core.model import DeviceEvent, EventSource

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ORDER = {"weight_kg": 70.0, "volume_ml": 100.0, "planned_min": 45.0}


def _start(bed: str, **fields: Any) -> DeviceEvent:
    return DeviceEvent(
        t=T0,
        bed=bed,
        event="infusion_start",
        fields={**ORDER, **fields},
        device="pump-1",
        source=EventSource.DEVICE,
    )


@pytest.mark.parametrize(
    ("fields", "source", "uncertainty"),
    [
        ({"seen_at_reconnect": True, "gap_s": 31.5}, "seen_at_reconnect", 31.5),
        ({"time_source": "pump"}, "pump", None),
        ({}, None, None),
    ],
)
async def test_the_start_certainty_round_trips(
    store: Store, fields: dict[str, Any], source: str | None, uncertainty: float | None
) -> None:
    row = await start_infusion(store, _start("ICU-1", **fields))
    assert (row.start_time_source, row.start_uncertainty_s) == (source, uncertainty)
    assert await store.current_infusion("ICU-1") == row  # read back from the database
    [listed] = await store.infusions(bed="ICU-1")
    assert (listed.start_time_source, listed.start_uncertainty_s) == (source, uncertainty)
    shown = infusion_dict(row, {}, T0 + timedelta(minutes=5))
    assert (shown["start_time_source"], shown["start_uncertainty_s"]) == (source, uncertainty)
    out = InfusionOut.model_validate(shown)
    assert (out.start_time_source, out.start_uncertainty_s) == (source, uncertainty)


async def test_a_repeated_start_keeps_the_first_certainty(store: Store) -> None:
    first = await store.start_infusion(
        bed="ICU-2",
        t=T0,
        weight_kg=70,
        volume_ml=100,
        planned_min=45,
        source="pump-1",
        start_uncertainty_s=12.0,
        start_time_source="seen_at_reconnect",
    )
    again = await store.start_infusion(
        bed="ICU-2",
        t=T0 + timedelta(seconds=30),
        weight_kg=None,
        volume_ml=None,
        planned_min=None,
        source="clinician",
    )
    assert again.id == first.id
    assert (again.start_time_source, again.start_uncertainty_s) == ("seen_at_reconnect", 12.0)
