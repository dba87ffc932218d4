"""Retention: full resolution for a day (or a monitoring window plus a day), then per-minute
aggregates (min, median, max), then nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.store import Store
from app.store._retention import RetentionRule
from core.model import Observation, ValueStatus

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SPO2, HR = "MDC_PULS_OXIM_SAT_O2", "MDC_ECG_HEART_RATE"
RULE = RetentionRule(full=timedelta(days=1), aggregates=timedelta(days=30))
START = T0 + timedelta(days=1, hours=12)  # ICU-1's infusion: its window is protected


def minute_data(bed: str) -> list[Observation]:
    """Three days, one sample a minute per code; one busy minute at T0 + 1 h."""
    out = [
        Observation(t=T0 + timedelta(minutes=m), bed=bed, code=code, value=float(m % 50), unit=unit)
        for m in range(3 * 24 * 60)
        for code, unit in ((SPO2, "%"), (HR, "/min"))
    ]
    busy = T0 + timedelta(hours=1)
    out += [
        Observation(t=busy + timedelta(seconds=s), bed=bed, code=SPO2, value=v, unit="%")
        for s, v in ((10, 10.0), (20, 30.0), (30, 20.0))
    ]
    out.append(
        Observation(
            t=busy + timedelta(seconds=40),
            bed=bed,
            code=SPO2,
            value=None,
            unit="%",
            status=ValueStatus.UNAVAILABLE,
        )
    )
    return out


@pytest.fixture
async def filled(store: Store) -> Store:
    for bed in ("ICU-1", "ICU-2"):
        rows = minute_data(bed)
        for i in range(0, len(rows), 2000):
            await store.add_observations(rows[i : i + 2000])
    await store.start_infusion(
        bed="ICU-1", t=START, weight_kg=70, volume_ml=100, planned_min=45, source="clinician"
    )
    return store


async def test_old_data_folds_into_minutes_outside_a_live_window(filled: Store) -> None:
    now = T0 + timedelta(days=3)
    result = await filled.prune(now, RULE)

    # ICU-2 (no infusion): full resolution only for the last day
    icu2 = await filled.observations("ICU-2", [SPO2, HR], limit=1_000_000)
    assert min(o.t for o in icu2) == T0 + timedelta(days=2)
    # ICU-1: its window (from the 24 h look-back before the start) is still at full resolution
    icu1 = await filled.observations("ICU-1", [SPO2, HR], limit=1_000_000)
    assert min(o.t for o in icu1) == START - timedelta(hours=24)
    assert len(icu1) == 2 * (3 * 24 * 60 - 12 * 60)

    minutes = await filled.minute_aggregates("ICU-2", SPO2, T0, now)
    assert len(minutes) == 2 * 24 * 60
    busy = next(m for m in minutes if m.minute == T0 + timedelta(hours=1))
    # the minute's own sample (60 % 50 = 10) and the busy ones: 10, 10, 30, 20 and a gap
    assert (busy.samples, busy.n) == (5, 4)
    assert (busy.min, busy.median, busy.max) == (10.0, 15.0, 30.0)
    assert len(await filled.minute_aggregates("ICU-1", HR, T0, now)) == 12 * 60
    assert result.folded_rows == 2 * (2 * 24 * 60) + 4 + 2 * (12 * 60) + 4
    assert result.minutes_written == 2 * (2 * 24 * 60) + 2 * (12 * 60)

    again = await filled.prune(now, RULE)  # nothing left to fold
    assert (again.folded_rows, again.minutes_written, again.minutes_deleted) == (0, 0, 0)


async def test_everything_goes_once_its_times_have_run_out(filled: Store) -> None:
    await filled.prune(T0 + timedelta(days=3), RULE)
    later = T0 + timedelta(days=40)
    result = await filled.prune(later, RULE)
    assert result.minutes_deleted > 0
    for bed in ("ICU-1", "ICU-2"):
        assert await filled.observations(bed, [SPO2, HR]) == []
        assert await filled.minute_aggregates(bed, SPO2, T0, later) == []


def test_a_rule_that_would_starve_a_restart_is_refused() -> None:
    with pytest.raises(ValueError, match="at least a day"):
        RetentionRule(full=timedelta(hours=6), aggregates=timedelta(days=30))
    with pytest.raises(ValueError, match="whole minutes"):
        RetentionRule(
            full=timedelta(days=1), aggregates=timedelta(days=2), chunk=timedelta(seconds=90)
        )
