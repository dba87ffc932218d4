"""The station's interpreter settings: a short GIL switch interval and a frozen heap, for the
app's lifetime only."""

from __future__ import annotations

import gc
import sys
from types import SimpleNamespace
from typing import Any

from app.runtime_tuning import SWITCH_INTERVAL_S, runtime_tuning_service
from core.clock import VirtualClock


async def test_settings_hold_while_the_app_runs_and_are_undone_after() -> None:
    before = sys.getswitchinterval()
    gc.unfreeze()
    kept = [[i] for i in range(1000)]  # long-lived containers, as the engine's windows are
    ctx: Any = SimpleNamespace(clock=VirtualClock())
    async with runtime_tuning_service(ctx):
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
        assert gc.get_freeze_count() >= len(kept)
    assert sys.getswitchinterval() == before
    assert gc.get_freeze_count() == 0


async def test_the_heap_is_frozen_again_once_the_beds_state_is_built() -> None:
    from app.runtime_tuning import FIRST_FREEZE_S

    clock = VirtualClock()
    ctx: Any = SimpleNamespace(clock=clock)
    async with runtime_tuning_service(ctx):
        at_start = gc.get_freeze_count()
        later = [[i] for i in range(5000)]  # what the beds' first reports build
        await clock.advance(FIRST_FREEZE_S + 1)
        assert gc.get_freeze_count() >= at_start + len(later)
