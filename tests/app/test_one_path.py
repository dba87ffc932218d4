"""One recording, two paths, the same alerts: `iaewatch replay` and the service (bus →
pipeline → engine → alert desk → store) give equal alert transitions, order-check alerts
included (the replay runs the trial's engine, as the station does)."""

from __future__ import annotations

from pathlib import Path

import pytest
from one_path import comparable, recording, replay_path, serve

from app.store.migrate import upgrade
from core.records import parse_record


@pytest.mark.timeout(120)
async def test_replay_and_service_give_the_same_transitions(tmp_path: Path) -> None:
    lines = recording()
    replayed = replay_path(lines)
    url = f"sqlite+aiosqlite:///{tmp_path / 'one-path.db'}"
    await upgrade(url)
    msgs = [parse_record(ln) for ln in lines]
    served = await serve(url, msgs, msgs[0].t, msgs[-1].t)
    rules = {a.rule for a in replayed}
    assert {"infusion_programme_off_order", "infusion_paused_long"} <= rules
    assert any(a.category.value == "arrhythmia" for a in replayed)
    assert len(replayed) > 5
    assert comparable(served) == comparable(replayed)
