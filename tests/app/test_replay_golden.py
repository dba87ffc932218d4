"""A seeded random recording (`tests.support.random_recording`: 3 h, 3 beds, about 600,000
records reaching most of the engine's branches) replayed as `iaewatch replay` runs it gives
exactly the stored transitions and warnings. A change made for speed must change nothing;
one meant to change results regenerates the file (IAEWATCH_REGEN_GOLDEN=1) and says why in
its commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.commands.replay import replay
from core.model import Alert
from core.records import alert_record
from monitors import build_engine
from tests.support.random_recording import lines

GOLDEN = Path(__file__).parents[1] / "data" / "replay" / "random_3h_3beds.golden.jsonl"


def _replayed() -> list[str]:
    engine = build_engine(escalate_after_s=120)
    out: list[str] = []

    def emit(a: Alert) -> None:
        out.append(json.dumps(alert_record(a), sort_keys=True, ensure_ascii=False))

    replay((line.encode() for line in lines(hours=3, beds=3, seed=19)), engine, emit)
    out.append(json.dumps({"warnings": dict(sorted(engine.warnings.items()))}))
    return out


def test_replay_gives_the_stored_transitions() -> None:
    got = _replayed()
    if os.environ.get("IAEWATCH_REGEN_GOLDEN"):
        GOLDEN.write_text("\n".join(got) + "\n", encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8").splitlines()
    assert len(got) > 40  # the recording does raise alerts
    for i, (g, e) in enumerate(zip(got, expected, strict=False)):
        assert json.loads(g) == json.loads(e), f"line {i + 1} of {GOLDEN.name} differs"
    assert len(got) == len(expected)
