"""Through the service, across a restart: a pump's infusion start seen at reconnection is
stored with its gap, the restarted engine restores it from the store, and a VT within that gap
of the 6 h window's end says its window edge is uncertain (issue #12, "A pump's own
timestamps")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from one_path import serve

from app.store import Store
from app.store.migrate import upgrade
from core.model import DeviceEvent, Phase

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
BED = "ICU-7"
GAP = 90.0


@pytest.mark.timeout(120)
async def test_the_gap_survives_a_restart_into_the_evidence(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gap.db'}"
    await upgrade(url)
    start = DeviceEvent(
        t=T0,
        bed=BED,
        event="infusion_start",
        fields={
            "weight_kg": 70.0,
            "volume_ml": 100.0,
            "planned_min": 45.0,
            "rate_ml_h": 133.0,
            "seen_at_reconnect": True,
            "gap_s": GAP,
        },
        device="pump-7",
    )
    await serve(url, [start], T0, T0 + timedelta(minutes=1))
    store = await Store.open(url)
    try:
        inf = await store.current_infusion(BED)
    finally:
        await store.close()
    assert inf is not None and inf.started_at == T0
    assert (inf.start_time_source, inf.start_uncertainty_s) == ("seen_at_reconnect", GAP)

    vt_at = T0 + timedelta(hours=6, seconds=-30)  # inside the recorded window, not surely
    vt = DeviceEvent(t=vt_at, bed=BED, event="arrhythmia", fields={"rhythm": "VT"}, device="mon-7")
    served = await serve(url, [vt], vt_at - timedelta(seconds=1), vt_at + timedelta(seconds=5))
    [alert] = [a for a in served if a.rule == "arrhythmia" and a.phase is Phase.START]
    ev = alert.evidence
    assert ev["infusion_start"] == "2026-03-01T08:00:00Z" and ev["in_window"] is True
    assert ev["infusion_start_time_source"] == "seen_at_reconnect"
    assert ev["infusion_start_uncertainty_s"] == GAP and ev["window_edge_uncertain"] is True
