"""A restarted service continues the episodes it interrupted (issue #12, in process).

The recording of `test_one_path` is served in two runs of the service on one SQLite database,
the second started from nothing but the store (a fresh engine, restored at pipeline start).
The transitions the two runs commit equal those of one uninterrupted replay: same ids, same
phases, the infusion start in the evidence; nothing raised twice. The real service under
`kill -9` is `tests/test_restart_kill.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from one_path import Msg, comparable, recording, replay_path, serve

from app.store.migrate import upgrade
from core.model import Phase
from core.records import parse_record


def split(lines: list[str], cut: datetime) -> tuple[list[Msg], list[Msg]]:
    msgs = [parse_record(ln) for ln in lines]
    return [m for m in msgs if m.t <= cut], [m for m in msgs if m.t > cut]


CUT = datetime(2026, 3, 1, 8, 11, tzinfo=UTC)  # VTs open at two beds, a pause alert open


@pytest.mark.timeout(120)
@pytest.mark.parametrize("cut", [CUT, datetime(2026, 3, 1, 8, 13, 30, tzinfo=UTC)])
async def test_a_restarted_service_gives_the_uninterrupted_transitions(
    tmp_path: Path, cut: datetime
) -> None:
    lines = recording()
    replayed = replay_path(lines)
    url = f"sqlite+aiosqlite:///{tmp_path / 'restart.db'}"
    await upgrade(url)
    before, after = split(lines, cut)
    served = await serve(url, before, before[0].t, cut)
    served += await serve(url, after, cut, after[-1].t)
    assert comparable(served) == comparable(replayed)
    assert sum(1 for a in served if a.phase is Phase.START and a.rule == "baseline_missing") == 1
    vt = [a for a in served if a.rule == "arrhythmia" and a.bed == "ICU-3"]
    assert [a.phase.value for a in vt][-1] == "end" and len({a.id for a in vt}) == 1
    assert vt[-1].iae is True and vt[-1].evidence["infusion_start"] == "2026-03-01T08:00:00Z"


@pytest.mark.timeout(120)
async def test_an_acknowledged_alert_stays_acknowledged_across_a_restart(tmp_path: Path) -> None:
    lines = recording()
    url = f"sqlite+aiosqlite:///{tmp_path / 'restart.db'}"
    await upgrade(url)
    before, after = split(lines, CUT)
    first = await serve(url, before, before[0].t, CUT, ack_rule="arrhythmia")
    acked = {a.id for a in first if a.phase is Phase.ACK}
    assert len(acked) == 2  # both beds' VTs
    second = await serve(url, after, CUT, after[-1].t)
    vts = [a for a in second if a.rule == "arrhythmia"]
    assert {a.id for a in vts} == acked
    assert [a.phase.value for a in vts] == ["end", "end"]  # not escalated: acknowledged
    assert all(a.acked_by == "nurse" for a in vts)
